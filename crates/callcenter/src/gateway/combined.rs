//! A gateway's registration and pings together, wired as mod_sofia wires
//! them: pings only while NOREG or REGED, and a failed ping while REGED
//! makes the gateway register again. One [`GatewayClient`] per trunk, one wakeup
//! per [`GatewayClient`], driven from a single task.

use super::ping::{Health, PingAction, PingEvent, PingId, PingStatus, Pinger};
use super::registration::{RegAction, RegResponse, RegState, RegStatus, Registration, RequestId};
use super::settings::GatewayConfig;
use std::time::Instant;

/// What the engine must send for a gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayAction {
    /// A REGISTER (or its Expires 0 form).
    Reg(RegAction),
    /// An OPTIONS ping.
    Ping(PingId),
}

/// Both halves of a gateway's status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayStatus {
    /// Registration.
    pub reg: RegStatus,
    /// OPTIONS pings.
    pub ping: PingStatus,
}

/// One gateway's registration client and pinger.
#[derive(Clone, Debug)]
pub struct GatewayClient {
    reg: Registration,
    ping: Pinger,
}

impl GatewayClient {
    /// A gateway as configured; its first REGISTER (and, for NOREG, its
    /// first ping) goes out at the first poll.
    pub fn new(cfg: GatewayConfig, now: Instant) -> Self {
        GatewayClient {
            reg: Registration::new(cfg.reg, now),
            ping: Pinger::new(cfg.ping, now),
        }
    }

    /// The registration half.
    pub fn registration(&self) -> &Registration {
        &self.reg
    }

    /// The ping half.
    pub fn pinger(&self) -> &Pinger {
        &self.ping
    }

    /// What to send now, if anything; call again until `None`.
    pub fn poll(&mut self, now: Instant) -> Option<GatewayAction> {
        loop {
            if let Some(action) = self.reg.poll(now) {
                return Some(GatewayAction::Reg(action));
            }
            match self.ping.poll(now, self.reg.state())? {
                PingAction::Send(id) => return Some(GatewayAction::Ping(id)),
                PingAction::Lost { event, .. } => self.apply(now, event),
            }
        }
    }

    /// The earlier of the two halves' wakeups.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let reg = self.reg.next_wakeup();
        let ping = self.ping.next_wakeup(self.reg.state());
        match (reg, ping) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// See [`Registration::on_response`].
    pub fn on_reg_response(&mut self, now: Instant, id: RequestId, r: &RegResponse) -> bool {
        self.reg.on_response(now, id, r)
    }

    /// See [`Registration::on_timeout`].
    pub fn on_reg_timeout(&mut self, now: Instant, id: RequestId) -> bool {
        self.reg.on_timeout(now, id)
    }

    /// See [`Registration::on_transport_error`].
    pub fn on_reg_transport_error(&mut self, now: Instant, id: RequestId, why: &str) -> bool {
        self.reg.on_transport_error(now, id, why)
    }

    /// The answer to a ping; a failure while REGED re-registers.
    pub fn on_ping_response(&mut self, now: Instant, id: PingId, code: u16) -> Option<PingEvent> {
        let event = self.ping.on_response(now, id, code)?;
        self.apply(now, event);
        Some(event)
    }

    /// A ping got no answer; while REGED the gateway re-registers.
    pub fn on_ping_timeout(&mut self, now: Instant, id: PingId) -> Option<PingEvent> {
        let event = self.ping.on_timeout(now, id)?;
        self.apply(now, event);
        Some(event)
    }

    /// A ping could not be sent; while REGED the gateway re-registers.
    pub fn on_ping_transport_error(
        &mut self,
        now: Instant,
        id: PingId,
        why: &str,
    ) -> Option<PingEvent> {
        let event = self.ping.on_transport_error(now, id, why)?;
        self.apply(now, event);
        Some(event)
    }

    /// New settings for both halves (see [`Registration::reconfigure`]).
    pub fn reconfigure(&mut self, cfg: GatewayConfig, now: Instant) {
        self.reg.reconfigure(cfg.reg, now);
        self.ping.reconfigure(cfg.ping, now);
    }

    /// The gateway was removed or disabled (see [`Registration::unregister`]);
    /// pings stop with it.
    pub fn unregister(&mut self, now: Instant) {
        self.reg.unregister(now);
    }

    /// Registers again now (see [`Registration::force_reregister`]).
    pub fn force_reregister(&mut self, now: Instant) {
        self.reg.force_reregister(now);
    }

    /// Whether calls may go out through the gateway at `now`: not being
    /// removed, registered if it registers, and not DOWN by its pings (no
    /// verdict yet counts as usable, so a new trunk is not refused calls
    /// before its first ping comes back).
    pub fn usable(&self, now: Instant) -> bool {
        let reg_ok = match self.reg.state() {
            RegState::Unregister | RegState::Down => false,
            RegState::NoReg => true,
            _ => self.reg.is_registered(now),
        };
        reg_ok && self.ping.health() != Health::Down
    }

    /// Registration and ping status.
    pub fn status(&self) -> GatewayStatus {
        GatewayStatus {
            reg: self.reg.status(),
            ping: self.ping.status(),
        }
    }

    fn apply(&mut self, now: Instant, event: PingEvent) {
        if event.reregister {
            self.reg.force_reregister(now);
        }
    }
}
