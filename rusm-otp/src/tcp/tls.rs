//! [`TlsConfig`]: a listener's TLS (rustls) — a certificate chain and key from PEM files, or a
//! whole [`rustls::ServerConfig`] — and the handshake a connection process runs with it.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// A listener's TLS settings: where its certificate comes from, and the ALPN protocols it
/// offers. Set it with [`ListenerConfig::tls`](crate::ListenerConfig::tls).
///
/// PEM files are read when the listener starts (and again at each restart of a listener
/// that is a supervisor's child, so a renewed certificate is picked up there): a missing or
/// unreadable file fails the start with an error naming it. The handshake itself runs in
/// each connection's process, under the listener's
/// [handshake timeout](crate::ListenerConfig::handshake_timeout).
///
/// Uses rustls' *ring* provider with its safe default protocol versions (TLS 1.2 and 1.3)
/// and no client authentication; give a [`ServerConfig`] of your own
/// ([`from_server_config`](Self::from_server_config)) for anything else.
///
/// # Examples
///
/// ```
/// use rusm_otp::{ListenerConfig, TlsConfig};
///
/// let config = ListenerConfig::new("0.0.0.0:8443").tls(
///     TlsConfig::pem_files("/etc/app/cert.pem", "/etc/app/key.pem").alpn(["h2", "http/1.1"]),
/// );
/// assert!(config.get_tls().is_some());
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    source: Source,
    alpn: Vec<Vec<u8>>,
}

#[derive(Clone)]
enum Source {
    Pem { cert: PathBuf, key: PathBuf },
    Config(Arc<ServerConfig>),
}

impl TlsConfig {
    /// A certificate chain (PEM, end entity first) and its private key (PEM: PKCS#8, PKCS#1 or
    /// SEC1), read when the listener starts.
    pub fn pem_files(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        TlsConfig {
            source: Source::Pem {
                cert: cert.into(),
                key: key.into(),
            },
            alpn: Vec::new(),
        }
    }

    /// A complete rustls configuration, for full control (client certificates, a resolver
    /// choosing a certificate by SNI, session tickets, other cipher suites). Its
    /// `alpn_protocols` are used unless [`alpn`](Self::alpn) replaces them.
    pub fn from_server_config(config: Arc<ServerConfig>) -> Self {
        TlsConfig {
            source: Source::Config(config),
            alpn: Vec::new(),
        }
    }

    /// The ALPN protocols to offer, most preferred first (`"h2"`, `"http/1.1"`); a client
    /// that offers some but none of these fails the handshake, as RFC 7301 asks. Handlers see
    /// the result in [`TcpStream::alpn_protocol`](crate::TcpStream::alpn_protocol).
    pub fn alpn<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: AsRef<[u8]>,
    {
        self.alpn = protocols.into_iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// The rustls configuration the listener runs with: the files read, or the given one
    /// with the ALPN protocols set.
    ///
    /// # Errors
    ///
    /// `NotFound` for a missing file, `InvalidData` for one without a PEM certificate or key,
    /// or a key that does not match the certificate; each message names the file.
    pub fn server_config(&self) -> io::Result<Arc<ServerConfig>> {
        let mut config = match &self.source {
            Source::Config(c) if self.alpn.is_empty() => return Ok(c.clone()),
            Source::Config(c) => (**c).clone(),
            Source::Pem { cert, key } => from_pem_files(cert, key)?,
        };
        if !self.alpn.is_empty() {
            config.alpn_protocols = self.alpn.clone();
        }
        Ok(Arc::new(config))
    }

    /// The PEM files, when the certificate comes from files.
    pub fn files(&self) -> Option<(&Path, &Path)> {
        match &self.source {
            Source::Pem { cert, key } => Some((cert, key)),
            Source::Config(_) => None,
        }
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TlsConfig");
        match &self.source {
            Source::Pem { cert, key } => d.field("cert", cert).field("key", key),
            Source::Config(_) => d.field("server_config", &".."),
        };
        let alpn: Vec<_> = self
            .alpn
            .iter()
            .map(|p| String::from_utf8_lossy(p))
            .collect();
        d.field("alpn", &alpn).finish()
    }
}

fn file_error(what: &str, path: &Path, e: impl fmt::Display, kind: io::ErrorKind) -> io::Error {
    io::Error::new(kind, format!("tls {what} file `{}`: {e}", path.display()))
}

/// Reads `path`, failing with an error that names it (and says "not found" when it is).
fn read(what: &str, path: &Path) -> io::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        let msg = match e.kind() {
            io::ErrorKind::NotFound => "not found".to_string(),
            _ => e.to_string(),
        };
        file_error(what, path, msg, e.kind())
    })
}

fn from_pem_files(cert: &Path, key: &Path) -> io::Result<ServerConfig> {
    let invalid = io::ErrorKind::InvalidData;
    let cert_pem = read("certificate", cert)?;
    let key_pem = read("key", key)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error("certificate", cert, e, invalid))?;
    if chain.is_empty() {
        return Err(file_error(
            "certificate",
            cert,
            "no PEM CERTIFICATE in it",
            invalid,
        ));
    }
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        file_error(
            "key",
            key,
            format!("no PEM private key in it ({e})"),
            invalid,
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| {
            io::Error::new(
                invalid,
                format!(
                    "tls certificate `{}` and key `{}` do not work together: {e}",
                    cert.display(),
                    key.display()
                ),
            )
        })
}
