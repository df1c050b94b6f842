//! Signalling: one HTTP/1.1 POST per call on the server's TCP port. The body of the request is
//! the SDP offer, the body of the 200 answer is the SDP answer (no trickle ICE: the answer holds
//! the server's host candidate).

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Largest SDP accepted in either direction.
const MAX_BODY: usize = 64 * 1024;

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads a start line, headers and a Content-Length body. Returns (start line, body).
async fn read_message<R: tokio::io::AsyncRead + Unpin>(
    r: &mut BufReader<R>,
) -> io::Result<(String, String)> {
    let mut start = String::new();
    if r.read_line(&mut start).await? == 0 {
        return Err(bad("connection closed before the start line"));
    }
    let mut len: Option<usize> = None;
    for _ in 0..64 {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Err(bad("connection closed in the headers"));
        }
        let line = line.trim_end();
        if line.is_empty() {
            let len = len.ok_or_else(|| bad("no Content-Length"))?;
            if len > MAX_BODY {
                return Err(bad(format!("body of {len} bytes is too large")));
            }
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).await?;
            let body = String::from_utf8(body).map_err(|_| bad("body is not UTF-8"))?;
            return Ok((start.trim_end().to_owned(), body));
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                len = Some(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| bad("bad Content-Length"))?,
                );
            }
        }
    }
    Err(bad("too many headers"))
}

/// Client side: POSTs the offer, returns the answer.
pub async fn post_offer(server: std::net::SocketAddr, offer: &str) -> io::Result<String> {
    let mut stream = TcpStream::connect(server).await?;
    stream.set_nodelay(true)?;
    let req = format!(
        "POST /offer HTTP/1.1\r\nHost: {server}\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{offer}",
        offer.len()
    );
    stream.write_all(req.as_bytes()).await?;
    let mut r = BufReader::new(stream);
    let (status, body) = read_message(&mut r).await?;
    if !status.starts_with("HTTP/1.1 200") {
        return Err(bad(format!("server answered {status}: {body}")));
    }
    Ok(body)
}

/// Server side: reads one offer from the connection, asks `answer` for the SDP answer and
/// writes it back (400 with the reason when the offer is refused).
pub async fn serve_one<F, Fut>(stream: TcpStream, answer: F) -> io::Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    stream.set_nodelay(true)?;
    let mut r = BufReader::new(stream);
    let (start, body) = read_message(&mut r).await?;
    let reply = if !start.starts_with("POST ") {
        let msg = "only POST of an SDP offer is served";
        format!(
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: {}\r\n\r\n{msg}",
            msg.len()
        )
    } else {
        match answer(body).await {
            Ok(sdp) => format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{sdp}",
                sdp.len()
            ),
            Err(e) => format!(
                "HTTP/1.1 400 Bad Offer\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{e}",
                e.len()
            ),
        }
    };
    let mut stream = r.into_inner();
    stream.write_all(reply.as_bytes()).await?;
    stream.shutdown().await
}
