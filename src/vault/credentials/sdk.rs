//! Builds the real `azure_identity` credentials from an injected environment.
//!
//! Owns: passing tenant, client id, secret, token file and authority host explicitly (never
//! letting the SDK read them behind our back where it offers a choice), a bounded retry policy
//! for token requests, and the guard that keeps the SDK's managed-identity credential from
//! silently falling back to the VM metadata endpoint. Must never log the client secret.

use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};

use super::chain::CredentialFactory;
use super::{CredentialEnv, CredentialKind};
use crate::vault::cause::error_chain;

/// The real factory. `client_options` carries the transport (e.g. with an extra trusted CA).
#[derive(Clone, Default)]
pub struct SdkFactory {
    /// The base options of every credential's token requests (transport with the extra CA,
    /// retry); AZURE_AUTHORITY_HOST, when set, is added to them at each build.
    pub client_options: ClientOptions,
}

impl SdkFactory {
    /// A factory over `client_options`, with their retry replaced by a short bounded one
    /// (3 retries, 5 s in all) so that a dead token endpoint cannot hang a command.
    pub fn new(mut client_options: ClientOptions) -> Self {
        // Token requests happen outside the signing path (they are cached), but a dead token
        // endpoint must still not hang a command for a minute.
        client_options.retry = RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: azure_core::time::Duration::milliseconds(200),
            max_retries: 3,
            max_total_elapsed: azure_core::time::Duration::seconds(5),
            max_delay: azure_core::time::Duration::seconds(1),
        });
        SdkFactory { client_options }
    }

    fn options_for(&self, env: &CredentialEnv) -> ClientOptions {
        let mut options = self.client_options.clone();
        if let Some(host) = env.var("AZURE_AUTHORITY_HOST") {
            let mut custom = CustomConfiguration::default();
            custom.authority_host = host.to_owned();
            options.cloud = Some(Arc::new(CloudConfiguration::Custom(custom)));
        }
        options
    }
}

fn need<'a>(env: &'a CredentialEnv, name: &str) -> Result<&'a str, String> {
    env.var(name).ok_or_else(|| format!("{name} not set"))
}

impl CredentialFactory for SdkFactory {
    fn build(
        &self,
        kind: CredentialKind,
        env: &CredentialEnv,
    ) -> Result<Arc<dyn TokenCredential>, String> {
        let user_assigned = env
            .var("AZURE_CLIENT_ID")
            .map(|id| UserAssignedId::ClientId(id.to_owned()));
        let built: azure_core::Result<Arc<dyn TokenCredential>> = match kind {
            CredentialKind::ClientSecret => ClientSecretCredential::new(
                need(env, "AZURE_TENANT_ID")?,
                need(env, "AZURE_CLIENT_ID")?.to_owned(),
                Secret::new(need(env, "AZURE_CLIENT_SECRET")?.to_owned()),
                Some(ClientSecretCredentialOptions {
                    client_options: self.options_for(env),
                }),
            )
            .map(|c| c as Arc<dyn TokenCredential>),
            CredentialKind::WorkloadIdentity => {
                WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                    credential_options: ClientAssertionCredentialOptions {
                        client_options: self.options_for(env),
                    },
                    client_id: Some(need(env, "AZURE_CLIENT_ID")?.to_owned()),
                    tenant_id: Some(need(env, "AZURE_TENANT_ID")?.to_owned()),
                    token_file_path: Some(need(env, "AZURE_FEDERATED_TOKEN_FILE")?.into()),
                }))
                .map(|c| c as Arc<dyn TokenCredential>)
            }
            CredentialKind::AppServiceManagedIdentity => {
                // The SDK reads IDENTITY_ENDPOINT from the process environment and falls back to
                // the VM metadata endpoint when it is missing: refuse unless the process agrees
                // with the environment we decided from.
                let endpoint = need(env, "IDENTITY_ENDPOINT")?;
                if std::env::var("IDENTITY_ENDPOINT").ok().as_deref() != Some(endpoint)
                    || std::env::var_os("IDENTITY_HEADER").is_none()
                {
                    return Err("IDENTITY_ENDPOINT/IDENTITY_HEADER are not set in this process's environment".to_owned());
                }
                ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                    user_assigned_id: user_assigned,
                    client_options: self.client_options.clone(),
                }))
                .map(|c| c as Arc<dyn TokenCredential>)
            }
            CredentialKind::VmManagedIdentity => {
                if std::env::var_os("IDENTITY_ENDPOINT").is_some() {
                    return Err(
                        "IDENTITY_ENDPOINT is set: use the App Service managed identity".to_owned(),
                    );
                }
                ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                    user_assigned_id: user_assigned,
                    client_options: self.client_options.clone(),
                }))
                .map(|c| c as Arc<dyn TokenCredential>)
            }
            CredentialKind::AzureCli => {
                AzureCliCredential::new(Some(AzureCliCredentialOptions::default()))
                    .map(|c| c as Arc<dyn TokenCredential>)
            }
        };
        built.map_err(|e| error_chain(&e))
    }
}
