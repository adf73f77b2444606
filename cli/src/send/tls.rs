//! TLS for `herald send https://…`: rustls with ring (the stack the server
//! uses), trusting the Mozilla root certificates bundled by `webpki-roots`
//! plus, with `--cacert FILE`, the certificates of a private CA (a PEM
//! file). The server's name, or its IP address, must match its
//! certificate. Built only with the `tls` feature (on by default); without
//! it an `https://` URL is refused with a message.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

/// A connection `herald send` can talk HTTP over: plain TCP or TLS.
pub trait Conn: Read + Write {}

impl<T: Read + Write> Conn for T {}

/// The client side of TLS, built once per `herald send`.
#[derive(Debug, Clone)]
pub struct Tls {
    #[cfg(feature = "tls")]
    config: std::sync::Arc<rustls::ClientConfig>,
}

impl Tls {
    /// Trust the bundled roots and, when given, every certificate in the
    /// PEM file `cacert`.
    #[cfg(feature = "tls")]
    pub fn new(cacert: Option<&Path>) -> Result<Tls, String> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        if let Some(file) = cacert {
            let shown = file.display();
            let certs = CertificateDer::pem_file_iter(file)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot read the CA certificates in {shown}: {e}; pass a PEM file (`-----BEGIN CERTIFICATE-----`)"))?;
            if certs.is_empty() {
                return Err(format!("{shown} holds no certificate; pass a PEM file with `-----BEGIN CERTIFICATE-----` blocks"));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| format!("{shown}: not a usable CA certificate: {e}"))?;
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Tls { config: std::sync::Arc::new(config) })
    }

    /// Without the `tls` feature: only `--cacert` is refused here; an
    /// `https://` URL is refused by [`Tls::wrap`].
    #[cfg(not(feature = "tls"))]
    pub fn new(cacert: Option<&Path>) -> Result<Tls, String> {
        match cacert {
            Some(_) => Err(NO_TLS.to_string()),
            None => Ok(Tls {}),
        }
    }

    /// Start TLS on `tcp` to `host` (a name or an IP address the
    /// certificate must name), finishing the handshake under the socket's
    /// timeouts before anything is sent.
    #[cfg(feature = "tls")]
    pub fn wrap(&self, host: &str, mut tcp: TcpStream) -> Result<Box<dyn Conn>, String> {
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|e| format!("`{host}` cannot be checked against a certificate: {e}"))?;
        let mut conn = rustls::ClientConnection::new(self.config.clone(), name).map_err(|e| format!("cannot start TLS: {e}"))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).map_err(|e| format!("{e}{}", hint(&e)))?;
        }
        Ok(Box::new(rustls::StreamOwned::new(conn, tcp)))
    }

    /// Without the `tls` feature there is no TLS.
    #[cfg(not(feature = "tls"))]
    pub fn wrap(&self, _host: &str, _tcp: TcpStream) -> Result<Box<dyn Conn>, String> {
        Err(NO_TLS.to_string())
    }
}

#[cfg(not(feature = "tls"))]
const NO_TLS: &str =
    "this `herald` was built without TLS (the `tls` feature of herald-codegen); rebuild it with that feature, or use an http:// URL";

/// What to do about a failed TLS exchange, to append to its message: a
/// certificate issued for another name, or one the client does not trust
/// (usually a private CA).
pub(super) fn hint(e: &std::io::Error) -> &'static str {
    #[cfg(feature = "tls")]
    {
        use rustls::{CertificateError, Error};
        match e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
            Some(Error::InvalidCertificate(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. })) => {
                return " — the server's certificate does not name this host; use the host name or address it was issued for in `--url`";
            }
            Some(Error::InvalidCertificate(_)) => {
                return " — if the server's certificate comes from a private CA, pass that CA's PEM file with `--cacert FILE` (or HERALD_CACERT)";
            }
            _ => {}
        }
    }
    let _ = e;
    ""
}

#[cfg(all(test, feature = "tls"))]
mod tests {
    use std::io::{Error, ErrorKind};

    use rustls::{CertificateError, Error as TlsError};

    use super::hint;

    #[test]
    fn hints_name_the_fix_for_each_certificate_failure() {
        let tls = |e: CertificateError| hint(&Error::new(ErrorKind::InvalidData, TlsError::InvalidCertificate(e)));
        assert!(tls(CertificateError::UnknownIssuer).contains("--cacert FILE"));
        assert!(tls(CertificateError::NotValidForName).contains("does not name this host"));
        let context = CertificateError::NotValidForNameContext {
            expected: rustls::pki_types::ServerName::try_from("example.com").unwrap().to_owned(),
            presented: vec!["127.0.0.1".into()],
        };
        assert!(tls(context).contains("does not name this host"));
        assert_eq!(hint(&Error::from(ErrorKind::ConnectionReset)), "");
    }
}
