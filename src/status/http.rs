//! The status page's wire: one HTTP/1 request per connection, read with `httparse` (the
//! request parser hyper itself uses) and answered with `Connection: close`.
//!
//! The page has three read-only GET routes, so it needs no server framework: this reads the
//! request head under a size limit and a deadline, hands the method, path, query and
//! `Authorization` to the router, and writes the router's answer. Bodies are never read.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The longest request head read; a status request is one line and a few headers.
pub const MAX_HEAD: usize = 16 * 1024;
/// How many headers a request may have.
const MAX_HEADERS: usize = 64;
/// How long a client may take to send its request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long unread request bytes (a body nobody asked for) are drained after the answer, so
/// closing does not reset the connection before the client read it.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// What the router needs of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The raw `Authorization` header, if sent.
    pub authorization: Option<Vec<u8>>,
}

/// An answer: status, content type, extra headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, &'static str)>,
    pub body: String,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: String) -> Response {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: &'static str) -> Response {
        self.headers.push((name, value));
        self
    }

    /// The bytes sent: status line, headers (with the page's fixed safety headers) and body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.head().into_bytes();
        bytes.extend_from_slice(self.body.as_bytes());
        bytes
    }

    /// The status line and headers, ending with the empty line; a HEAD request gets only these.
    pub fn head(&self) -> String {
        // The page needs nothing but its own inline styles: no script runs, nothing loads.
        let mut head = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\n\
             cache-control: no-store\r\nx-content-type-options: nosniff\r\n\
             content-security-policy: default-src 'none'; style-src 'unsafe-inline'\r\n\
             connection: close\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        head
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// What reading a request head gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Head {
    Complete(Request),
    /// The head is not complete yet.
    Partial,
    /// Not a request this server answers: the answer to send instead.
    Refused(Response),
}

/// Parses what arrived so far.
pub fn parse_head(bytes: &[u8]) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(bytes) {
        Ok(httparse::Status::Partial) if bytes.len() >= MAX_HEAD => Head::Refused(too_large()),
        Ok(httparse::Status::Partial) => Head::Partial,
        Err(httparse::Error::TooManyHeaders) => Head::Refused(too_large()),
        Err(error) => Head::Refused(bad_request(&format!("not an HTTP/1 request ({error})"))),
        Ok(httparse::Status::Complete(_)) => {
            let (Some(method), Some(target)) = (request.method, request.path) else {
                return Head::Refused(bad_request("no request line"));
            };
            // Only the origin form (`/path?query`) is a request for this server's pages.
            if !target.starts_with('/') {
                return Head::Refused(bad_request("the request target must start with /"));
            }
            let (path, query) = match target.split_once('?') {
                Some((path, query)) => (path, Some(query.to_string())),
                None => (target, None),
            };
            let authorization = request
                .headers
                .iter()
                .find(|header| header.name.eq_ignore_ascii_case("authorization"))
                .map(|header| header.value.to_vec());
            Head::Complete(Request {
                method: method.to_string(),
                path: path.to_string(),
                query,
                authorization,
            })
        }
    }
}

fn bad_request(why: &str) -> Response {
    Response::new(400, TEXT, format!("bad request: {why}\n"))
}

fn too_large() -> Response {
    Response::new(
        431,
        TEXT,
        format!("the request head is over {MAX_HEAD} bytes or {MAX_HEADERS} headers\n"),
    )
}

pub const TEXT: &str = "text/plain; charset=utf-8";

/// Reads one request head from `stream` within [`HEAD_TIMEOUT`]: the request, or the answer
/// to refuse it with; `None` when the client closed or failed before sending a whole head.
pub async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    timeout: Duration,
) -> Option<Result<Request, Response>> {
    let mut bytes = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let reading = async {
        loop {
            let read = match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(read) => read,
            };
            bytes.extend_from_slice(&chunk[..read]);
            match parse_head(&bytes) {
                Head::Partial => continue,
                Head::Complete(request) => return Some(Ok(request)),
                Head::Refused(response) => return Some(Err(response)),
            }
        }
    };
    match tokio::time::timeout(timeout, reading).await {
        Ok(head) => head,
        Err(_) => Some(Err(Response::new(
            408,
            TEXT,
            "the request head did not arrive in time\n".into(),
        ))),
    }
}

/// Writes `response` (its head alone for a HEAD request), closes the sending side, and drains
/// what the client still sends (for a short while) so that closing does not discard the answer.
pub async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    response: &Response,
    head_only: bool,
) {
    let bytes = match head_only {
        true => response.head().into_bytes(),
        false => response.to_bytes(),
    };
    if stream.write_all(&bytes).await.is_err() {
        return;
    }
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        let mut drained = 0usize;
        while let Ok(read) = stream.read(&mut sink).await {
            drained += read;
            if read == 0 || drained > 1 << 20 {
                break;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(bytes: &[u8]) -> Request {
        match parse_head(bytes) {
            Head::Complete(request) => request,
            other => panic!("{other:?}"),
        }
    }

    fn refused(bytes: &[u8]) -> u16 {
        match parse_head(bytes) {
            Head::Refused(response) => response.status,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_get_gives_its_path_query_and_authorization() {
        let request = complete(
            b"GET /?number=%D0%97%D0%9D-1 HTTP/1.1\r\nHost: x\r\nauthorization: Bearer t0k\r\n\r\n",
        );
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/");
        assert_eq!(request.query.as_deref(), Some("number=%D0%97%D0%9D-1"));
        assert_eq!(request.authorization.as_deref(), Some(&b"Bearer t0k"[..]));
        let request = complete(b"GET /metrics HTTP/1.0\r\n\r\n");
        assert_eq!((request.path.as_str(), request.query), ("/metrics", None));
        assert_eq!(request.authorization, None);
    }

    #[test]
    fn an_unfinished_head_waits_for_more() {
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n"), Head::Partial);
        assert_eq!(parse_head(b""), Head::Partial);
    }

    #[test]
    fn garbage_too_many_headers_or_a_huge_head_are_refused() {
        assert_eq!(
            refused(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"),
            400
        );
        assert_eq!(refused(b"GET http://elsewhere/ HTTP/1.1\r\n\r\n"), 400);
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("x-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(refused(&many), 431);
        let mut huge = b"GET / HTTP/1.1\r\nx-long: ".to_vec();
        huge.resize(MAX_HEAD, b'a');
        assert_eq!(refused(&huge), 431);
    }

    #[test]
    fn the_answer_carries_length_safety_headers_and_close() {
        let bytes = Response::new(405, TEXT, "read-only: only GET\n".into())
            .with_header("allow", "GET, HEAD")
            .to_bytes();
        let text = String::from_utf8(bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{head}"
        );
        for line in [
            "content-length: 20",
            "connection: close",
            "cache-control: no-store",
            "x-content-type-options: nosniff",
            "allow: GET, HEAD",
        ] {
            assert!(head.lines().any(|l| l == line), "{line} missing in {head}");
        }
        assert_eq!(body, "read-only: only GET\n");
    }

    #[tokio::test]
    async fn a_client_that_sends_nothing_gets_a_timeout_answer() {
        let (_client, mut server) = tokio::io::duplex(1024);
        let head = read_head(&mut server, Duration::from_millis(50)).await;
        assert_eq!(head.unwrap().unwrap_err().status, 408);
        // A client that closes without a request gets nothing.
        let (client, mut server) = tokio::io::duplex(1024);
        drop(client);
        assert!(read_head(&mut server, HEAD_TIMEOUT).await.is_none());
    }

    #[tokio::test]
    async fn a_head_split_across_reads_is_put_together() {
        let (mut client, mut server) = tokio::io::duplex(16);
        let sending = tokio::spawn(async move {
            for part in [&b"GET /hea"[..], b"lthz HTTP/1.1\r\nHo", b"st: x\r\n\r\n"] {
                client.write_all(part).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            client
        });
        let request = read_head(&mut server, HEAD_TIMEOUT).await.unwrap().unwrap();
        assert_eq!(request.path, "/healthz");
        drop(sending.await.unwrap());
    }
}
