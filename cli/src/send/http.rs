//! A minimal HTTP/1.1 client for `herald send`: one `POST` per connection
//! (`Connection: close`), `http://` or `https://` (TLS by rustls, see
//! [`super::tls`]), with connect, read and write timeouts so nothing hangs.
//! Enough to talk to herald-server without pulling an HTTP stack into a
//! build-time crate.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::tls::Tls;

/// Largest response body read (a server's answer is small).
const MAX_RESPONSE: u64 = 16 * 1024 * 1024;

/// Where to send: scheme, host, port and path of an `http://` or
/// `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// `https://`: talk TLS.
    pub https: bool,
    /// Host name or address, as written (IPv6 without brackets).
    pub host: String,
    /// Port (80 for http, 443 for https when not written).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Url {
    /// Parse `http[s]://host[:port][/path]`. A URL without a path (or
    /// `/`) means the ingest endpoint, `/api/ingest/event`.
    pub fn parse(url: &str) -> Result<Url, String> {
        let (https, rest) = match url.split_once("://") {
            Some(("http", rest)) => (false, rest),
            Some(("https", rest)) => (true, rest),
            Some((scheme, _)) => {
                return Err(format!("`{url}`: unsupported scheme `{scheme}`; use http://HOST:PORT or https://HOST:PORT"));
            }
            None => {
                return Err(format!("`{url}` is not a URL; write it as http://127.0.0.1:8080"));
            }
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let path = if path.is_empty() || path == "/" { "/api/ingest/event".to_string() } else { path.to_string() };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| format!("`{url}`: unclosed `[` in the host"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() || authority.contains('@') {
            return Err(format!("`{url}` has no usable host; write it as http://HOST:PORT"));
        }
        let port = match port {
            None if https => 443,
            None => 80,
            Some(p) => p.parse().map_err(|_| format!("`{url}`: port `{p}` is not a number from 1 to 65535"))?,
        };
        Ok(Url { https, host: host.to_string(), port, path })
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    /// `host:port` for messages.
    pub fn authority(&self) -> String {
        if self.host.contains(':') { format!("[{}]:{}", self.host, self.port) } else { format!("{}:{}", self.host, self.port) }
    }
}

/// An answer from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Reason phrase, as sent.
    pub reason: String,
    /// `Content-Type`, when sent.
    pub content_type: Option<String>,
    /// The body (lossily decoded as UTF-8).
    pub body: String,
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No connection could be made (refused, unresolvable, timed out).
    Unreachable(String),
    /// Connected, but TLS could not be set up (an untrusted or wrong
    /// certificate): nothing was sent.
    Handshake(String),
    /// Connected, but the exchange failed (reset, timeout, not HTTP).
    Exchange(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Unreachable(s) | Failure::Handshake(s) | Failure::Exchange(s) => f.write_str(s),
        }
    }
}

/// `POST` `body` to `url` with the extra `headers`; `tls` secures an
/// `https://` URL.
pub fn post(url: &Url, tls: &Tls, headers: &[(String, String)], body: &[u8], timeout: Duration) -> Result<Response, Failure> {
    let addrs: Vec<_> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| Failure::Unreachable(format!("cannot resolve `{}`: {e}", url.host)))?
        .collect();
    let mut last = None;
    let mut stream = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let Some(stream) = stream else {
        let why = last.map_or_else(|| "no address".to_string(), |e| e.to_string());
        return Err(Failure::Unreachable(format!("cannot connect to {}: {why}", url.authority())));
    };
    let io = |e: std::io::Error| Failure::Exchange(format!("talking to {}: {e}{}", url.authority(), super::tls::hint(&e)));
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let mut stream = if url.https {
        tls.wrap(&url.host, stream).map_err(|e| Failure::Handshake(format!("TLS with {}: {e}", url.authority())))?
    } else {
        Box::new(stream)
    };
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: herald-cli\r\nAccept: application/json, application/problem+json\r\nConnection: close\r\nContent-Length: {}\r\n",
        url.path,
        url.authority(),
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body)).and_then(|()| stream.flush()).map_err(io)?;
    let mut raw = Vec::new();
    match stream.take(MAX_RESPONSE).read_to_end(&mut raw) {
        Ok(_) => {}
        // A TLS peer that closes without `close_notify`: the response is
        // still whole when its length says so (checked below).
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(io(e)),
    }
    parse_response(&raw).map_err(|e| Failure::Exchange(format!("{} answered something that is not HTTP: {e}", url.authority())))
}

/// Parse a whole HTTP/1.1 response (read to the end of the connection).
pub(super) fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(format!("status line `{status_line}`"));
    }
    let status: u16 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(|| format!("status line `{status_line}`"))?;
    let reason = parts.next().unwrap_or_default().to_string();
    let (mut content_type, mut chunked, mut length) = (None, false, None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-type" => content_type = Some(value.to_string()),
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "content-length" => length = value.parse::<usize>().ok(),
            _ => {}
        }
    }
    let rest = &raw[end + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else {
        match length {
            Some(n) if n <= rest.len() => rest[..n].to_vec(),
            Some(n) => return Err(format!("body cut short ({} of {n} bytes)", rest.len())),
            None => rest.to_vec(),
        }
    };
    Ok(Response { status, reason, content_type, body: String::from_utf8_lossy(&body).into_owned() })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n").ok_or("bad chunk header")?;
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size `{size_text}`"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if rest.len() < size {
            return Err("chunk cut short".to_string());
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("127.0.0.1", 8080, "/api/ingest/event"));
        assert_eq!(Url::parse("http://h/x?y=1").unwrap().path, "/x?y=1");
        assert_eq!(Url::parse("http://[::1]:9/").unwrap().authority(), "[::1]:9");
        let u = Url::parse("https://h").unwrap();
        assert!(u.https && u.port == 443 && u.scheme() == "https");
        assert!(!Url::parse("http://h").unwrap().https);
        assert!(Url::parse("ftp://h").unwrap_err().contains("unsupported scheme `ftp`"));
        assert!(Url::parse("localhost:8080").unwrap_err().contains("is not a URL"));
        assert!(Url::parse("http://h:99999").unwrap_err().contains("port `99999`"));
        assert!(Url::parse("http://:80").unwrap_err().contains("no usable host"));
    }

    #[test]
    fn responses_with_length_chunks_or_neither() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        assert_eq!((r.status, r.reason.as_str(), r.body.as_str()), (200, "OK", "{}"));
        let r = parse_response(b"HTTP/1.1 422 Unprocessable Entity\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            .unwrap();
        assert_eq!(r.body, "abcde");
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(parse_response(b"garbage").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n").is_err());
    }
}
