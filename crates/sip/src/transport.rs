//! UDP and TCP transports (tokio). They frame and parse messages, answer what
//! cannot be parsed, and hand parsed messages to the endpoint driver.
//!
//! Parsing happens here, in the receive tasks, so it runs in parallel with the
//! driver task that owns the transaction layer.

use crate::parse::{find_head_end, parse_message, MAX_MESSAGE_SIZE};
use crate::peer::{Peer, Transmit, TransportKind};
use bytes::{Buf, Bytes, BytesMut};
use dashmap::DashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// Counters every transport updates; exported as metrics by the engine.
#[derive(Default, Debug)]
pub struct SipStats {
    /// Messages received and parsed.
    pub messages_in: AtomicU64,
    /// Messages written to the network.
    pub messages_out: AtomicU64,
    /// Messages that failed to parse (answered with 400/501 when possible).
    pub parse_errors: AtomicU64,
    /// Datagrams or TCP messages dropped for size.
    pub oversized: AtomicU64,
    /// TCP connections closed because a message had no Content-Length.
    pub tcp_framing_errors: AtomicU64,
    /// Sends that failed (socket error, no TCP connection).
    pub send_errors: AtomicU64,
}

/// A parsed message and where it came from.
pub struct Received {
    /// The message.
    pub msg: rsip::SipMessage,
    /// Its real source.
    pub from: Peer,
}

/// How received messages are reported to the driver.
pub type InboundTx = mpsc::UnboundedSender<Received>;

/// Everything needed to send: the UDP socket and the table of TCP connections.
#[derive(Clone)]
pub struct Transports {
    udp: Arc<UdpSocket>,
    tcp: Arc<DashMap<SocketAddr, mpsc::UnboundedSender<Bytes>>>,
    stats: Arc<SipStats>,
    log_messages: bool,
    inbound: InboundTx,
    local: SocketAddr,
}

impl Transports {
    /// Bind UDP and TCP on `addr` and start receiving. Parsed messages go to `inbound`.
    pub async fn bind(
        addr: SocketAddr,
        inbound: InboundTx,
        stats: Arc<SipStats>,
        log_messages: bool,
    ) -> std::io::Result<Transports> {
        let udp = bind_udp(addr)?;
        let local = udp.local_addr()?;
        let listener = TcpListener::bind(local).await?;
        let t = Transports {
            udp: Arc::new(udp),
            tcp: Arc::new(DashMap::new()),
            stats,
            log_messages,
            inbound,
            local,
        };
        tokio::spawn(t.clone().accept_loop(listener));
        Ok(t)
    }

    /// The bound address (useful when the port was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Put a message on the wire. Never blocks the caller for long: UDP uses a
    /// non-blocking send first; TCP queues to the connection's writer task.
    pub fn send(&self, t: Transmit) {
        if self.log_messages {
            tracing::info!(target: "sip", "send to {}:\n{}", t.peer, String::from_utf8_lossy(&t.payload));
        }
        match t.peer.transport {
            TransportKind::Udp => match self.udp.try_send_to(&t.payload, t.peer.addr) {
                Ok(_) => {
                    self.stats.messages_out.fetch_add(1, Relaxed);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    // Socket buffer full: finish the send off the driver's path.
                    let udp = self.udp.clone();
                    let stats = self.stats.clone();
                    tokio::spawn(async move {
                        match udp.send_to(&t.payload, t.peer.addr).await {
                            Ok(_) => stats.messages_out.fetch_add(1, Relaxed),
                            Err(_) => stats.send_errors.fetch_add(1, Relaxed),
                        };
                    });
                }
                Err(e) => {
                    self.stats.send_errors.fetch_add(1, Relaxed);
                    tracing::debug!("udp send to {} failed: {e}", t.peer.addr);
                }
            },
            TransportKind::Tcp => {
                let sent = self
                    .tcp
                    .get(&t.peer.addr)
                    .map(|w| w.send(t.payload.clone()).is_ok())
                    .unwrap_or(false);
                if sent {
                    self.stats.messages_out.fetch_add(1, Relaxed);
                } else {
                    // No connection to that peer yet: open one (we are the client).
                    let me = self.clone();
                    tokio::spawn(async move { me.connect_and_send(t).await });
                }
            }
        }
    }

    async fn connect_and_send(self, t: Transmit) {
        match TcpStream::connect(t.peer.addr).await {
            Ok(stream) => {
                let writer = self.clone().start_connection(stream, t.peer.addr);
                if writer.send(t.payload).is_ok() {
                    self.stats.messages_out.fetch_add(1, Relaxed);
                }
            }
            Err(e) => {
                self.stats.send_errors.fetch_add(1, Relaxed);
                tracing::debug!("tcp connect to {} failed: {e}", t.peer.addr);
            }
        }
    }

    /// The UDP socket; the endpoint driver receives on it directly so a
    /// datagram is parsed and handled without a hop between tasks.
    pub fn udp_socket(&self) -> Arc<UdpSocket> {
        self.udp.clone()
    }

    /// Parse one datagram; answer what cannot be parsed. Returns the message to handle.
    pub fn accept_datagram(&self, data: &[u8], from: Peer) -> Option<rsip::SipMessage> {
        if data.len() > MAX_MESSAGE_SIZE {
            self.stats.oversized.fetch_add(1, Relaxed);
            return None;
        }
        self.parse_or_answer(data, from)
    }

    fn handle_bytes(&self, data: &[u8], from: Peer) {
        // Keep-alives (RFC 5626 CRLF pings and stray whitespace) are not messages.
        if data.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
            if from.transport == TransportKind::Tcp && data.starts_with(b"\r\n\r\n") {
                if let Some(w) = self.tcp.get(&from.addr) {
                    let _ = w.send(Bytes::from_static(b"\r\n"));
                }
            }
            return;
        }
        if let Some(msg) = self.parse_or_answer(data, from) {
            let _ = self.inbound.send(Received { msg, from });
        }
    }

    fn parse_or_answer(&self, data: &[u8], from: Peer) -> Option<rsip::SipMessage> {
        // Keep-alives (RFC 5626 CRLF pings, stray whitespace) are not messages.
        if data.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
            return None;
        }
        if self.log_messages {
            tracing::info!(target: "sip", "recv from {from}:\n{}", String::from_utf8_lossy(data));
        }
        match parse_message(data) {
            Ok(msg) => {
                self.stats.messages_in.fetch_add(1, Relaxed);
                Some(msg)
            }
            Err(failure) => {
                self.stats.parse_errors.fetch_add(1, Relaxed);
                tracing::debug!("unparseable message from {from}: {}", failure.reason);
                if let Some(reply) = failure.reply {
                    self.send(Transmit {
                        peer: from,
                        payload: reply,
                    });
                }
                None
            }
        }
    }

    async fn accept_loop(self, listener: TcpListener) {
        loop {
            match listener.accept().await {
                Ok((stream, addr)) => {
                    let _ = self.clone().start_connection(stream, addr);
                }
                Err(e) => {
                    tracing::warn!("tcp accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Register a connection and run its reader and writer tasks.
    fn start_connection(self, stream: TcpStream, addr: SocketAddr) -> mpsc::UnboundedSender<Bytes> {
        let _ = stream.set_nodelay(true);
        let (mut rd, mut wr) = stream.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
        self.tcp.insert(addr, tx.clone());
        tokio::spawn(async move {
            while let Some(b) = rx.recv().await {
                if wr.write_all(&b).await.is_err() {
                    break;
                }
            }
        });
        let writer = tx.clone();
        tokio::spawn(async move {
            let mut buf = BytesMut::with_capacity(8192);
            'conn: loop {
                match rd.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                loop {
                    match frame(&mut buf) {
                        Framed::Message(m) => self.handle_bytes(&m, Peer::tcp(addr)),
                        Framed::NeedMore => break,
                        Framed::Invalid(why) => {
                            self.stats.tcp_framing_errors.fetch_add(1, Relaxed);
                            tracing::info!("closing tcp connection from {addr}: {why}");
                            break 'conn;
                        }
                    }
                }
            }
            // Only remove our own entry: a reconnect may already have replaced it.
            self.tcp.remove_if(&addr, |_, w| w.same_channel(&writer));
        });
        tx
    }
}

/// Socket buffer wanted for SIP over UDP. Bursts of thousands of requests
/// (a PBX restart, a load test) overflow the default ~200 KB and the kernel
/// drops datagrams, which then cost a retransmission each. The kernel caps this
/// at net.core.rmem_max / wmem_max.
const UDP_BUFFER: usize = 8 * 1024 * 1024;

fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        let _ = sock.set_only_v6(false);
    }
    if let Err(e) = sock.set_recv_buffer_size(UDP_BUFFER) {
        tracing::debug!("SO_RCVBUF: {e}");
    }
    if let Err(e) = sock.set_send_buffer_size(UDP_BUFFER) {
        tracing::debug!("SO_SNDBUF: {e}");
    }
    sock.bind(&addr.into())?;
    sock.set_nonblocking(true)?;
    UdpSocket::from_std(sock.into())
}

/// Result of trying to cut one message off a TCP byte stream.
enum Framed {
    Message(Bytes),
    NeedMore,
    Invalid(&'static str),
}

/// RFC 3261 §18.3: on streams, Content-Length is mandatory and delimits the body.
fn frame(buf: &mut BytesMut) -> Framed {
    // Leading CRLFs are keep-alives between messages.
    let lead = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    if lead > 0 {
        if lead >= 4 && buf.len() == lead {
            let ping = buf.split_to(lead).freeze();
            return Framed::Message(ping);
        }
        buf.advance(lead);
    }
    let Some(head_end) = find_head_end(buf) else {
        if buf.len() > MAX_MESSAGE_SIZE {
            return Framed::Invalid("header block too large");
        }
        return Framed::NeedMore;
    };
    let sep = if buf[head_end..].starts_with(b"\r\n\r\n") {
        4
    } else {
        2
    };
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let len = head.lines().skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        let n = n.trim();
        (n.eq_ignore_ascii_case("Content-Length") || n == "l").then(|| v.trim().parse::<usize>())
    });
    let len = match len {
        Some(Ok(n)) => n,
        Some(Err(_)) => return Framed::Invalid("bad Content-Length"),
        None => return Framed::Invalid("message without Content-Length"),
    };
    let total = head_end + sep + len;
    if total > MAX_MESSAGE_SIZE {
        return Framed::Invalid("message too large");
    }
    if buf.len() < total {
        return Framed::NeedMore;
    }
    Framed::Message(buf.split_to(total).freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_messages_by_content_length() {
        let mut b = BytesMut::from(
            &b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 3\r\n\r\nabcOPTIONS sip:b SIP/2.0\r\nContent-Length: 0\r\n\r\n"[..],
        );
        match frame(&mut b) {
            Framed::Message(m) => assert!(m.ends_with(b"abc")),
            _ => panic!("expected a message"),
        }
        match frame(&mut b) {
            Framed::Message(m) => assert!(m.starts_with(b"OPTIONS sip:b")),
            _ => panic!("expected a second message"),
        }
        assert!(matches!(frame(&mut b), Framed::NeedMore));
    }

    #[test]
    fn waits_for_the_whole_body() {
        let mut b = BytesMut::from(&b"OPTIONS sip:a SIP/2.0\r\nContent-Length: 10\r\n\r\nabc"[..]);
        assert!(matches!(frame(&mut b), Framed::NeedMore));
    }

    #[test]
    fn refuses_stream_without_content_length() {
        let mut b = BytesMut::from(&b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n"[..]);
        assert!(matches!(frame(&mut b), Framed::Invalid(_)));
    }
}
