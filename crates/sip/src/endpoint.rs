//! The tokio driver around the sans-IO transaction layer: one task per SIP
//! profile owns a [`TransactionLayer`], the clock and the transports. Requests for
//! the TU go out on a channel; responses to client transactions go to the sink
//! the TU gave when it sent the request.

use crate::parse::MAX_MESSAGE_SIZE;
use crate::peer::Peer;
use crate::transaction::{TransactionLayer, TuEvent, TxConfig, TxId};
use crate::transport::{
    Inbound, SipStats, TcpLimits, TlsHandle, TlsSettings, Transports, WsAcceptor,
};
use bytes::Bytes;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// What the owner of a client transaction hears about it.
#[derive(Debug)]
pub enum ClientEvent {
    /// The transaction exists; keep the id to CANCEL it.
    Sent(TxId),
    /// A response (provisional or final; 2xx retransmissions of INVITE too).
    Response(TxId, rsip::Response),
    /// Timer B/F/C or a transport failure: treat as 408.
    Timeout(TxId),
}

/// Where a client transaction's events go (the TU's call actor, typically).
pub type ClientSink = Arc<dyn Fn(ClientEvent) + Send + Sync>;

/// What the TU hears that is not tied to one of its client transactions.
#[derive(Debug)]
pub enum ServerEvent {
    /// A new request (server transaction `tx`). For CANCEL, `cancels` is the INVITE it matches.
    Request {
        /// Server transaction to answer on.
        tx: TxId,
        /// The request, Via stamped with received/rport.
        request: rsip::Request,
        /// Where it came from.
        from: Peer,
        /// For CANCEL: the matching INVITE server transaction.
        cancels: Option<TxId>,
    },
    /// ACK for a 2xx (in-dialog).
    Ack {
        /// The ACK.
        request: rsip::Request,
        /// Where it came from.
        from: Peer,
    },
    /// A 2xx that matched no client transaction (fork or late); must be ACKed.
    StrayResponse {
        /// The response.
        response: rsip::Response,
        /// Where it came from.
        from: Peer,
    },
    /// A 2xx we sent was never ACKed.
    AckTimeout(TxId),
    /// A WebSocket connection that had carried a message ended: requests
    /// can no longer reach that peer (only it can open a connection).
    ConnectionClosed(Peer),
}

/// The transaction user of one endpoint, run inside the driver task so a request
/// is answered without a hop between tasks (REGISTER, OPTIONS and challenges are
/// answered right here; calls are handed to their actors).
pub trait Tu: Send + 'static {
    /// Handle one server-side event; answer through `out`.
    fn on_event(&mut self, ev: ServerEvent, out: &mut Outbox<'_>);

    /// Look at a request before the transaction layer sees it: `false` drops
    /// it on the spot, with no transaction, no 100 Trying and no answer (a
    /// banned source). Runs for every request received, retransmissions too,
    /// so it must be cheap.
    fn screen(&mut self, _request: &rsip::Request, _from: Peer) -> bool {
        true
    }
}

/// What a [`Tu`] can do from inside the driver.
pub struct Outbox<'a> {
    layer: &'a mut TransactionLayer,
    now: Instant,
}

impl Outbox<'_> {
    /// Answer on a server transaction.
    pub fn respond(&mut self, tx: TxId, response: rsip::Response) {
        if let Err(e) = self.layer.send_response(tx, response, self.now) {
            tracing::debug!("response on {tx:?} not sent: {e}");
        }
    }

    /// Answer a request finally and drop its transaction at once
    /// (stateless-server behaviour; retransmissions are answered again). On an
    /// INVITE, only with 3xx-6xx, sent once (see
    /// [`TransactionLayer::send_final_stateless`]).
    pub fn respond_stateless(&mut self, tx: TxId, response: rsip::Response) {
        if let Err(e) = self.layer.send_final_stateless(tx, response, self.now) {
            tracing::debug!("stateless response on {tx:?} not sent: {e}");
        }
    }

    /// Send bytes outside any transaction.
    pub fn send_stateless(&mut self, payload: Bytes, to: Peer) {
        self.layer.send_stateless(payload, to);
    }
}

enum Command {
    SetTu(Box<dyn Tu>),
    Request(rsip::Request, Peer, ClientSink),
    Respond(TxId, rsip::Response),
    Stateless(Bytes, Peer),
    Cancel(TxId),
}

/// Settings of one endpoint.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// Address to bind UDP and TCP on.
    pub bind: SocketAddr,
    /// Transaction timers.
    pub timers: TxConfig,
    /// Log every SIP message (at info level, target "sip").
    pub log_messages: bool,
    /// Caps and timeouts of SIP over TCP (and TLS and WebSocket).
    pub tcp: TcpLimits,
    /// SIP over TLS: the listener, if any, and how servers are verified;
    /// the WSS listener, if any.
    pub tls: TlsSettings,
}

/// A cloneable handle the TU uses to send.
#[derive(Clone)]
pub struct Endpoint {
    cmd: mpsc::UnboundedSender<Command>,
    local: SocketAddr,
    /// The TLS listener's address and the TLS server names of peers (not
    /// the driver's business; sending goes through the driver).
    tls: TlsHandle,
    /// Where WebSocket connections accepted by the HTTP port are handed in.
    ws: WsAcceptor,
    stats: Arc<SipStats>,
    transactions: Arc<AtomicUsize>,
}

impl Endpoint {
    /// Bind the transports and start the driver task. Returns the handle and the
    /// stream of server-side events for the TU.
    pub async fn start(cfg: EndpointConfig, stats: Arc<SipStats>) -> std::io::Result<Endpoint> {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let thread_stats = stats.clone();
        let transactions = Arc::new(AtomicUsize::new(0));
        let live = transactions.clone();
        // The endpoint runs on its own thread with a single-threaded runtime that
        // owns its sockets: a datagram is received, parsed, matched and answered
        // on one thread, without the multi-thread scheduler waking other workers
        // for every message (that cost more than the SIP work itself under load).
        std::thread::Builder::new()
            .name(format!("sip-{}", cfg.bind.port()))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let (in_tx, in_rx) = mpsc::unbounded_channel();
                    let transports = match Transports::bind(
                        cfg.bind,
                        in_tx,
                        thread_stats,
                        cfg.log_messages,
                        cfg.tcp.clone(),
                        cfg.tls.clone(),
                    )
                    .await
                    {
                        Ok(t) => t,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok((
                        transports.local_addr(),
                        transports.tls_handle(),
                        transports.ws_acceptor(),
                    )));
                    let driver = Driver {
                        layer: TransactionLayer::new(cfg.timers.clone()),
                        transports,
                        sinks: HashMap::new(),
                        tu: None,
                        events: Vec::new(),
                        live,
                    };
                    driver.run(in_rx, cmd_rx).await;
                });
            })?;
        let (local, tls, ws) = ready_rx
            .await
            .map_err(|_| std::io::Error::other("SIP endpoint thread ended before binding"))??;
        Ok(Endpoint {
            cmd: cmd_tx,
            local,
            tls,
            ws,
            stats,
            transactions,
        })
    }

    /// Install the transaction user. Requests that arrive before it is set get 503.
    pub fn set_tu(&self, tu: Box<dyn Tu>) {
        let _ = self.cmd.send(Command::SetTu(tu));
    }

    /// The bound local address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Where the TLS listener is bound, if this endpoint has one.
    pub fn tls_local_addr(&self) -> Option<SocketAddr> {
        self.tls.local_addr()
    }

    /// Where the WSS listener is bound, if this endpoint has one.
    pub fn wss_local_addr(&self) -> Option<SocketAddr> {
        self.tls.wss_local_addr()
    }

    /// Where a WebSocket connection accepted elsewhere (the HTTP port's
    /// `/ws`) is handed to this endpoint's transports.
    pub fn ws_acceptor(&self) -> &WsAcceptor {
        &self.ws
    }

    /// The name a TLS server at `addr` must prove (the configured host of a
    /// gateway); see [`Transports::set_tls_name`].
    pub fn set_tls_name(&self, addr: SocketAddr, host: &str) -> Result<(), String> {
        self.tls.set_name(addr, host)
    }

    /// Transport counters.
    pub fn stats(&self) -> &Arc<SipStats> {
        &self.stats
    }

    /// Live transactions (client and server), as of the driver's last turn:
    /// state that traffic made, so a flood that leaves some shows up here.
    pub fn transactions(&self) -> usize {
        self.transactions.load(Ordering::Relaxed)
    }

    /// Send a request in a new client transaction; events go to `sink`.
    pub fn send_request(&self, request: rsip::Request, to: Peer, sink: ClientSink) {
        let _ = self.cmd.send(Command::Request(request, to, sink));
    }

    /// Answer on a server transaction.
    pub fn respond(&self, tx: TxId, response: rsip::Response) {
        let _ = self.cmd.send(Command::Respond(tx, response));
    }

    /// Send bytes outside any transaction (ACK for 2xx).
    pub fn send_stateless(&self, payload: Bytes, to: Peer) {
        let _ = self.cmd.send(Command::Stateless(payload, to));
    }

    /// CANCEL a pending client INVITE.
    pub fn cancel(&self, invite: TxId) {
        let _ = self.cmd.send(Command::Cancel(invite));
    }
}

struct Driver {
    layer: TransactionLayer,
    transports: Transports,
    sinks: HashMap<TxId, ClientSink>,
    tu: Option<Box<dyn Tu>>,
    events: Vec<ServerEvent>,
    /// Where the number of live transactions is published.
    live: Arc<AtomicUsize>,
}

/// Work items taken per wake-up before flushing outputs: batching keeps the
/// per-message cost low under load without starving the timer.
const BATCH: usize = 128;

impl Driver {
    async fn run(
        mut self,
        mut inbound: mpsc::UnboundedReceiver<Inbound>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        let udp = self.transports.udp_socket();
        // One byte more than the limit, so an oversized datagram is recognisable.
        let mut buf = vec![0u8; MAX_MESSAGE_SIZE + 1];
        loop {
            let deadline = self.layer.next_deadline();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                cmd = commands.recv() => {
                    let Some(cmd) = cmd else { break };
                    let now = Instant::now();
                    self.command(cmd, now);
                    for _ in 0..BATCH {
                        match commands.try_recv() {
                            Ok(c) => self.command(c, now),
                            Err(_) => break,
                        }
                    }
                }
                ready = udp.readable() => {
                    if ready.is_ok() {
                        self.receive_datagrams(&udp, &mut buf);
                    }
                }
                msg = inbound.recv() => {
                    let Some(r) = msg else { break };
                    let now = Instant::now();
                    self.received(r, now);
                    for _ in 0..BATCH {
                        match inbound.try_recv() {
                            Ok(r) => self.received(r, now),
                            Err(_) => break,
                        }
                    }
                }
                _ = sleep => {
                    self.layer.handle_timeout(Instant::now());
                }
            }
            self.flush();
        }
    }

    /// Drain up to a batch of datagrams that are ready, parsing and handling each.
    fn receive_datagrams(&mut self, udp: &tokio::net::UdpSocket, buf: &mut [u8]) {
        let now = Instant::now();
        for _ in 0..BATCH {
            match udp.try_recv_from(buf) {
                Ok((n, addr)) => {
                    let from = Peer::udp(addr);
                    let data = buf.get(..n).unwrap_or_default();
                    if let Some(msg) = self.transports.accept_datagram(data, from) {
                        self.inbound(msg, from, now);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                // ICMP port-unreachable and the like surface here: not fatal.
                Err(e) => tracing::trace!("udp recv error: {e}"),
            }
        }
    }

    /// What a stream or WebSocket connection reported.
    fn received(&mut self, r: Inbound, now: Instant) {
        match r {
            Inbound::Message(r) => self.inbound(r.msg, r.from, now),
            Inbound::Closed(peer) => self.events.push(ServerEvent::ConnectionClosed(peer)),
        }
    }

    /// A parsed message: requests pass the TU's screen first.
    fn inbound(&mut self, msg: rsip::SipMessage, from: Peer, now: Instant) {
        if let (rsip::SipMessage::Request(req), Some(tu)) = (&msg, self.tu.as_mut()) {
            if !tu.screen(req, from) {
                return;
            }
        }
        self.layer.handle_inbound(msg, from, now);
    }

    fn command(&mut self, cmd: Command, now: Instant) {
        match cmd {
            Command::Request(req, to, sink) => {
                let id = self.layer.send_request(req, to, now);
                sink(ClientEvent::Sent(id));
                self.sinks.insert(id, sink);
            }
            Command::Respond(tx, resp) => {
                if let Err(e) = self.layer.send_response(tx, resp, now) {
                    tracing::debug!("response on {tx:?} not sent: {e}");
                }
            }
            Command::Stateless(payload, to) => self.layer.send_stateless(payload, to),
            Command::Cancel(tx) => match self.layer.cancel(tx, now) {
                Ok(Some(cancel_tx)) => {
                    // The CANCEL's own 200 is of no interest to the TU.
                    self.sinks.insert(cancel_tx, Arc::new(|_| {}));
                }
                Ok(None) => {}
                Err(e) => tracing::debug!("cancel of {tx:?} not sent: {e}"),
            },
            Command::SetTu(tu) => self.tu = Some(tu),
        }
    }

    /// Put out what the layer wants sent, deliver client events to their sinks,
    /// and run the TU on server events — repeatedly, since TU answers produce
    /// more to send.
    fn flush(&mut self) {
        loop {
            while let Some(t) = self.layer.poll_transmit() {
                self.transports.send(t);
            }
            while let Some(ev) = self.layer.poll_event() {
                match ev {
                    TuEvent::Request {
                        tx,
                        request,
                        from,
                        cancels,
                    } => self.events.push(ServerEvent::Request {
                        tx,
                        request,
                        from,
                        cancels,
                    }),
                    TuEvent::Ack { request, from } => {
                        self.events.push(ServerEvent::Ack { request, from })
                    }
                    TuEvent::StrayResponse { response, from } => self
                        .events
                        .push(ServerEvent::StrayResponse { response, from }),
                    TuEvent::AckTimeout { tx } => self.events.push(ServerEvent::AckTimeout(tx)),
                    TuEvent::Response { tx, response } => {
                        if let Some(sink) = self.sinks.get(&tx) {
                            sink(ClientEvent::Response(tx, response));
                        }
                    }
                    TuEvent::Timeout { tx } => {
                        if let Some(sink) = self.sinks.get(&tx) {
                            sink(ClientEvent::Timeout(tx));
                        }
                    }
                    TuEvent::Terminated { tx } => {
                        self.sinks.remove(&tx);
                    }
                }
            }
            if self.events.is_empty() {
                break;
            }
            let now = Instant::now();
            let mut events = std::mem::take(&mut self.events);
            for ev in events.drain(..) {
                let mut out = Outbox {
                    layer: &mut self.layer,
                    now,
                };
                match self.tu.as_mut() {
                    Some(tu) => tu.on_event(ev, &mut out),
                    None => {
                        if let ServerEvent::Request { tx, request, .. } = ev {
                            let r = crate::message::response(
                                &request,
                                crate::message::status_with_reason(503, "Starting Up"),
                                Some(&crate::message::new_tag()),
                            );
                            out.respond(tx, r);
                        }
                    }
                }
            }
            // Reuse the allocation next time round.
            self.events = events;
        }
        self.live.store(self.layer.len(), Ordering::Relaxed);
    }
}
