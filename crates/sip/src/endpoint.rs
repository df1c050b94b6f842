//! The tokio driver around the sans-IO transaction layer: one task per SIP
//! profile owns a [`TransactionLayer`], the clock and the transports. Requests for
//! the TU go out on a channel; responses to client transactions go to the sink
//! the TU gave when it sent the request.

use crate::peer::{Peer, Transmit};
use crate::transaction::{TransactionLayer, TuEvent, TxConfig, TxId};
use crate::transport::{Received, SipStats, Transports};
use bytes::Bytes;
use std::collections::HashMap;
use std::net::SocketAddr;
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
}

enum Command {
    Request(rsip::Request, Peer, ClientSink),
    Respond(TxId, rsip::Response),
    Stateless(Bytes, Peer),
    Cancel(TxId),
    Len(tokio::sync::oneshot::Sender<usize>),
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
}

/// A cloneable handle the TU uses to send.
#[derive(Clone)]
pub struct Endpoint {
    cmd: mpsc::UnboundedSender<Command>,
    local: SocketAddr,
    stats: Arc<SipStats>,
}

impl Endpoint {
    /// Bind the transports and start the driver task. Returns the handle and the
    /// stream of server-side events for the TU.
    pub async fn start(
        cfg: EndpointConfig,
        stats: Arc<SipStats>,
    ) -> std::io::Result<(Endpoint, mpsc::UnboundedReceiver<ServerEvent>)> {
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let transports = Transports::bind(cfg.bind, in_tx, stats.clone(), cfg.log_messages).await?;
        let local = transports.local_addr();
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let driver = Driver {
            layer: TransactionLayer::new(cfg.timers.clone()),
            transports,
            sinks: HashMap::new(),
            events: ev_tx,
        };
        tokio::spawn(driver.run(in_rx, cmd_rx));
        Ok((
            Endpoint {
                cmd: cmd_tx,
                local,
                stats,
            },
            ev_rx,
        ))
    }

    /// The bound local address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Transport counters.
    pub fn stats(&self) -> &Arc<SipStats> {
        &self.stats
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

    /// Number of live transactions (for tests and metrics).
    pub async fn transaction_count(&self) -> usize {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = self.cmd.send(Command::Len(tx));
        rx.await.unwrap_or(0)
    }
}

struct Driver {
    layer: TransactionLayer,
    transports: Transports,
    sinks: HashMap<TxId, ClientSink>,
    events: mpsc::UnboundedSender<ServerEvent>,
}

/// Work items taken per wake-up before flushing outputs: batching keeps the
/// per-message cost low under load without starving the timer.
const BATCH: usize = 64;

impl Driver {
    async fn run(
        mut self,
        mut inbound: mpsc::UnboundedReceiver<Received>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
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
                msg = inbound.recv() => {
                    let Some(r) = msg else { break };
                    let now = Instant::now();
                    self.layer.handle_inbound(r.msg, r.from, now);
                    for _ in 0..BATCH {
                        match inbound.try_recv() {
                            Ok(r) => self.layer.handle_inbound(r.msg, r.from, now),
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
            Command::Len(reply) => {
                let _ = reply.send(self.layer.len());
            }
        }
    }

    fn flush(&mut self) {
        while let Some(t) = self.layer.poll_transmit() {
            self.send(t);
        }
        while let Some(ev) = self.layer.poll_event() {
            match ev {
                TuEvent::Request {
                    tx,
                    request,
                    from,
                    cancels,
                } => {
                    let _ = self.events.send(ServerEvent::Request {
                        tx,
                        request,
                        from,
                        cancels,
                    });
                }
                TuEvent::Ack { request, from } => {
                    let _ = self.events.send(ServerEvent::Ack { request, from });
                }
                TuEvent::StrayResponse { response, from } => {
                    let _ = self
                        .events
                        .send(ServerEvent::StrayResponse { response, from });
                }
                TuEvent::AckTimeout { tx } => {
                    let _ = self.events.send(ServerEvent::AckTimeout(tx));
                }
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
    }

    fn send(&self, t: Transmit) {
        self.transports.send(t);
    }
}
