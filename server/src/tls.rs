//! Optional TLS (`--tls-cert`, `--tls-key`): rustls with the ring
//! provider, the one the MongoDB driver already brings in.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::Config;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("TLS: {0}")]
pub struct TlsError(String);

/// The acceptor for `config`'s `--tls-cert` and `--tls-key`, or `None`
/// when TLS is not configured.
pub fn acceptor(config: &Config) -> Result<Option<TlsAcceptor>, TlsError> {
    match (&config.tls_cert, &config.tls_key) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => load(cert, key).map(Some),
        // clap's `requires` stops this first; kept for callers that build a Config by hand.
        _ => Err(TlsError("--tls-cert and --tls-key go together; give both, or neither".to_owned())),
    }
}

fn load(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(cert).and_then(|certs| certs.collect::<Result<_, _>>()).map_err(|e| {
            TlsError(format!(
                "cannot read certificates from --tls-cert {}: {e}; give a PEM file (leaf first, then intermediates)",
                cert.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(TlsError(format!("--tls-cert {} holds no PEM certificate", cert.display())));
    }
    // Never quote the key file's contents.
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        TlsError(format!("cannot read a private key from --tls-key {}: {e}; give a PEM file (PKCS#8, PKCS#1 or SEC1)", key.display()))
    })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| TlsError(format!("--tls-cert and --tls-key do not make a usable pair: {e}")))?;
    // HTTP/1.1 only, like the plain listener.
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server)))
}
