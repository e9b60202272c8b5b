//! `import` and `verify --vault-key(s)` end to end: the real binary and the real Azure SDK
//! against the emulator over TLS, keys made by the openssl command line. Loopback only.

use std::path::PathBuf;

use crate::vault_common::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::json;
use tezos_azure_signer::keyfile::{FixedPassphrase, KeyMaterial, read_key_file};

/// Every secret-key format `verify --key` reads, each from a fresh key on `curve`.
fn keys_of_every_format(s: &Scratch, curve: &str) -> Vec<PathBuf> {
    let d = s.path();
    let p = |n: &str| format!("{curve}-{n}");
    let mut out = vec![genkey(d, curve, &p("sec1-params"))];
    let noout = format!("{}.pem", p("sec1"));
    openssl(
        d,
        &[
            "ecparam", "-name", curve, "-genkey", "-noout", "-out", &noout,
        ],
    );
    out.push(d.join(noout));
    for (name, args) in [
        ("pkcs8", vec!["pkcs8", "-topk8", "-nocrypt"]),
        (
            "pkcs8-enc",
            vec!["pkcs8", "-topk8", "-passout", "file:pass"],
        ),
        ("legacy-enc", vec!["ec", "-aes256", "-passout", "file:pass"]),
        ("der", vec!["ec", "-outform", "DER"]),
    ] {
        let base = genkey(d, curve, &p(&format!("{name}-base")));
        let file = format!("{}.{}", p(name), if name == "der" { "der" } else { "pem" });
        let mut a = args.clone();
        a.extend(["-in", base.to_str().unwrap(), "-out", &file]);
        openssl(d, &a);
        out.push(d.join(file));
    }
    // JWK with d and a Tezos base58 secret key, written from fresh openssl keys.
    for kind in ["jwk", "b58"] {
        let base = genkey(d, curve, &p(&format!("{kind}-base")));
        let KeyMaterial::Secret(sk) = read_key_file(&base, &FixedPassphrase::new(b"")).unwrap()
        else {
            panic!("secret expected")
        };
        let file = if kind == "jwk" {
            let (x, y) = sk.public_key().coordinates().unwrap();
            let crv = if curve == "secp256k1" {
                "P-256K"
            } else {
                "P-256"
            };
            let jwk = json!({"kty": "EC", "crv": crv, "x": B64.encode(x), "y": B64.encode(y),
                             "d": B64.encode(*sk.to_scalar_bytes())});
            s.write(&format!("{}.jwk", p(kind)), &jwk.to_string())
        } else {
            s.write(
                &format!("{}.txt", p(kind)),
                &format!("{}\n", *sk.to_base58()),
            )
        };
        out.push(file);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_every_format_and_reads_each_key_back() {
    let emu = emulator().await;
    let s = Scratch::new();
    s.write("pass", &format!("{PASS}\n"));
    let mut files = keys_of_every_format(&s, "secp256k1");
    files.extend(keys_of_every_format(&s, "prime256v1"));
    let mut args = vec!["import", "--json", "--passphrase-file", "pass"];
    for f in &files {
        args.extend(["--key", f.to_str().unwrap()]);
    }
    let out = run(bin(&s, &mi_env(&emu), &args)).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = stdout_json(&out);
    let keys = report["keys"].as_array().unwrap();
    assert_eq!(keys.len(), files.len());
    for file in &files {
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(
            !stderr(&out).contains(name),
            "--json prints no progress lines: {}",
            stderr(&out)
        );
    }
    for (file, key) in files.iter().zip(keys) {
        let want = pkh_of(file);
        assert_eq!(key["status"], "imported", "{file:?}: {key}");
        assert_eq!(key["pkh"], want.as_str(), "{file:?}");
        assert_eq!(key["name"], want.as_str(), "the default name is the pkh");
        assert!(
            key["key_id"]
                .as_str()
                .unwrap()
                .contains(&format!("/keys/{want}/"))
        );
        assert_eq!(key["hsm"], true);
    }
    // Secrets never reach the output.
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(!all.contains("spsk") && !all.contains("p2sk") && !all.contains("\"d\""));
    assert_eq!(emu.key_count(), files.len());
    assert_eq!(
        emu.stats().import as usize,
        files.len(),
        "one upload per key"
    );

    // verify --vault-key checks a key's pkh (0) and reports a mismatch (1).
    let tz2 = pkh_of(&files[0]);
    let tz3 = pkh_of(files.last().unwrap());
    let ok = run(bin(
        &s,
        &mi_env(&emu),
        &["verify", "--vault-key", &tz2, "--pkh", &tz2],
    ))
    .await;
    assert_eq!(code(&ok), 0, "{}", stderr(&ok));
    let bad = run(bin(
        &s,
        &mi_env(&emu),
        &["verify", "--vault-key", &tz2, "--pkh", &tz3],
    ))
    .await;
    assert_eq!(code(&bad), 1);
    assert!(stderr(&bad).contains("hashes to"), "{}", stderr(&bad));
    let missing = run(bin(&s, &mi_env(&emu), &["verify", "--vault-key", "nope"])).await;
    assert_eq!(code(&missing), 3);
    assert!(
        stderr(&missing).contains("not found"),
        "{}",
        stderr(&missing)
    );

    // verify --vault-keys lists them all with curve and pkh.
    let list = run(bin(
        &s,
        &mi_env(&emu),
        &["verify", "--vault-keys", "--json"],
    ))
    .await;
    assert_eq!(code(&list), 0, "{}", stderr(&list));
    let listed = stdout_json(&list);
    let listed = listed["keys"].as_array().unwrap();
    assert_eq!(listed.len(), files.len());
    let tz2_row = listed.iter().find(|k| k["name"] == tz2.as_str()).unwrap();
    assert_eq!(tz2_row["vault_curve"], "P-256K");
    assert_eq!(tz2_row["algorithm"], "ES256K");
    assert_eq!(tz2_row["state"], "enabled");
    let text = run(bin(&s, &mi_env(&emu), &["verify", "--vault-keys"])).await;
    assert_eq!(code(&text), 0);
    assert!(String::from_utf8_lossy(&text.stdout).contains(&tz3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_collisions_force_and_dry_run() {
    let emu = emulator().await;
    let s = Scratch::new();
    let k1 = genkey(s.path(), "secp256k1", "a");
    let k2 = genkey(s.path(), "prime256v1", "b");
    let env = mi_env(&emu);
    let k1s = k1.to_str().unwrap();
    let k2s = k2.to_str().unwrap();

    // Dry run against the vault: nothing uploaded.
    let out = run(bin(
        &s,
        &env,
        &["import", "--dry-run", "--json", "--key", k1s],
    ))
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["keys"][0]["status"], "dry-run");
    assert_eq!(stdout_json(&out)["keys"][0]["exists"], false);
    assert_eq!(emu.stats().import, 0);
    assert_eq!(emu.key_count(), 0);

    let out = run(bin(
        &s,
        &env,
        &["import", "--key", k1s, "--name", "baker", "--software"],
    ))
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("imported") && table.contains("baker"),
        "{table}"
    );

    // The same name again: refused, exit 3, nothing uploaded.
    let out = run(bin(&s, &env, &["import", "--key", k2s, "--name", "baker"])).await;
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("already exists") && stderr(&out).contains("--force"));
    assert_eq!(emu.stats().import, 1);
    // A dry run says so too.
    let out = run(bin(
        &s,
        &env,
        &["import", "--dry-run", "--key", k2s, "--name", "baker"],
    ))
    .await;
    assert_eq!(code(&out), 3);
    // --force adds a new version holding the new key.
    let out = run(bin(
        &s,
        &env,
        &[
            "import", "--json", "--force", "--key", k2s, "--name", "baker",
        ],
    ))
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["keys"][0]["pkh"], pkh_of(&k2).as_str());
    let v = run(bin(
        &s,
        &env,
        &["verify", "--vault-key", "baker", "--pkh", &pkh_of(&k2)],
    ))
    .await;
    assert_eq!(code(&v), 0, "{}", stderr(&v));

    // --name with several keys is a usage error; an invalid name too.
    let out = run(bin(
        &s,
        &env,
        &["import", "--key", k1s, "--key", k2s, "--name", "x"],
    ))
    .await;
    assert_eq!(code(&out), 2);
    let out = run(bin(
        &s,
        &env,
        &["import", "--key", k1s, "--name", "no_underscores"],
    ))
    .await;
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("letters, digits and dashes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_fail_alone_with_their_reason_and_exit_3() {
    let emu = emulator().await;
    let s = Scratch::new();
    s.write("pass", &format!("{PASS}\n"));
    s.write("wrong", "not the passphrase\n");
    let good = genkey(s.path(), "secp256k1", "good");
    genkey(s.path(), "secp384r1", "p384");
    s.write(
        "corrupt.pem",
        "-----BEGIN EC PRIVATE KEY-----\nAAAA!!!!\n-----END EC PRIVATE KEY-----\n",
    );
    let base = genkey(s.path(), "prime256v1", "encbase");
    openssl(
        s.path(),
        &[
            "pkcs8",
            "-topk8",
            "-passout",
            "file:pass",
            "-in",
            base.to_str().unwrap(),
            "-out",
            "enc.pem",
        ],
    );
    openssl(
        s.path(),
        &[
            "ec",
            "-in",
            base.to_str().unwrap(),
            "-pubout",
            "-out",
            "pub.pem",
        ],
    );

    let args = [
        "import",
        "--json",
        "--passphrase-file",
        "wrong",
        "--key",
        "p384.pem",
        "--key",
        "corrupt.pem",
        "--key",
        "enc.pem",
        "--key",
        "pub.pem",
        "--key",
        "missing.pem",
        "--key",
        good.to_str().unwrap(),
    ];
    let out = run(bin(&s, &mi_env(&emu), &args)).await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let report = stdout_json(&out);
    assert_eq!(report["ok"], false);
    let keys = report["keys"].as_array().unwrap();
    let expect = [
        ("p384.pem", "unsupported curve"),
        ("corrupt.pem", ""),
        ("enc.pem", "wrong passphrase"),
        ("pub.pem", "only a public key"),
        ("missing.pem", "cannot read key file"),
    ];
    for (key, (file, msg)) in keys.iter().zip(expect) {
        assert_eq!(key["file"], file);
        assert_eq!(key["status"], "failed", "{key}");
        assert!(
            key["error"].as_str().unwrap().contains(msg),
            "{file}: {key}"
        );
    }
    assert_eq!(
        keys[5]["status"], "imported",
        "the good key is imported anyway"
    );
    assert_eq!(emu.key_count(), 1);

    // Text mode: one line per failure on stderr, the summary table on stdout.
    let out = run(bin(
        &s,
        &mi_env(&emu),
        &["import", "--key", "p384.pem", "--key", "corrupt.pem"],
    ))
    .await;
    assert_eq!(code(&out), 3);
    let err = stderr(&out);
    assert!(
        err.contains("FAILED p384.pem") && err.contains("FAILED corrupt.pem"),
        "{err}"
    );
    assert!(err.contains("2 of 2 keys failed"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("STATUS"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_follows_paging_past_25_keys() {
    use tezos_azure_signer::tezos::{Curve, SecretKey};
    use tezos_azure_signer::vault::{ImportOptions, Vault};
    let emu = emulator().await;
    let s = Scratch::new();
    let vault = vault(&emu, &s, 3000);
    let mut want = Vec::new();
    for i in 0..31u8 {
        let curve = if i % 2 == 0 {
            Curve::Secp256k1
        } else {
            Curve::P256
        };
        let sk = SecretKey::from_scalar(curve, &[i + 1; 32]).unwrap();
        let name = format!("k{i:02}");
        let key = vault
            .import_key(&name, &sk, ImportOptions::default())
            .await
            .unwrap();
        assert_eq!(key.pkh(), sk.public_key().pkh());
        want.push((name, sk.public_key().pkh()));
    }
    let before = emu.stats().list;
    let listed = vault.list_keys().await.unwrap();
    assert!(
        emu.stats().list - before >= 2,
        "more than one page was fetched"
    );
    let got: Vec<_> = listed.iter().map(|k| (k.name.clone(), k.pkh())).collect();
    assert_eq!(got, want);
    // Paged as the service sometimes pages: an empty page with a nextLink before each page,
    // and an empty last page after the last full one. The SDK's pager follows them all.
    emu.set_faults(keyvault_emulator::Faults {
        empty_pages: true,
        ..keyvault_emulator::Faults::default()
    });
    let before = emu.stats().list;
    let listed = vault.list_keys().await.unwrap();
    assert_eq!(
        emu.stats().list - before,
        5,
        "empty, 25 keys, empty, 6 keys, empty"
    );
    let got: Vec<_> = listed.iter().map(|k| (k.name.clone(), k.pkh())).collect();
    assert_eq!(got, want);
    // Every second page throttled (no wait asked): the listing resumes from the page that
    // was refused instead of starting over (which, here, would never get past page 2).
    emu.set_faults(keyvault_emulator::Faults {
        throttle_list_every: Some(2),
        retry_after_secs: 0,
        ..keyvault_emulator::Faults::default()
    });
    let (before, throttled) = (emu.stats().list, emu.stats().throttled);
    let listed = vault.list_keys().await.unwrap();
    assert_eq!(
        emu.stats().list - before,
        2,
        "page 1, then page 2 once it passed"
    );
    assert!(emu.stats().throttled > throttled);
    let got: Vec<_> = listed.iter().map(|k| (k.name.clone(), k.pkh())).collect();
    assert_eq!(got, want);
    emu.set_faults(keyvault_emulator::Faults::default());
    // The binary sees the same 31 keys.
    let out = run(bin(
        &s,
        &mi_env(&emu),
        &["verify", "--vault-keys", "--json"],
    ))
    .await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["keys"].as_array().unwrap().len(), 31);
}

/// A Standard-tier vault refuses HSM-protected keys with the service's message; `import`
/// says what to do (a Premium vault, or --software), and --software imports the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standard_vault_refuses_hsm_keys_and_import_says_what_to_do() {
    let emu = emulator_as(keyvault_emulator::EmulatorConfig {
        standard_tier: true,
        ..keyvault_emulator::EmulatorConfig::default()
    })
    .await;
    let s = Scratch::new();
    let key = genkey(s.path(), "secp256k1", "baker");
    let key = key.to_str().unwrap();
    let env = mi_env(&emu);
    let out = run(bin(&s, &env, &["import", "--key", key])).await;
    assert_ne!(code(&out), 0);
    let err = stderr(&out) + &String::from_utf8_lossy(&out.stdout);
    assert!(
        err.contains("Hardware key operation not allowed on standard vault")
            && err.contains("use a Premium vault (or a Managed HSM), or import with --software"),
        "{err}"
    );
    assert_eq!(emu.key_count(), 0);
    let out = run(bin(&s, &env, &["import", "--software", "--key", key])).await;
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(emu.key_count(), 1);
}
