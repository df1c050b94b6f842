//! The in-process event bus: calls and registrations publish typed events;
//! live views (the web's live pages, the wallboard, later the ACD) subscribe.
//!
//! It is a broadcast channel, so a slow subscriber loses old events rather than
//! slowing the engine; that is right for live views. Records that must never be
//! lost (CDRs) go through the CDR writer's own queue (in the calls layer)
//! instead.

use serde::Serialize;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Something that happened in the engine.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A contact was registered or refreshed.
    Registered {
        /// Extension.
        extension: String,
        /// Contact URI.
        contact: String,
        /// Where it registered from.
        source: String,
        /// Seconds until it lapses.
        expires: u32,
    },
    /// A contact went away (unregistered or removed).
    Unregistered {
        /// Extension.
        extension: String,
    },
    /// A call was accepted for routing.
    CallStarted {
        /// Engine call id.
        id: u64,
        /// Caller number.
        caller: String,
        /// Dialled number.
        callee: String,
        /// internal / inbound.
        direction: &'static str,
    },
    /// The callee's phone is ringing.
    CallRinging {
        /// Engine call id.
        id: u64,
    },
    /// The callee answered.
    CallAnswered {
        /// Engine call id.
        id: u64,
    },
    /// The call is over.
    CallEnded {
        /// Engine call id.
        id: u64,
        /// Hangup cause (CDR text).
        cause: &'static str,
        /// Final SIP code to the caller.
        sip_code: u16,
        /// caller / callee / system.
        hangup_by: &'static str,
    },
    /// Something happened in a queue (caller joined, agent offered, answered,
    /// abandoned, agent status changes...).
    Queue {
        /// The queue event.
        event: callcenter::acd::QueueEvent,
    },
    /// Call records reached the database: a batch of CDRs (its complete
    /// calls) or of queue events. Views computed from the records (the agent
    /// desk's figures of the day) read them again on this, not on the call's
    /// end, which comes before its records are written.
    RecordsStored {
        /// Whom they are about, each once: the callers and callees of the
        /// calls, the agents of the queue events.
        parties: Vec<String>,
    },
    /// A caller left a message in a mailbox, and it is stored (listed for
    /// the mailbox; its phones are told by MWI separately). Published by
    /// the voicemail application, so the web module can e-mail the
    /// mailbox's owner without polling the voicemail table.
    VoicemailLeft {
        /// Engine call id of the call that left it.
        call: u64,
        /// The message's id in the store.
        message: i64,
        /// The mailbox: the extension the call was for.
        mailbox: String,
        /// Caller number.
        caller: String,
        /// Length of the message, milliseconds.
        duration_ms: u64,
        /// When it was stored, unix ms.
        at_ms: i64,
    },
    /// A DTMF key was pressed on a call.
    Dtmf {
        /// Engine call id.
        id: u64,
        /// caller / callee.
        leg: &'static str,
        /// The key.
        digit: char,
    },
}

/// Publish/subscribe hub; cheap to publish when nobody listens.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(4096)
    }
}

impl EventBus {
    /// A bus keeping up to `capacity` events for slow subscribers.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        EventBus { tx }
    }

    /// Publish an event. It is only built when somebody subscribes, so the
    /// hot paths (thousands of REGISTERs a second) pay nothing otherwise.
    pub fn publish(&self, make: impl FnOnce() -> Event) {
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(Arc::new(make()));
        }
    }

    /// Subscribe to events published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_receive_published_events_in_order() {
        let bus = EventBus::new(8);
        bus.publish(|| Event::CallRinging { id: 0 });
        let mut rx = bus.subscribe();
        bus.publish(|| Event::CallStarted {
            id: 1,
            caller: "1000".into(),
            callee: "1001".into(),
            direction: "internal",
        });
        bus.publish(|| Event::CallAnswered { id: 1 });
        let first = rx.recv().await.expect("first event");
        assert!(matches!(*first, Event::CallStarted { id: 1, .. }));
        let second = rx.recv().await.expect("second event");
        assert!(matches!(*second, Event::CallAnswered { id: 1 }));
        let json = serde_json::to_string(&*second).expect("serialises");
        assert_eq!(json, r#"{"type":"call_answered","id":1}"#);
    }

    #[test]
    fn a_left_voicemail_serialises_with_its_mailbox_and_length() {
        let e = Event::VoicemailLeft {
            call: 7,
            message: 3,
            mailbox: "1001".into(),
            caller: "1000".into(),
            duration_ms: 1500,
            at_ms: 1_700_000_000_000,
        };
        let json = serde_json::to_value(&e).expect("serialises");
        assert_eq!(json["type"], "voicemail_left");
        assert_eq!(json["mailbox"], "1001");
        assert_eq!(json["duration_ms"], 1500);
    }
}
