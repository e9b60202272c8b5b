//! The baker setup guide (docs/setup.md) and its scripts (scripts/setup/): the offline steps
//! run for real against the bundled emulator, the `az` steps only as a dry run (a fake `az`
//! on PATH fails the test if anything would be run), and every setup error the binary prints
//! appears in the guide's troubleshooting table.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::running_binary::RunningBinary;

const BIN: &str = env!("CARGO_BIN_EXE_tezos-azure-signer");
const GUIDE: &str = include_str!("../../docs/setup.md");

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/setup")
        .join(name)
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Generate (both curves) → import → verify against the emulator, as the guide says.
#[test]
fn offline_key_generation_import_and_verify() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pass = dir.path().join("passphrase");
    std::fs::write(&pass, "correct horse battery staple").expect("passphrase");
    let emu = RunningBinary::start(&["--ephemeral"]);
    for (curve, prefix) in [("secp256k1", "tz2"), ("p256", "tz3")] {
        let name = format!("baker-{curve}");
        let out = run(Command::new("bash")
            .arg(script("generate-key.sh"))
            .args(["--out"])
            .arg(dir.path().join("keys"))
            .args([
                "--name",
                &name,
                "--curve",
                curve,
                "--backup-passphrase-file",
            ])
            .arg(&pass)
            .env("TEZOS_AZURE_SIGNER", BIN));
        let text = stdout(&out);
        let pkh = text
            .lines()
            .find_map(|l| l.strip_prefix("pkh:"))
            .expect("a pkh line")
            .trim()
            .to_string();
        assert!(pkh.starts_with(prefix), "{text}");
        let key = dir.path().join(format!("keys/{name}.pem"));
        let backup = dir.path().join(format!("keys/{name}.backup.pem"));
        use std::os::unix::fs::PermissionsExt;
        for f in [&key, &backup] {
            let mode = std::fs::metadata(f).expect("written").permissions().mode();
            assert_eq!(mode & 0o077, 0, "{} is readable by others", f.display());
        }
        let backup_text = std::fs::read_to_string(&backup).expect("backup");
        assert!(
            backup_text.contains("BEGIN ENCRYPTED PRIVATE KEY"),
            "{backup_text}"
        );
        // Never overwrites a key.
        let again = Command::new("bash")
            .arg(script("generate-key.sh"))
            .arg("--out")
            .arg(dir.path().join("keys"))
            .args([
                "--name",
                &name,
                "--curve",
                curve,
                "--backup-passphrase-file",
            ])
            .arg(&pass)
            .env("TEZOS_AZURE_SIGNER", BIN)
            .output()
            .expect("run");
        assert!(!again.status.success());

        let out = run(Command::new("bash")
            .arg(script("import-and-verify.sh"))
            .arg("--key")
            .arg(&key)
            .args(["--name", &name, "--software"])
            .envs(emu.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("TEZOS_AZURE_SIGNER", BIN));
        let text = stdout(&out);
        assert!(text.contains(&format!("imported {name}: {pkh}")), "{text}");
        assert!(text.contains("pkh check:  ok"), "{text}");
    }
    // Without a backup passphrase nothing is generated.
    let refused = Command::new("bash")
        .arg(script("generate-key.sh"))
        .arg("--out")
        .arg(dir.path().join("other"))
        .env("TEZOS_AZURE_SIGNER", BIN)
        .output()
        .expect("run");
    assert_eq!(refused.status.code(), Some(2));
    assert!(!dir.path().join("other/baker.pem").exists());
}

#[test]
fn systemd_install_into_a_root() {
    let root = tempfile::tempdir().expect("temp dir");
    let out = run(Command::new("bash")
        .arg(script("install-systemd.sh"))
        .args([
            "--binary",
            BIN,
            "--vault-url",
            "https://baker-vault.vault.azure.net",
        ])
        .args(["--key", "baker", "--key", "baker-next"])
        .args([
            "--shared-watermarks",
            "https://acct.blob.core.windows.net/marks",
        ])
        .arg("--root")
        .arg(root.path()));
    assert!(stdout(&out).contains("installed under"), "{}", stdout(&out));
    let unit = std::fs::read_to_string(
        root.path()
            .join("etc/systemd/system/tezos-azure-signer.service"),
    )
    .expect("unit");
    assert_eq!(
        unit,
        include_str!("../../scripts/tezos-azure-signer.service")
    );
    let env = std::fs::read_to_string(root.path().join("etc/tezos-azure-signer.env")).expect("env");
    for line in [
        "AZURE_KEYVAULT_URI=https://baker-vault.vault.azure.net",
        "TEZOS_AZURE_SIGNER_KEY=baker,baker-next",
        "TEZOS_AZURE_SIGNER_SHARED_WATERMARKS=https://acct.blob.core.windows.net/marks",
    ] {
        assert!(env.lines().any(|l| l == line), "missing {line:?} in\n{env}");
    }
    assert!(
        root.path()
            .join("usr/local/bin/tezos-azure-signer")
            .exists()
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root.path().join("etc/tezos-azure-signer.env"))
        .expect("env")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    // A second run keeps the edited env file.
    std::fs::write(root.path().join("etc/tezos-azure-signer.env"), "EDITED=1\n").expect("edit");
    run(Command::new("bash")
        .arg(script("install-systemd.sh"))
        .args([
            "--binary",
            BIN,
            "--vault-url",
            "https://baker-vault.vault.azure.net",
        ])
        .arg("--root")
        .arg(root.path()));
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/tezos-azure-signer.env")).expect("env"),
        "EDITED=1\n"
    );
}

/// The `az` steps, printed: a fake `az` on PATH makes the test fail if one is run.
#[test]
fn azure_setup_dry_run_prints_the_commands() {
    let bin = tempfile::tempdir().expect("temp dir");
    let fake = bin.path().join("az");
    std::fs::write(&fake, "#!/bin/sh\necho 'az was run' >&2\nexit 99\n").expect("fake az");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = run(Command::new("bash")
        .arg(script("azure-setup.sh"))
        .args([
            "--resource-group",
            "baker-rg",
            "--location",
            "westeurope",
            "--vault",
            "baker-vault",
        ])
        .args([
            "--vm",
            "baker-vm",
            "--vnet",
            "baker-vnet",
            "--subnet",
            "baker-subnet",
        ])
        .args(["--storage-account", "bakermarks", "--container", "marks"])
        .args(["--importer-object-id", "0000-importer", "--dry-run"])
        .env("PATH", path));
    let text = stdout(&out);
    for want in [
        "az keyvault create --name baker-vault --resource-group baker-rg --location westeurope --sku premium --enable-rbac-authorization true --enable-purge-protection true",
        "--default-action Deny",
        "az vm identity assign --name baker-vm",
        r"--role Key\ Vault\ Crypto\ User --scope \<vault-id\>",
        r"--assignee-object-id 0000-importer --role Key\ Vault\ Crypto\ Officer",
        "--service-endpoints Microsoft.KeyVault Microsoft.Storage",
        "az keyvault network-rule add --name baker-vault",
        "az storage container create --account-name bakermarks --name marks --auth-mode login",
        r"--role Storage\ Blob\ Data\ Contributor --scope \<storage-account-id\>/blobServices/default/containers/marks",
        "# vault: https://baker-vault.vault.azure.net",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(!String::from_utf8_lossy(&out.stderr).contains("az was run"));
    let missing = Command::new("bash")
        .arg(script("azure-setup.sh"))
        .args(["--dry-run"])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(2));
}

/// Runs the binary with `args` in a clean environment (plus `env`); its stderr.
fn error_of(args: &[&str], env: &[(String, String)], data_dir: &Path) -> String {
    let out = Command::new(BIN)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", data_dir)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(args)
        .output()
        .expect("run");
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Disables `name` in the emulator with a managed-identity token, over the REST API (curl).
fn disable_key(emu: &RunningBinary, name: &str) {
    let curl = |args: &[&str]| -> String {
        let out = Command::new("curl")
            .args(["-sS", "--fail-with-body", "--noproxy", "*"])
            .args(args)
            .output()
            .expect("curl (the tests need it)");
        let body = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "curl {args:?}: {body} {:?}",
            out.stderr
        );
        body
    };
    let token: serde_json::Value = serde_json::from_str(&curl(&[
        "-H",
        &format!("X-IDENTITY-HEADER: {}", emu.var("IDENTITY_HEADER")),
        &format!(
            "{}?resource=https://vault.azure.net&api-version=2019-08-01",
            emu.var("IDENTITY_ENDPOINT")
        ),
    ]))
    .expect("token json");
    let token = token["access_token"].as_str().expect("access_token");
    curl(&[
        "--cacert",
        emu.var("SSL_CERT_FILE"),
        "-X",
        "PATCH",
        "-H",
        &format!("Authorization: Bearer {token}"),
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"attributes":{"enabled":false}}"#,
        &format!(
            "{}/keys/{name}?api-version=7.5",
            emu.var("AZURE_KEYVAULT_URI")
        ),
    ]);
}

/// The log of a command that starts (exit status aside) until its stdout prints a line
/// starting with `until`; the process is then killed.
fn startup_log_of(args: &[&str], env: &[(String, String)], until: &str) -> String {
    use std::io::{BufRead, Read};
    let mut child = Command::new(BIN)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let started = stdout
        .lines()
        .map_while(Result::ok)
        .any(|l| l.starts_with(until));
    let _ = child.kill();
    let _ = child.wait();
    let mut log = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .expect("log");
    assert!(started, "{args:?} never printed {until:?}:\n{log}");
    log
}

fn split(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Every setup error, produced for real, is in the guide with its fix.
#[test]
fn every_setup_error_is_in_the_guide() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = |name: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).expect("dir");
        std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .expect("chmod");
        d
    };
    let emu = RunningBinary::start(&["--ephemeral"]);
    let emu_env = emu.env.clone();
    let d = data("plain");
    let serve = |dir: &Path| -> Vec<String> {
        vec![
            "serve".into(),
            "--data-dir".into(),
            dir.to_string_lossy().into_owned(),
            "--metrics-address".into(),
            "off".into(),
        ]
    };
    let mut cases: Vec<(&str, String)> = Vec::new();
    let plain = serve(&d);
    cases.push((
        "no vault URL: pass --vault-url https://NAME.vault.azure.net or set AZURE_KEYVAULT_URI",
        error_of(&split(&plain), &[], &d),
    ));
    let mut with_url = plain.clone();
    with_url.extend([
        "--vault-url".into(),
        "https://baker-vault.vault.azure.net".into(),
    ]);
    cases.push((
        "no Azure credential worked:",
        error_of(&split(&with_url), &[], &d),
    ));
    let mut bad_ca = with_url.clone();
    bad_ca.extend(["--vault-ca".into(), "/nonexistent/ca.pem".into()]);
    cases.push((
        "cannot read the vault CA file",
        error_of(&split(&bad_ca), &[], &d),
    ));
    let open = data("open");
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .expect("chmod");
    cases.push((
        "is writable by every user",
        error_of(&split(&serve(&open)), &emu_env, &open),
    ));
    let odd = data("odd");
    std::fs::write(odd.join("baking_high_watermarks"), "{}").expect("file");
    cases.push((
        "is a watermark file this signer does not understand",
        error_of(&split(&serve(&odd)), &emu_env, &odd),
    ));
    let corrupt = data("corrupt");
    std::fs::write(corrupt.join("block_high_watermarks"), "{not json").expect("file");
    cases.push((
        "cannot parse the watermark file",
        error_of(&split(&serve(&corrupt)), &emu_env, &corrupt),
    ));
    let busy = data("busy");
    let (mut holder, _, _) = crate::running_binary::serve_dev_on(&busy, &[]);
    cases.push((
        "is in use by another process",
        error_of(&split(&serve(&busy)), &emu_env, &busy),
    ));
    let _ = holder.kill();
    let _ = holder.wait();
    let mut http_shared = serve(&d);
    http_shared.extend([
        "--shared-watermarks".into(),
        "http://acct.blob.core.windows.net/marks".into(),
    ]);
    cases.push((
        "plain http is allowed only for a local emulator",
        error_of(&split(&http_shared), &emu_env, &d),
    ));
    let mut bad_container = serve(&d);
    bad_container.extend([
        "--shared-watermarks".into(),
        "https://acct.blob.core.windows.net/Marks".into(),
    ]);
    cases.push((
        "is not a valid container name",
        error_of(&split(&bad_container), &emu_env, &d),
    ));
    cases.push((
        "key baker not found in the vault",
        error_of(&["verify", "--vault-key", "baker"], &emu_env, &d),
    ));
    let unreachable: Vec<(String, String)> = emu_env
        .iter()
        .map(|(k, v)| {
            if k == "AZURE_KEYVAULT_URI" {
                (k.clone(), "https://127.0.0.1:9".to_string())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    cases.push((
        "cannot reach the vault",
        error_of(&["verify", "--vault-keys"], &unreachable, &d),
    ));
    let key = dir.path().join("k.sk");
    std::fs::write(&key, tezos_azure_signer::testing::TZ2_SECRET).expect("key");
    let key_arg = key.to_string_lossy().into_owned();
    cases.push((
        "the key hashes to",
        error_of(
            &[
                "verify",
                "--key",
                &key_arg,
                "--pkh",
                "tz3ZxowXGSjiVq227GQcwKdz87rKhq62rY4t",
            ],
            &[],
            &d,
        ),
    ));
    // A disabled vault key (disabled through the Key Vault REST API, as `az keyvault key
    // set-attributes --enabled false` does).
    let imported = Command::new(BIN)
        .envs(emu_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(["import", "--name", "off", "--software", "--key", &key_arg])
        .output()
        .expect("import");
    assert!(imported.status.success(), "{imported:?}");
    disable_key(&emu, "off");
    cases.push((
        "cannot be used",
        error_of(&["verify", "--vault-key", "off"], &emu_env, &d),
    ));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let mut busy_port = serve(&d);
    busy_port.extend(["--port".into(), port]);
    cases.push((
        "cannot listen on",
        error_of(&split(&busy_port), &emu_env, &d),
    ));
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").expect("file");
    cases.push((
        "cannot create the data directory",
        error_of(&split(&serve(&file.join("data"))), &emu_env, &d),
    ));
    let with = |flag: &str, value: &Path| {
        let mut args = serve(&d);
        args.extend([flag.to_string(), value.to_string_lossy().into_owned()]);
        error_of(&split(&args), &emu_env, &d)
    };
    let missing = dir.path().join("missing");
    cases.push(("cannot read the policy file", with("--policy", &missing)));
    let garbage = dir.path().join("garbage.toml");
    std::fs::write(&garbage, "keys = [").expect("file");
    cases.push(("invalid policy file", with("--policy", &garbage)));
    cases.push((
        "cannot read the authorized keys file",
        with("--authorized-keys", &missing),
    ));
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "").expect("file");
    cases.push((
        "the authorized keys file lists no key",
        with("--authorized-keys", &empty),
    ));
    cases.push((
        "no keys loaded from the vault",
        startup_log_of(&split(&serve(&data("empty-vault"))), &emu_env, "listening"),
    ));
    drop(taken);
    for (fragment, stderr) in &cases {
        assert!(
            stderr.contains(fragment),
            "the binary no longer says {fragment:?}:\n{stderr}"
        );
        assert!(
            GUIDE.contains(fragment),
            "docs/setup.md lacks the error {fragment:?}"
        );
    }
}
