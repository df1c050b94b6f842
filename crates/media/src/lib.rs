//! Media plane of Switchboard: SDP handling, RTP port allocation and the
//! anchored RTP/RTCP relay.
//!
//! This crate deliberately knows nothing about SIP or the database: the engine
//! hands it SDP text and socket addresses, and gets back rewritten SDP, port
//! pairs and a per-call relay handle. Media runs on its own Tokio runtime
//! ([`media_runtime`]) so that a burst of packets can never delay SIP timers.

#![warn(missing_docs)]

mod activity;
pub mod audio;
pub mod audio_file;
pub mod codec;
pub mod conference;
pub mod dtmf;
pub mod jitter;
pub mod latch;
pub mod mixer;
pub mod negotiate;
pub mod player;
pub mod ports;
pub mod recorder;
pub mod relay;
pub mod resample;
pub mod rtp_stream;
pub mod sdp;
pub mod session;
pub mod srtp;
pub mod stun;
pub mod tones;
pub mod webrtc;

pub use latch::{PayloadTypes, Remote};
pub use ports::{PortAllocator, RtpPortPair};
pub use relay::{Relay, RelayStats, Side};
pub use sdp::{Connection, Direction, MediaDescription, Origin, SdpError, SessionDescription};

/// Errors from port allocation and socket setup.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The configured port range holds no complete even/odd pair.
    #[error("invalid RTP port range {low}-{high}: need at least one even/odd pair, low > 0")]
    InvalidPortRange {
        /// Configured lower bound.
        low: u16,
        /// Configured upper bound.
        high: u16,
    },
    /// Every pair in the range is either allocated or taken by another process.
    #[error("no free RTP port pair in range {low}-{high}")]
    PortsExhausted {
        /// Configured lower bound.
        low: u16,
        /// Configured upper bound.
        high: u16,
    },
    /// Sockets must be registered with a Tokio reactor, and none was available.
    #[error("no Tokio runtime to register RTP sockets with (use PortAllocator::on_runtime)")]
    NoRuntime,
    /// An operating-system error other than "port in use" while binding.
    #[error("RTP socket error: {0}")]
    Io(#[from] std::io::Error),
}

/// Builds the dedicated multi-thread runtime that runs every relay task.
///
/// Threads are named "media" so they can be told apart in `top -H` and in
/// `/proc/<pid>/task/*/comm`; `threads` is clamped to at least one.
pub fn media_runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name("media")
        .enable_io()
        .enable_time()
        .build()
}
