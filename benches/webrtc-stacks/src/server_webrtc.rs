//! The webrtc-rs server: one `RTCPeerConnection` per call (ICE-lite, DTLS passive, host
//! candidate on 127.0.0.1 only), the standard "reflect" shape: the remote track's RTP packets
//! are written back on a local `TrackLocalStaticRTP`. webrtc-rs spawns its own tasks per
//! connection on the ambient tokio runtime.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use webrtc::api::interceptor_registry::register_default_interceptors;
use webrtc::api::media_engine::{MediaEngine, MIME_TYPE_OPUS, MIME_TYPE_PCMU};
use webrtc::api::setting_engine::SettingEngine;
use webrtc::api::{APIBuilder, API};
use webrtc::dtls_transport::dtls_role::DTLSRole;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice::network_type::NetworkType;
use webrtc::ice::udp_mux::{UDPMuxDefault, UDPMuxParams};
use webrtc::ice::udp_network::UDPNetwork;
use webrtc::interceptor::registry::Registry;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::rtp_transceiver::rtp_codec::{
    RTCRtpCodecCapability, RTCRtpCodecParameters, RTPCodecType,
};
use webrtc::track::track_local::track_local_static_rtp::TrackLocalStaticRTP;
use webrtc::track::track_local::{TrackLocal, TrackLocalWriter};

use crate::server_str0m::Counters;

fn opus() -> RTCRtpCodecCapability {
    RTCRtpCodecCapability {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// Builds the API object shared by all calls. With `shared_socket`, every call's ICE agent
/// goes through one UDP socket (`UDPMuxDefault`, demultiplexed by ICE ufrag) instead of one
/// socket per call.
pub async fn build_api(shared_socket: Option<std::net::SocketAddr>) -> Result<API, String> {
    let mut m = MediaEngine::default();
    m.register_codec(
        RTCRtpCodecParameters {
            capability: opus(),
            payload_type: 111,
            ..Default::default()
        },
        RTPCodecType::Audio,
    )
    .map_err(|e| e.to_string())?;
    m.register_codec(
        RTCRtpCodecParameters {
            capability: RTCRtpCodecCapability {
                mime_type: MIME_TYPE_PCMU.to_owned(),
                clock_rate: 8000,
                channels: 0,
                sdp_fmtp_line: String::new(),
                rtcp_feedback: vec![],
            },
            payload_type: 0,
            ..Default::default()
        },
        RTPCodecType::Audio,
    )
    .map_err(|e| e.to_string())?;
    // The usual set (RTCP sender/receiver reports, TWCC receiver; NACK is for video only).
    let registry =
        register_default_interceptors(Registry::new(), &mut m).map_err(|e| e.to_string())?;

    let mut s = SettingEngine::default();
    s.set_lite(true);
    s.set_answering_dtls_role(DTLSRole::Server)
        .map_err(|e| e.to_string())?;
    s.set_network_types(vec![NetworkType::Udp4]);
    s.set_include_loopback_candidate(true);
    s.set_ip_filter(Box::new(|ip| ip.is_loopback()));
    s.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
    if let Some(addr) = shared_socket {
        let sock = tokio::net::UdpSocket::bind(addr)
            .await
            .map_err(|e| format!("bind {addr}: {e}"))?;
        s.set_udp_network(UDPNetwork::Muxed(UDPMuxDefault::new(UDPMuxParams::new(
            sock,
        ))));
    }
    Ok(APIBuilder::new()
        .with_media_engine(m)
        .with_interceptor_registry(registry)
        .with_setting_engine(s)
        .build())
}

/// Creates and closes one peer connection, so that one-time costs are paid at start (as in a
/// long-running server), not by the first call.
pub async fn warm_up(api: &API) -> Result<(), String> {
    let pc = api
        .new_peer_connection(RTCConfiguration::default())
        .await
        .map_err(|e| format!("new_peer_connection: {e}"))?;
    pc.close().await.map_err(|e| format!("close: {e}"))
}

/// Accepts `offer` for a new call and returns the answer once the host candidate is gathered.
pub async fn answer(api: &API, offer: String, counters: Arc<Counters>) -> Result<String, String> {
    let pc = Arc::new(
        api.new_peer_connection(RTCConfiguration::default())
            .await
            .map_err(|e| format!("new_peer_connection: {e}"))?,
    );
    let track = Arc::new(TrackLocalStaticRTP::new(
        opus(),
        "audio".to_owned(),
        "echo".to_owned(),
    ));
    let sender = pc
        .add_track(Arc::clone(&track) as Arc<dyn TrackLocal + Send + Sync>)
        .await
        .map_err(|e| format!("add_track: {e}"))?;
    // Incoming RTCP must be read for the interceptors to see it.
    tokio::spawn(async move {
        let mut b = vec![0u8; 1500];
        while sender.read(&mut b).await.is_ok() {}
    });

    let echo_counters = Arc::clone(&counters);
    pc.on_track(Box::new(move |remote, _receiver, _transceiver| {
        let track = Arc::clone(&track);
        let counters = Arc::clone(&echo_counters);
        Box::pin(async move {
            tokio::spawn(async move {
                let mut echoed = 0u64;
                while let Ok((pkt, _)) = remote.read_rtp().await {
                    if track.write_rtp(&pkt).await.is_err() {
                        break;
                    }
                    echoed += 1;
                    if echoed >= 1000 {
                        counters.echoed.fetch_add(echoed, Ordering::Relaxed);
                        echoed = 0;
                    }
                }
                counters.echoed.fetch_add(echoed, Ordering::Relaxed);
            });
        })
    }));

    // The peer connection is kept by this task until it fails or closes (callbacks must not
    // hold it: that would be a cycle).
    let (state_tx, mut state_rx) = tokio::sync::mpsc::unbounded_channel();
    pc.on_peer_connection_state_change(Box::new(move |st: RTCPeerConnectionState| {
        let _ = state_tx.send(st);
        Box::pin(async {})
    }));

    let offer = RTCSessionDescription::offer(offer).map_err(|e| format!("bad SDP offer: {e}"))?;
    pc.set_remote_description(offer)
        .await
        .map_err(|e| format!("offer refused: {e}"))?;
    let answer = pc
        .create_answer(None)
        .await
        .map_err(|e| format!("create_answer: {e}"))?;
    let mut gathered = pc.gathering_complete_promise().await;
    pc.set_local_description(answer)
        .await
        .map_err(|e| format!("set_local_description: {e}"))?;
    let _ = gathered.recv().await;
    let local = pc
        .local_description()
        .await
        .ok_or_else(|| "no local description".to_owned())?;

    counters.calls.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(async move {
        while let Some(st) = state_rx.recv().await {
            if matches!(
                st,
                RTCPeerConnectionState::Failed
                    | RTCPeerConnectionState::Disconnected
                    | RTCPeerConnectionState::Closed
            ) {
                break;
            }
        }
        let _ = pc.close().await;
        counters.ended.fetch_add(1, Ordering::Relaxed);
    });
    Ok(local.sdp)
}
