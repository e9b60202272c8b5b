use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};

use super::*;

/// A DMI file in a temp dir: `Some(tag)` writes it, `None` leaves it missing.
fn env_with(vars: &[(&str, &str)], tag: Option<&str>) -> (CredentialEnv, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chassis_asset_tag");
    if let Some(tag) = tag {
        std::fs::write(&path, format!("{tag}\n")).unwrap();
    }
    (CredentialEnv::new(vars.iter().copied(), &path), dir)
}

fn kinds(plan: &[Candidate]) -> Vec<(CredentialKind, bool)> {
    plan.iter()
        .map(|c| (c.kind, c.unavailable.is_none()))
        .collect()
}

const SECRET: [(&str, &str); 3] = [
    ("AZURE_TENANT_ID", "t"),
    ("AZURE_CLIENT_ID", "c"),
    ("AZURE_CLIENT_SECRET", "s"),
];

#[test]
fn auto_order_and_availability() {
    use CredentialKind::*;
    let mut all: Vec<(&str, &str)> = SECRET.to_vec();
    all.push(("AZURE_FEDERATED_TOKEN_FILE", "/tok"));
    all.push(("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi"));
    all.push(("IDENTITY_HEADER", "h"));
    let (env, _d) = env_with(&all, Some(AZURE_VM_ASSET_TAG));
    assert_eq!(
        kinds(&plan(AuthMode::Auto, &env)),
        vec![
            (ClientSecret, true),
            (WorkloadIdentity, true),
            (AppServiceManagedIdentity, true),
            (VmManagedIdentity, true),
            (AzureCli, false), // no PATH in this environment
        ]
    );

    let (env, _d) = env_with(&[], None);
    let p = plan(AuthMode::Auto, &env);
    assert!(p.iter().all(|c| c.unavailable.is_some()));
    assert_eq!(
        p[0].unavailable.as_deref(),
        Some("AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET not set")
    );
    assert!(
        p[3].unavailable
            .as_deref()
            .unwrap()
            .contains("not an Azure VM")
    );
}

#[test]
fn partial_client_secret_names_what_is_missing() {
    let (env, _d) = env_with(
        &[("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_SECRET", "  ")],
        None,
    );
    let p = plan(AuthMode::ClientSecret, &env);
    assert_eq!(
        p[0].unavailable.as_deref(),
        Some("AZURE_CLIENT_ID, AZURE_CLIENT_SECRET not set")
    );
}

#[test]
fn vm_identity_only_on_azure_vm_or_when_chosen() {
    use CredentialKind::*;
    let (not_vm, _d1) = env_with(&[], Some("some-other-tag"));
    let (vm, _d2) = env_with(&[], Some(AZURE_VM_ASSET_TAG));
    let (missing, _d3) = env_with(&[], None);
    assert!(!not_vm.is_azure_vm() && vm.is_azure_vm() && !missing.is_azure_vm());
    assert!(plan(AuthMode::Auto, &not_vm)[3].unavailable.is_some());
    assert!(plan(AuthMode::Auto, &missing)[3].unavailable.is_some());
    assert!(plan(AuthMode::Auto, &vm)[3].unavailable.is_none());
    // Chosen explicitly: used even without the tag.
    assert_eq!(
        kinds(&plan(AuthMode::ManagedIdentity, &not_vm)),
        vec![(VmManagedIdentity, true)]
    );
    // Explicit managed identity prefers App Service when configured.
    let (app, _d4) = env_with(
        &[
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/"),
            ("IDENTITY_HEADER", "h"),
        ],
        None,
    );
    assert_eq!(
        kinds(&plan(AuthMode::ManagedIdentity, &app)),
        vec![(AppServiceManagedIdentity, true)]
    );
}

#[test]
fn azure_cli_found_on_injected_path() {
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::tempdir().unwrap();
    let az = bin.path().join("az");
    std::fs::write(&az, "#!/bin/sh\nexit 1\n").unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("/nonexistent:{}", bin.path().display());
    let (env, _d) = env_with(&[("PATH", &path)], None);
    assert_eq!(
        kinds(&plan(AuthMode::AzureCli, &env)),
        vec![(CredentialKind::AzureCli, true)]
    );
    // Not executable: not found.
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(!env.az_on_path());
}

#[test]
fn explicit_modes_select_one_credential() {
    use CredentialKind::*;
    let (env, _d) = env_with(&SECRET, None);
    for (mode, want) in [
        (AuthMode::ClientSecret, ClientSecret),
        (AuthMode::WorkloadIdentity, WorkloadIdentity),
        (AuthMode::AzureCli, AzureCli),
    ] {
        let p = plan(mode, &env);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].kind, want);
    }
}

// --- the chain, with fake credentials -------------------------------------------------------

#[derive(Debug)]
struct Fake {
    ok: bool,
    calls: Arc<AtomicU32>,
}

#[async_trait]
impl TokenCredential for Fake {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.ok {
            Ok(AccessToken::new(
                "token",
                azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
            ))
        } else {
            Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Credential,
                "refused by the fake",
            ))
        }
    }
}

#[derive(Clone)]
struct FakeFactory {
    working: Vec<CredentialKind>,
    calls: Arc<AtomicU32>,
}

impl CredentialFactory for FakeFactory {
    fn build(
        &self,
        kind: CredentialKind,
        _env: &CredentialEnv,
    ) -> Result<Arc<dyn TokenCredential>, String> {
        Ok(Arc::new(Fake {
            ok: self.working.contains(&kind),
            calls: self.calls.clone(),
        }))
    }
}

fn all_configured() -> (CredentialEnv, tempfile::TempDir) {
    let mut all: Vec<(&str, &str)> = SECRET.to_vec();
    all.push(("AZURE_FEDERATED_TOKEN_FILE", "/tok"));
    env_with(&all, None)
}

#[tokio::test]
async fn chain_falls_through_and_sticks_to_the_first_that_works() {
    let (env, _d) = all_configured();
    let calls = Arc::new(AtomicU32::new(0));
    let factory = FakeFactory {
        working: vec![CredentialKind::WorkloadIdentity],
        calls: calls.clone(),
    };
    let chain = ChainCredential::new(&plan(AuthMode::Auto, &env), &env, &factory);
    assert!(chain.any_available());
    assert_eq!(chain.chosen(), None);
    chain.get_token(&["scope"], None).await.unwrap();
    assert_eq!(chain.chosen(), Some(CredentialKind::WorkloadIdentity));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "client secret failed, then workload identity"
    );
    chain.get_token(&["scope"], None).await.unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the chosen one is asked directly"
    );
}

#[tokio::test]
async fn chain_error_lists_every_credential_with_its_fix() {
    let (env, _d) = all_configured();
    let factory = FakeFactory {
        working: vec![],
        calls: Arc::new(AtomicU32::new(0)),
    };
    let chain = ChainCredential::new(&plan(AuthMode::Auto, &env), &env, &factory);
    let err = chain.get_token(&["scope"], None).await.unwrap_err();
    let text = err.to_string();
    for kind in [
        CredentialKind::ClientSecret,
        CredentialKind::WorkloadIdentity,
        CredentialKind::AppServiceManagedIdentity,
        CredentialKind::VmManagedIdentity,
        CredentialKind::AzureCli,
    ] {
        assert!(
            text.contains(&format!("- {}: ", kind.name())),
            "{kind}: {text}"
        );
        assert!(text.contains(kind.fix()), "{kind}: {text}");
    }
    assert!(text.contains("refused by the fake"));
    assert!(text.contains("IDENTITY_ENDPOINT, IDENTITY_HEADER not set"));
    assert!(text.contains("--auth"));
}

/// Builds credentials that answer `build-N`, N counting every build.
#[derive(Clone)]
struct Numbered {
    builds: Arc<AtomicU32>,
}

#[derive(Debug)]
struct NumberedCred(u32);

#[async_trait]
impl TokenCredential for NumberedCred {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        Ok(AccessToken::new(
            format!("build-{}", self.0),
            azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
        ))
    }
}

impl CredentialFactory for Numbered {
    fn build(
        &self,
        _kind: CredentialKind,
        _env: &CredentialEnv,
    ) -> Result<Arc<dyn TokenCredential>, String> {
        let n = self.builds.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Arc::new(NumberedCred(n)))
    }
}

#[tokio::test]
async fn reset_rebuilds_the_chosen_credential_once_per_rejection() {
    let (env, _d) = env_with(&SECRET, None);
    let builds = Arc::new(AtomicU32::new(0));
    let factory = Numbered {
        builds: builds.clone(),
    };
    let chain = ChainCredential::new(&plan(AuthMode::ClientSecret, &env), &env, &factory);
    assert_eq!(builds.load(Ordering::SeqCst), 1);
    chain.reset(Instant::now());
    assert_eq!(
        builds.load(Ordering::SeqCst),
        1,
        "no credential answered yet: nothing to forget"
    );
    let token = chain.get_token(&["s"], None).await.unwrap();
    assert_eq!(token.token.secret(), "build-1");
    let seen_at = Instant::now();
    chain.reset(seen_at);
    assert_eq!(builds.load(Ordering::SeqCst), 2);
    let token = chain.get_token(&["s"], None).await.unwrap();
    assert_eq!(
        token.token.secret(),
        "build-2",
        "the new instance answers (its token cache is empty)"
    );
    assert_eq!(chain.chosen(), Some(CredentialKind::ClientSecret));
    // The same rejection again: the credential was rebuilt after it was seen.
    chain.reset(seen_at);
    assert_eq!(builds.load(Ordering::SeqCst), 2);
}

#[test]
fn nothing_configured_is_known_before_any_request() {
    let (env, _d) = env_with(&[], None);
    let factory = FakeFactory {
        working: vec![],
        calls: Arc::new(AtomicU32::new(0)),
    };
    let chain = ChainCredential::new(&plan(AuthMode::Auto, &env), &env, &factory);
    assert!(!chain.any_available());
    assert_eq!(chain.unavailable_error().attempts.len(), 5);
}

#[test]
fn sdk_factory_never_builds_app_service_identity_the_process_does_not_have() {
    // The injected environment claims App Service; this test process has no IDENTITY_ENDPOINT
    // (tests never set it), so the SDK would fall back to the VM endpoint: refused.
    if std::env::var_os("IDENTITY_ENDPOINT").is_some() {
        return;
    }
    let (env, _d) = env_with(
        &[
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:9/msi"),
            ("IDENTITY_HEADER", "h"),
        ],
        None,
    );
    let err = SdkFactory::new(Default::default())
        .build(CredentialKind::AppServiceManagedIdentity, &env)
        .unwrap_err();
    assert!(err.contains("not set in this process"), "{err}");
}

#[test]
fn sdk_factory_builds_client_secret_with_injected_authority() {
    let mut vars: Vec<(&str, &str)> = SECRET.to_vec();
    vars.push(("AZURE_AUTHORITY_HOST", "https://localhost:1"));
    let (env, _d) = env_with(&vars, None);
    assert!(
        SdkFactory::new(Default::default())
            .build(CredentialKind::ClientSecret, &env)
            .is_ok()
    );
    let (bad, _d) = env_with(
        &[
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
            ("AZURE_AUTHORITY_HOST", "http://localhost:1"),
        ],
        None,
    );
    let err = SdkFactory::new(Default::default())
        .build(CredentialKind::ClientSecret, &bad)
        .unwrap_err();
    assert!(err.contains("HTTPS"), "{err}");
}

#[test]
fn debug_never_shows_values() {
    let (env, _d) = env_with(&SECRET, None);
    let shown = format!("{env:?}");
    assert!(shown.contains("AZURE_CLIENT_SECRET"));
    assert!(!shown.contains("\"s\""), "{shown}");
}
