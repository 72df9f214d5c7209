//! The PROXY protocol, versions 1 (text) and 2 (binary), as HAProxy specifies it
//! (<https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt>): the header a load balancer
//! sends first on each connection to say whom the connection is really from.
//!
//! [`read_header`] reads exactly the header's bytes and no more, so what follows it (a TLS
//! ClientHello, the application's first bytes) stays in the socket for the next reader; it
//! never waits for more bytes than a well-formed header needs, so a peer that sends a header
//! and then waits for the server is served at once.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The v2 signature: `\r\n\r\n\0\r\nQUIT\n`.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The v1 prefix.
const V1_PREFIX: &[u8] = b"PROXY ";
/// The shortest v1 header, `PROXY UNKNOWN\r\n`, is 15 bytes: reading that many never waits
/// for bytes past a header of either version (v2's fixed part is 16).
const MIN_HEADER: usize = 15;
/// The longest v1 header, CRLF included (the specification's 107).
const V1_MAX: usize = 107;

/// A PROXY protocol header: who the connection is from, as the proxy saw it.
///
/// # Examples
///
/// ```
/// use rusm_otp::{ProxyCommand, TcpStream};
///
/// /// Who a connection is from, for a log line.
/// fn who(stream: &TcpStream) -> String {
///     let client = stream.peer_addr().map(|a| a.to_string()).unwrap_or_default();
///     match (stream.proxy_header(), stream.proxy_addr()) {
///         (Some(h), Some(proxy)) => format!("{client} via {proxy} (PROXY v{})", h.version),
///         (Some(h), None) if h.command == ProxyCommand::Local => format!("{client} (health check)"),
///         _ => client,
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyHeader {
    /// 1 (text) or 2 (binary).
    pub version: u8,
    /// `PROXY` (a relayed connection) or `LOCAL` (the proxy's own, e.g. a health check).
    pub command: ProxyCommand,
    /// The client's address; `None` for `LOCAL`, v1 `UNKNOWN`, and v2 families other than
    /// TCP over IPv4 or IPv6 (then the socket's peer is used).
    pub source: Option<SocketAddr>,
    /// The address the client connected to, on the proxy; `None` when `source` is.
    pub destination: Option<SocketAddr>,
    /// v2's type-length-value extensions, raw (see [`tlvs`](Self::tlvs)); empty for v1.
    pub tlv_bytes: Vec<u8>,
}

/// A PROXY header's command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyCommand {
    /// The proxy relays a client's connection; the header's addresses are the client's.
    Proxy,
    /// The proxy's own connection (health checks): use the socket's addresses.
    Local,
}

impl ProxyHeader {
    /// v2's TLVs as `(type, value)` pairs (`0x01` ALPN, `0x02` authority, `0x20` SSL, …), in
    /// header order; a truncated last one is left out.
    pub fn tlvs(&self) -> impl Iterator<Item = (u8, &[u8])> {
        let mut rest = &self.tlv_bytes[..];
        std::iter::from_fn(move || {
            if rest.len() < 3 {
                return None;
            }
            let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
            let kind = rest[0];
            let value = rest.get(3..3 + len)?;
            rest = &rest[3 + len..];
            Some((kind, value))
        })
    }
}

/// Why a header was refused: `InvalidData` with a message saying what was wrong.
fn malformed(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads one PROXY header (v1 or v2) from the start of `stream`, consuming exactly its bytes.
///
/// # Errors
///
/// `InvalidData` for a missing (the connection starts with something else) or malformed
/// header; `UnexpectedEof` when the peer closes before a whole header came; the socket's own
/// errors.
///
/// # Cancel safety
///
/// Not cancel safe: dropped midway, part of the header has been consumed. The caller runs it
/// under the handshake timeout and closes the connection when it is cut short.
pub(crate) async fn read_header(stream: &mut TcpStream) -> io::Result<ProxyHeader> {
    let mut head = [0u8; 16];
    let mut got = 0;
    // Refuse as soon as the bytes cannot begin a header: a client that speaks first without
    // one gets its answer at once, not at the timeout.
    while got < MIN_HEADER {
        let n = stream.read(&mut head[got..MIN_HEADER]).await?;
        if n == 0 {
            return Err(eof(got));
        }
        got += n;
        if !V1_PREFIX.starts_with(&head[..got.min(6)])
            && !V2_SIGNATURE.starts_with(&head[..got.min(12)])
        {
            return Err(malformed(format!(
                "missing PROXY protocol header: the connection starts with {:?}",
                Printable(&head[..got])
            )));
        }
    }
    if head.starts_with(V1_PREFIX) {
        let mut line = head[..MIN_HEADER].to_vec();
        if !line.ends_with(b"\r\n") {
            read_v1_rest(stream, &mut line).await?;
        }
        parse_v1(&line)
    } else {
        stream
            .read_exact(&mut head[MIN_HEADER..16])
            .await
            .map_err(|e| eof_in(e, 15))?;
        let len = usize::from(u16::from_be_bytes([head[14], head[15]]));
        let mut body = vec![0u8; len];
        stream
            .read_exact(&mut body)
            .await
            .map_err(|e| eof_in(e, 16))?;
        parse_v2(&head, body)
    }
}

/// Reads the rest of a v1 line into `line`, up to and including its LF, and not one byte
/// more: it peeks, takes the bytes up to an LF, or all it saw when there is none yet (every
/// one of them belongs to the line) and waits for more.
async fn read_v1_rest(stream: &mut TcpStream, line: &mut Vec<u8>) -> io::Result<()> {
    let mut buf = [0u8; V1_MAX];
    loop {
        let room = V1_MAX - line.len();
        if room == 0 {
            return Err(malformed("PROXY v1 header longer than 107 bytes"));
        }
        let n = stream.peek(&mut buf[..room]).await?;
        if n == 0 {
            return Err(eof(line.len()));
        }
        let take = match buf[..n].iter().position(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => n,
        };
        stream.read_exact(&mut buf[..take]).await?;
        line.extend_from_slice(&buf[..take]);
        if line.ends_with(b"\n") {
            return Ok(());
        }
    }
}

fn eof(got: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("truncated PROXY protocol header: the peer closed after {got} bytes"),
    )
}

fn eof_in(e: io::Error, got: usize) -> io::Error {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        eof(got)
    } else {
        e
    }
}

/// Parses a whole v1 line, CRLF included.
pub(crate) fn parse_v1(line: &[u8]) -> io::Result<ProxyHeader> {
    let text = line
        .strip_suffix(b"\r\n")
        .ok_or_else(|| malformed("PROXY v1 header does not end with CRLF"))?;
    let text = std::str::from_utf8(text)
        .map_err(|_| malformed("PROXY v1 header is not ASCII"))?
        .strip_prefix("PROXY ")
        .ok_or_else(|| malformed("PROXY v1 header does not start with `PROXY `"))?;
    let mut fields = text.split(' ');
    let protocol = fields.next().unwrap_or("");
    let unknown = ProxyHeader {
        version: 1,
        command: ProxyCommand::Proxy,
        source: None,
        destination: None,
        tlv_bytes: Vec::new(),
    };
    let v6 = match protocol {
        // "the receiver must ignore anything presented before the CRLF"
        "UNKNOWN" => return Ok(unknown),
        "TCP4" => false,
        "TCP6" => true,
        other => {
            return Err(malformed(format!(
                "PROXY v1 protocol {other:?}: expected TCP4, TCP6 or UNKNOWN"
            )))
        }
    };
    let parts: Vec<&str> = fields.collect();
    let [src, dst, sport, dport] = parts[..] else {
        return Err(malformed(format!(
            "PROXY v1 header has {} fields after {protocol}: expected 4 (source, destination, \
             source port, destination port)",
            parts.len()
        )));
    };
    let ip = |s: &str| -> io::Result<IpAddr> {
        let addr = if v6 {
            s.parse::<Ipv6Addr>().map(IpAddr::V6)
        } else {
            s.parse::<Ipv4Addr>().map(IpAddr::V4)
        };
        addr.map_err(|_| malformed(format!("PROXY v1 {protocol} address {s:?} does not parse")))
    };
    let port = |s: &str| -> io::Result<u16> {
        let ok = !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s == "0" || !s.starts_with('0'));
        s.parse::<u16>()
            .ok()
            .filter(|_| ok)
            .ok_or_else(|| malformed(format!("PROXY v1 port {s:?} does not parse")))
    };
    Ok(ProxyHeader {
        source: Some(SocketAddr::new(ip(src)?, port(sport)?)),
        destination: Some(SocketAddr::new(ip(dst)?, port(dport)?)),
        ..unknown
    })
}

/// Parses a v2 header: its 16 fixed bytes and the `len` bytes after them.
pub(crate) fn parse_v2(head: &[u8; 16], body: Vec<u8>) -> io::Result<ProxyHeader> {
    if head[..12] != V2_SIGNATURE {
        return Err(malformed("PROXY v2 signature does not match"));
    }
    let (version, command) = (head[12] >> 4, head[12] & 0x0f);
    if version != 2 {
        return Err(malformed(format!("PROXY v2 header with version {version}")));
    }
    let command = match command {
        0 => ProxyCommand::Local,
        1 => ProxyCommand::Proxy,
        c => {
            return Err(malformed(format!(
                "PROXY v2 command {c}: expected 0 (LOCAL) or 1 (PROXY)"
            )))
        }
    };
    let (family, transport) = (head[13] >> 4, head[13] & 0x0f);
    let addr_len = match family {
        0 => 0,
        1 => 12,
        2 => 36,
        3 => 216,
        f => return Err(malformed(format!("PROXY v2 address family {f}"))),
    };
    if transport > 2 {
        return Err(malformed(format!(
            "PROXY v2 transport protocol {transport}"
        )));
    }
    // LOCAL: "the receiver must accept this connection as valid and must use the real
    // connection endpoints and discard the protocol block including the family".
    if command == ProxyCommand::Local {
        return Ok(ProxyHeader {
            version: 2,
            command,
            source: None,
            destination: None,
            tlv_bytes: Vec::new(),
        });
    }
    if body.len() < addr_len {
        return Err(malformed(format!(
            "PROXY v2 address block of {} bytes: family {family} needs {addr_len}",
            body.len()
        )));
    }
    let port = |i: usize| u16::from_be_bytes([body[i], body[i + 1]]);
    // Addresses only for TCP (STREAM) over IPv4 or IPv6; UNSPEC, UDP and UNIX sockets keep
    // the socket's addresses, as the specification asks of receivers that do not use them.
    let (source, destination) = match (family, transport) {
        (1, 1) => {
            let ip = |i: usize| {
                IpAddr::V4(Ipv4Addr::new(
                    body[i],
                    body[i + 1],
                    body[i + 2],
                    body[i + 3],
                ))
            };
            (
                Some(SocketAddr::new(ip(0), port(8))),
                Some(SocketAddr::new(ip(4), port(10))),
            )
        }
        (2, 1) => {
            let ip = |i: usize| {
                let mut b = [0u8; 16];
                b.copy_from_slice(&body[i..i + 16]);
                IpAddr::V6(Ipv6Addr::from(b))
            };
            (
                Some(SocketAddr::new(ip(0), port(32))),
                Some(SocketAddr::new(ip(16), port(34))),
            )
        }
        _ => (None, None),
    };
    let mut tlv_bytes = body;
    tlv_bytes.drain(..addr_len);
    Ok(ProxyHeader {
        version: 2,
        command,
        source,
        destination,
        tlv_bytes,
    })
}

/// Bytes shown as text where printable, for error messages about what came instead.
struct Printable<'a>(&'a [u8]);

impl fmt::Debug for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for &b in self.0 {
            write!(f, "{}", std::ascii::escape_default(b))?;
        }
        f.write_str("\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1(s: &str) -> io::Result<ProxyHeader> {
        parse_v1(s.as_bytes())
    }

    #[test]
    fn v1_tcp4_and_tcp6_carry_both_addresses() {
        let h = v1("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n").unwrap();
        assert_eq!(h.source, Some("192.0.2.1:56324".parse().unwrap()));
        assert_eq!(h.destination, Some("198.51.100.2:443".parse().unwrap()));
        let h = v1("PROXY TCP6 2001:db8::1 ::1 1 65535\r\n").unwrap();
        assert_eq!(h.source, Some("[2001:db8::1]:1".parse().unwrap()));
        assert_eq!(h.version, 1);
    }

    #[test]
    fn v1_unknown_ignores_the_rest_of_the_line() {
        assert_eq!(v1("PROXY UNKNOWN\r\n").unwrap().source, None);
        assert_eq!(v1("PROXY UNKNOWN whatever 1 2\r\n").unwrap().source, None);
    }

    #[test]
    fn v1_malformed_lines_are_refused() {
        for bad in [
            "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\n",
            "PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n",
            "PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",
            "PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n",
            "PROXY TCP4 192.0.2.1 198.51.100.2 01 2\r\n",
            "PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n",
            "PROXY TCP4  192.0.2.1 198.51.100.2 1 2\r\n",
        ] {
            let e = v1(bad).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{bad:?}");
        }
    }

    fn v2(cmd: u8, fam: u8, body: &[u8]) -> io::Result<ProxyHeader> {
        let mut head = [0u8; 16];
        head[..12].copy_from_slice(&V2_SIGNATURE);
        head[12] = 0x20 | cmd;
        head[13] = fam;
        head[14..16].copy_from_slice(&(body.len() as u16).to_be_bytes());
        parse_v2(&head, body.to_vec())
    }

    #[test]
    fn v2_inet_with_tlvs() {
        let mut body = vec![192, 0, 2, 1, 198, 51, 100, 2, 0x1f, 0x90, 0x01, 0xbb];
        body.extend_from_slice(&[0x01, 0x00, 0x02, b'h', b'2']);
        let h = v2(1, 0x11, &body).unwrap();
        assert_eq!(h.source, Some("192.0.2.1:8080".parse().unwrap()));
        assert_eq!(h.destination, Some("198.51.100.2:443".parse().unwrap()));
        assert_eq!(h.tlvs().collect::<Vec<_>>(), vec![(1u8, &b"h2"[..])]);
    }

    #[test]
    fn v2_local_and_unspec_keep_the_socket_addresses() {
        let h = v2(0, 0x11, &[1; 12]).unwrap();
        assert_eq!((h.command, h.source), (ProxyCommand::Local, None));
        let h = v2(1, 0x00, &[]).unwrap();
        assert_eq!((h.command, h.source), (ProxyCommand::Proxy, None));
    }

    #[test]
    fn v2_short_address_blocks_and_bad_fields_are_refused() {
        assert!(v2(1, 0x11, &[0; 11]).is_err());
        assert!(v2(1, 0x21, &[0; 35]).is_err());
        assert!(v2(2, 0x11, &[0; 12]).is_err());
        assert!(v2(1, 0x41, &[0; 12]).is_err());
    }
}
