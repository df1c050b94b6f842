//! Where a SIP message comes from or goes to, shared by the transports,
//! the transaction layer and the engine.

use bytes::Bytes;
use std::fmt;
use std::net::SocketAddr;

/// The transport protocol a message travels over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// Datagrams: the transaction layer retransmits.
    Udp,
    /// A stream: reliable, so retransmission timers are not armed.
    Tcp,
    /// TLS over TCP (RFC 3261 §26, `sips:` and `;transport=tls`): a stream too.
    Tls,
    /// SIP over WebSocket (RFC 7118), one message per frame: browsers.
    /// Only the peer can open the connection, so requests to it go over
    /// the one it opened or nowhere.
    Ws,
    /// SIP over secure WebSocket (RFC 7118, TLS underneath).
    Wss,
}

impl TransportKind {
    /// Reliable transports need no retransmissions (RFC 3261 17.1.1.2 and 17.1.2.2).
    pub fn is_reliable(self) -> bool {
        !matches!(self, TransportKind::Udp)
    }

    /// WebSocket transports: we cannot open a connection to such a peer.
    pub fn is_websocket(self) -> bool {
        matches!(self, TransportKind::Ws | TransportKind::Wss)
    }

    /// The token used in a Via header (`SIP/2.0/UDP`).
    pub fn via_token(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
            TransportKind::Ws => "WS",
            TransportKind::Wss => "WSS",
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.via_token())
    }
}

/// A remote SIP party as seen on the wire: transport plus socket address.
/// Responses go back to the peer a request came from (RFC 3581 symmetric response).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    /// UDP, TCP, TLS, WS or WSS.
    pub transport: TransportKind,
    /// The remote address (the real source address, not what the message claims).
    pub addr: SocketAddr,
}

impl Peer {
    /// A UDP peer.
    pub fn udp(addr: SocketAddr) -> Self {
        Peer {
            transport: TransportKind::Udp,
            addr,
        }
    }

    /// A TCP peer.
    pub fn tcp(addr: SocketAddr) -> Self {
        Peer {
            transport: TransportKind::Tcp,
            addr,
        }
    }

    /// A TLS peer.
    pub fn tls(addr: SocketAddr) -> Self {
        Peer {
            transport: TransportKind::Tls,
            addr,
        }
    }
}

impl Peer {
    /// A peer on a WebSocket connection (`/ws` on the HTTP port).
    pub fn ws(addr: SocketAddr) -> Self {
        Peer {
            transport: TransportKind::Ws,
            addr,
        }
    }

    /// A peer on a secure WebSocket connection (the WSS port).
    pub fn wss(addr: SocketAddr) -> Self {
        Peer {
            transport: TransportKind::Wss,
            addr,
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport, self.addr)
    }
}

/// Bytes to put on the wire, and where. Serialised once, so retransmissions reuse them.
#[derive(Clone, Debug)]
pub struct Transmit {
    /// Destination.
    pub peer: Peer,
    /// The serialised SIP message.
    pub payload: Bytes,
}
