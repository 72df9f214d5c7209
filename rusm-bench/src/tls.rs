//! TLS for the `tls-*` scenarios: one self-signed `localhost` certificate made at start
//! (rcgen, ECDSA P-256), the server configuration both targets serve it with, and the
//! client's, which trusts it and never resumes a session, so every connection is a full
//! handshake.

use std::sync::{Arc, OnceLock};

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

/// The server and client sides, made once per process.
#[derive(Clone)]
pub struct TlsPair {
    /// What both echo servers run with (no session tickets: clients never resume).
    pub server: Arc<rustls::ServerConfig>,
    /// What the load generator connects with.
    pub client: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for TlsPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsPair").finish_non_exhaustive()
    }
}

/// The certificate's name, the one clients ask for.
pub fn server_name() -> ServerName<'static> {
    ServerName::try_from("localhost").expect("a valid DNS name")
}

/// The pair, made on first use.
///
/// # Panics
///
/// If rcgen or rustls refuse what they made themselves (a bug, not an input).
pub fn pair() -> &'static TlsPair {
    static PAIR: OnceLock<TlsPair> = OnceLock::new();
    PAIR.get_or_init(|| {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
            .expect("rcgen makes a self-signed certificate");
        let cert = made.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .expect("the key matches the certificate");
        server.send_tls13_tickets = 0;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).expect("the certificate parses");
        let mut client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.resumption = rustls::client::Resumption::disabled();
        TlsPair {
            server: Arc::new(server),
            client: tokio_rustls::TlsConnector::from(Arc::new(client)),
        }
    })
}
