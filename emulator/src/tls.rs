//! TLS for the emulator: a private CA and a leaf certificate for `localhost`, `127.0.0.1`, `::1`
//! (and `*.vault.azure.net` / `*.managedhsm.azure.net` for clients that resolve a vault host to
//! loopback), generated with rcgen and kept in the state directory so a trusted `SSL_CERT_FILE`
//! stays valid across restarts. The leaf is never a CA certificate (rustls refuses that).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// File names inside the state directory.
pub const CA_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca-key.pem";
const LEAF_FILE: &str = "leaf.pem";
const LEAF_KEY_FILE: &str = "leaf-key.pem";

/// Names the leaf certificate is valid for.
pub const LEAF_NAMES: [&str; 5] = [
    "localhost",
    "127.0.0.1",
    "::1",
    "*.vault.azure.net",
    "*.managedhsm.azure.net",
];

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot access {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{path} does not hold a usable PEM {what}")]
    BadPem { path: PathBuf, what: &'static str },
    #[error("TLS configuration refused the certificate: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The CA (PEM, and where it is written) and the server configuration using the leaf.
#[derive(Clone)]
pub struct TlsMaterial {
    pub ca_pem: String,
    pub ca_path: PathBuf,
    pub server_config: Arc<rustls::ServerConfig>,
}

/// Loads the CA and leaf from `dir`, or generates and writes them when any file is missing.
pub fn load_or_create(dir: &Path) -> Result<TlsMaterial, TlsError> {
    let files = [CA_FILE, CA_KEY_FILE, LEAF_FILE, LEAF_KEY_FILE].map(|f| dir.join(f));
    let (ca_pem, leaf_pem, leaf_key_pem) = if files.iter().all(|f| f.exists()) {
        (read(&files[0])?, read(&files[2])?, read(&files[3])?)
    } else {
        let generated = generate()?;
        write(&files[1], &generated.ca_key_pem, true)?;
        write(&files[2], &generated.leaf_pem, false)?;
        write(&files[3], &generated.leaf_key_pem, true)?;
        // The CA last: its presence marks a complete set.
        write(&files[0], &generated.ca_pem, false)?;
        (generated.ca_pem, generated.leaf_pem, generated.leaf_key_pem)
    };
    let leaf =
        CertificateDer::from_pem_slice(leaf_pem.as_bytes()).map_err(|_| TlsError::BadPem {
            path: files[2].clone(),
            what: "certificate",
        })?;
    let key =
        PrivateKeyDer::from_pem_slice(leaf_key_pem.as_bytes()).map_err(|_| TlsError::BadPem {
            path: files[3].clone(),
            what: "private key",
        })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![leaf], key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        ca_pem,
        ca_path: files[0].clone(),
        server_config: Arc::new(config),
    })
}

struct Generated {
    ca_pem: String,
    ca_key_pem: String,
    leaf_pem: String,
    leaf_key_pem: String,
}

fn generate() -> Result<Generated, rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.distinguished_name.push(
        DnType::CommonName,
        "tezos-azure-signer Key Vault emulator CA",
    );
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, &ca_key);

    let leaf_key = KeyPair::generate()?;
    let mut leaf_params =
        CertificateParams::new(LEAF_NAMES.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    let leaf = leaf_params.signed_by(&leaf_key, &issuer)?;
    Ok(Generated {
        ca_pem: ca_cert.pem(),
        ca_key_pem: ca_key.serialize_pem(),
        leaf_pem: leaf.pem(),
        leaf_key_pem: leaf_key.serialize_pem(),
    })
}

fn read(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes a file durably (see [`private_fs::write_durably`]); private keys get mode
/// 0600, certificates 0644.
fn write(path: &Path, contents: &str, private: bool) -> Result<(), TlsError> {
    let io = |source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Err(io(std::io::Error::other("not a file path")));
    };
    let mode = if private { 0o600 } else { 0o644 };
    private_fs::write_durably(dir, name, contents.as_bytes(), mode).map_err(|e| io(e.source))
}
