//! TLS for the signer API: a rustls server configuration from PEM files (`--tls-cert`,
//! `--tls-key`). The accept loop in [`super::listen`] performs the handshakes.
//!
//! Must never: fall back to plain HTTP when TLS was asked for, or print key material in an
//! error (errors name the file, never its content).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why [`server_config`] could not build a TLS configuration from `--tls-cert` and `--tls-key`.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file could not be opened, or one of its PEM sections could not be parsed.
    #[error("cannot read the TLS certificate chain {path}: {reason}")]
    Certificate {
        /// The certificate file (`--tls-cert`).
        path: PathBuf,
        /// The I/O or PEM parsing error.
        reason: String,
    },
    /// The certificate file was read but contains no `CERTIFICATE` section (a key or an empty
    /// file given as `--tls-cert`, for instance).
    #[error("{path} holds no PEM certificate")]
    NoCertificate {
        /// The certificate file (`--tls-cert`).
        path: PathBuf,
    },
    /// The key file could not be opened or holds no PEM private key (PKCS#8, PKCS#1 or SEC1).
    #[error("cannot read the TLS private key {path}: {reason}")]
    Key {
        /// The private key file (`--tls-key`).
        path: PathBuf,
        /// The I/O or PEM parsing error.
        reason: String,
    },
    /// rustls refused the pair: typically the key does not match the certificate, or its
    /// algorithm is not supported. Holds rustls's error message.
    #[error("the TLS certificate and key do not make a usable configuration: {0}")]
    Config(String),
}

/// Builds the server configuration (HTTP/1.1 and HTTP/2 via ALPN).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsError::Certificate {
            path: cert.to_path_buf(),
            reason: e.to_string(),
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Certificate {
            path: cert.to_path_buf(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_path_buf(),
        });
    }
    if let Some(mode) = readable_by_others(key) {
        tracing::warn!(
            path = %key.display(),
            mode = format!("{mode:o}"),
            "the TLS private key is readable by every user on this machine: run `chmod o-r` on it"
        );
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.to_path_buf(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The file's permission bits when users other than its owner and group may read it.
pub fn readable_by_others(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & 0o004 != 0).then_some(mode)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_key_readable_by_others_is_noticed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = dir.path().join("key.pem");
        std::fs::write(&key, "x").expect("write");
        for (mode, noticed) in [
            (0o644, Some(0o644)),
            (0o640, None),
            (0o600, None),
            (0o604, Some(0o604)),
        ] {
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).expect("chmod");
            assert_eq!(super::readable_by_others(&key), noticed, "{mode:o}");
        }
    }
}
