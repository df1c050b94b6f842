use super::*;
use crate::ports::PortAllocator;

const SERVER: &str = "192.0.2.1:3478";
const ID: [u8; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

fn server() -> SocketAddr {
    SERVER.parse().expect("addr")
}

/// A STUN message of type `typ` for transaction `id` with `attrs`
/// (type, value) in order, padded as RFC 8489 says.
fn message(typ: u16, id: &[u8; 12], attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (t, v) in attrs {
        body.extend_from_slice(&t.to_be_bytes());
        body.extend_from_slice(&(v.len() as u16).to_be_bytes());
        body.extend_from_slice(v);
        while body.len() % 4 != 0 {
            body.push(0);
        }
    }
    let mut m = typ.to_be_bytes().to_vec();
    m.extend_from_slice(&(body.len() as u16).to_be_bytes());
    m.extend_from_slice(&MAGIC);
    m.extend_from_slice(id);
    m.extend_from_slice(&body);
    m
}

/// An XOR-MAPPED-ADDRESS value for `a` in transaction `id`.
fn xor_value(a: SocketAddr, id: &[u8; 12]) -> Vec<u8> {
    let mut key = MAGIC.to_vec();
    key.extend_from_slice(id);
    let mut v = vec![0, if a.is_ipv4() { 1 } else { 2 }];
    v.extend_from_slice(&(a.port() ^ 0x2112).to_be_bytes());
    let ip = match a.ip() {
        IpAddr::V4(ip) => ip.octets().to_vec(),
        IpAddr::V6(ip) => ip.octets().to_vec(),
    };
    v.extend(ip.iter().zip(&key).map(|(b, k)| b ^ k));
    v
}

/// A MAPPED-ADDRESS value (IPv4) for `a`.
fn plain_value(a: SocketAddr) -> Vec<u8> {
    let mut v = vec![0, 1];
    v.extend_from_slice(&a.port().to_be_bytes());
    if let IpAddr::V4(ip) = a.ip() {
        v.extend_from_slice(&ip.octets());
    }
    v
}

#[test]
fn the_request_is_a_bare_binding_request_with_our_transaction_id() {
    let p = BindingProbe::with_id(server(), ID, Instant::now());
    let r = p.request();
    assert_eq!(r.len(), 20);
    assert_eq!(&r[0..2], &[0x00, 0x01], "Binding request");
    assert_eq!(&r[2..4], &[0, 0], "no attributes");
    assert_eq!(&r[4..8], &MAGIC);
    assert_eq!(&r[8..20], &ID);
    // Random ids differ from probe to probe.
    let a = BindingProbe::new(server(), Instant::now());
    let b = BindingProbe::new(server(), Instant::now());
    assert_ne!(a.request()[8..20], b.request()[8..20]);
}

#[test]
fn requests_are_retransmitted_at_doubling_intervals_and_given_up_after_the_budget() {
    let t0 = Instant::now();
    let ms = |n| t0 + Duration::from_millis(n);
    let mut p = BindingProbe::with_id(server(), ID, t0);
    assert_eq!(p.poll(t0), Next::Send);
    assert_eq!(p.poll(t0), Next::Wait(ms(100)));
    assert_eq!(p.poll(ms(60)), Next::Wait(ms(100)), "nothing early");
    assert_eq!(p.poll(ms(100)), Next::Send);
    assert_eq!(p.poll(ms(100)), Next::Wait(ms(300)));
    // Late (a slow wakeup): sent at once, the schedule moves from then.
    assert_eq!(p.poll(ms(310)), Next::Send);
    // The next one (310 + 400) is past the budget: only the deadline.
    assert_eq!(p.poll(ms(310)), Next::Wait(ms(500)));
    assert_eq!(p.poll(ms(499)), Next::Wait(ms(500)));
    assert_eq!(p.poll(ms(500)), Next::GiveUp);
    assert_eq!(p.poll(ms(900)), Next::GiveUp);
}

#[test]
fn a_probe_polled_only_after_its_budget_gives_up_without_sending() {
    let t0 = Instant::now();
    let mut p = BindingProbe::with_id(server(), ID, t0);
    assert_eq!(p.poll(t0 + BUDGET), Next::GiveUp);
}

#[test]
fn the_xor_mapped_address_of_a_success_response_is_the_answer() {
    let p = BindingProbe::with_id(server(), ID, Instant::now());
    let v4: SocketAddr = "203.0.113.7:40000".parse().expect("addr");
    let ok = message(
        BINDING_SUCCESS,
        &ID,
        &[
            (0x8022, b"coturn".to_vec()), // SOFTWARE, padded
            (XOR_MAPPED_ADDRESS, xor_value(v4, &ID)),
            (0x8028, vec![0; 4]), // FINGERPRINT (not checked)
        ],
    );
    assert_eq!(p.on_datagram(server(), &ok), Ok(v4));
    let v6: SocketAddr = "[2001:db8::5]:3000".parse().expect("addr");
    let ok6 = message(
        BINDING_SUCCESS,
        &ID,
        &[(XOR_MAPPED_ADDRESS, xor_value(v6, &ID))],
    );
    assert_eq!(p.on_datagram(server(), &ok6), Ok(v6));
}

#[test]
fn an_old_servers_mapped_address_is_used_but_the_xor_one_wins() {
    let p = BindingProbe::with_id(server(), ID, Instant::now());
    let public: SocketAddr = "203.0.113.7:40000".parse().expect("addr");
    let rewritten: SocketAddr = "10.0.0.9:40000".parse().expect("addr");
    let old = message(
        BINDING_SUCCESS,
        &ID,
        &[(MAPPED_ADDRESS, plain_value(public))],
    );
    assert_eq!(p.on_datagram(server(), &old), Ok(public));
    // A NAT that rewrote the plain address in the payload: XOR is right.
    let both = message(
        BINDING_SUCCESS,
        &ID,
        &[
            (MAPPED_ADDRESS, plain_value(rewritten)),
            (XOR_MAPPED_ADDRESS, xor_value(public, &ID)),
        ],
    );
    assert_eq!(p.on_datagram(server(), &both), Ok(public));
}

#[cfg(feature = "webrtc")]
#[test]
fn a_response_encoded_by_str0m_is_understood() {
    use str0m::ice::{StunMessage, TransId};
    let mapped: SocketAddr = "198.51.100.20:61000".parse().expect("addr");
    let mut buf = [0u8; 200];
    let n = StunMessage::binding_reply(TransId::new(), mapped)
        .to_bytes(None, &mut buf, |_, _| [0; 20])
        .expect("encoded");
    let mut id = [0u8; 12];
    id.copy_from_slice(&buf[8..20]);
    let p = BindingProbe::with_id(server(), id, Instant::now());
    assert_eq!(p.on_datagram(server(), &buf[..n]), Ok(mapped));
}

#[test]
fn anything_but_the_servers_answer_to_this_transaction_is_ignored() {
    let p = BindingProbe::with_id(server(), ID, Instant::now());
    let a: SocketAddr = "203.0.113.7:40000".parse().expect("addr");
    let ok = message(
        BINDING_SUCCESS,
        &ID,
        &[(XOR_MAPPED_ADDRESS, xor_value(a, &ID))],
    );
    let stranger: SocketAddr = "192.0.2.66:3478".parse().expect("addr");
    assert_eq!(p.on_datagram(stranger, &ok), Err(Ignored::OtherSource));
    let mut other_id = ID;
    other_id[11] ^= 1;
    let stale = message(
        BINDING_SUCCESS,
        &other_id,
        &[(XOR_MAPPED_ADDRESS, xor_value(a, &other_id))],
    );
    assert_eq!(
        p.on_datagram(server(), &stale),
        Err(Ignored::OtherTransaction)
    );
    let error = message(0x0111, &ID, &[(0x0009, vec![0, 0, 4, 0])]);
    assert_eq!(p.on_datagram(server(), &error), Err(Ignored::NotSuccess));
    let request = message(BINDING_REQUEST, &ID, &[]);
    assert_eq!(p.on_datagram(server(), &request), Err(Ignored::NotSuccess));
    let empty = message(BINDING_SUCCESS, &ID, &[(0x8022, b"x".to_vec())]);
    assert_eq!(p.on_datagram(server(), &empty), Err(Ignored::NoAddress));
    let zero = message(
        BINDING_SUCCESS,
        &ID,
        &[(
            XOR_MAPPED_ADDRESS,
            xor_value("0.0.0.0:0".parse().expect("addr"), &ID),
        )],
    );
    assert_eq!(p.on_datagram(server(), &zero), Err(Ignored::Malformed));
    // RTP, DTLS, a truncated header, a bad cookie, a length that lies.
    let mut rtp = vec![0x80, 0x00, 0, 1];
    rtp.extend_from_slice(&[0; 168]);
    assert_eq!(p.on_datagram(server(), &rtp), Err(Ignored::Malformed));
    assert_eq!(
        p.on_datagram(server(), &[22, 254, 253]),
        Err(Ignored::Malformed)
    );
    assert_eq!(p.on_datagram(server(), &ok[..19]), Err(Ignored::Malformed));
    let mut cookie = ok.clone();
    cookie[5] ^= 0xff;
    assert_eq!(p.on_datagram(server(), &cookie), Err(Ignored::Malformed));
    let mut long = ok.clone();
    long[3] += 4;
    assert_eq!(p.on_datagram(server(), &long), Err(Ignored::Malformed));
    // An attribute claiming more than the message holds.
    let mut overrun = message(BINDING_SUCCESS, &ID, &[(XOR_MAPPED_ADDRESS, vec![0; 8])]);
    overrun[22..24].copy_from_slice(&200u16.to_be_bytes());
    assert_eq!(p.on_datagram(server(), &overrun), Err(Ignored::Malformed));
    // An address of the wrong length for its family.
    let short = message(
        BINDING_SUCCESS,
        &ID,
        &[(XOR_MAPPED_ADDRESS, vec![0, 2, 0, 1, 1, 2, 3, 4])],
    );
    assert_eq!(p.on_datagram(server(), &short), Err(Ignored::Malformed));
}

#[test]
fn random_and_mangled_datagrams_never_panic() {
    let p = BindingProbe::with_id(server(), ID, Instant::now());
    let a: SocketAddr = "203.0.113.7:40000".parse().expect("addr");
    let ok = message(
        BINDING_SUCCESS,
        &ID,
        &[(XOR_MAPPED_ADDRESS, xor_value(a, &ID))],
    );
    let mut rng = fastrand::Rng::with_seed(8489);
    for _ in 0..20_000 {
        let mut d = ok.clone();
        match rng.u8(..3) {
            0 => {
                let i = rng.usize(..d.len());
                d[i] = rng.u8(..);
            }
            1 => d.truncate(rng.usize(..d.len())),
            _ => {
                let n = rng.usize(..64);
                d = ok[..20].to_vec();
                d.extend((0..n).map(|_| rng.u8(..)));
                let len = (d.len() - 20) as u16;
                d[2..4].copy_from_slice(&len.to_be_bytes());
            }
        }
        let _ = p.on_datagram(server(), &d);
    }
}

/// A STUN server on loopback that answers every Binding request with
/// `mapped` after dropping the first `drop_first` requests; also sends a
/// stray datagram before each answer. Returns its address.
async fn responder(mapped: SocketAddr, drop_first: usize) -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = sock.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        let mut seen = 0;
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            seen += 1;
            if n < 20 || seen <= drop_first {
                continue;
            }
            let mut id = [0u8; 12];
            id.copy_from_slice(&buf[8..20]);
            let mut wrong = id;
            wrong[0] ^= 0xff;
            let stray = message(
                BINDING_SUCCESS,
                &wrong,
                &[(XOR_MAPPED_ADDRESS, xor_value(mapped, &wrong))],
            );
            let _ = sock.send_to(&stray, from).await;
            let ok = message(
                BINDING_SUCCESS,
                &id,
                &[(XOR_MAPPED_ADDRESS, xor_value(mapped, &id))],
            );
            let _ = sock.send_to(&ok, from).await;
        }
    });
    addr
}

#[tokio::test]
async fn discover_retransmits_ignores_strays_and_returns_the_mapping() {
    let mapped: SocketAddr = "127.0.0.9:45000".parse().expect("addr");
    let server = responder(mapped, 1).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let stats = StunStats::default();
    let t0 = Instant::now();
    assert_eq!(discover(&sock, server, &stats).await, Some(mapped));
    let took = t0.elapsed();
    assert!(
        took >= INITIAL_RTO && took < BUDGET,
        "answered on the retransmission: {took:?}"
    );
    assert_eq!(stats.ignored.load(Relaxed), 1, "the stray answer");
}

#[tokio::test]
async fn a_silent_server_costs_the_budget_and_no_more() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let server = silent.local_addr().expect("addr");
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let t0 = Instant::now();
    assert_eq!(discover(&sock, server, &StunStats::default()).await, None);
    let took = t0.elapsed();
    assert!(
        took >= BUDGET && took < BUDGET + Duration::from_millis(200),
        "{took:?}"
    );
    // Three requests: at 0, 100 and 300 ms.
    silent.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 100];
    let mut got = 0;
    while let Ok((n, _)) = silent.recv_from(&mut buf) {
        assert_eq!(n, 20);
        got += 1;
    }
    assert_eq!(got, 3);
}

#[tokio::test]
async fn the_allocator_hands_out_pairs_whose_mapping_was_learnt_on_their_own_socket() {
    let mapped: SocketAddr = "127.0.0.9:45000".parse().expect("addr");
    let server = responder(mapped, 0).await;
    let pool = PortAllocator::new("127.0.0.1".parse().expect("ip"), 31700, 31739).expect("pool");
    pool.enable_stun(server).expect("stun");
    let stats = pool.stun_stats().expect("stats");
    let until = Instant::now() + Duration::from_secs(5);
    while stats.successes.load(Relaxed) < stun_target(&pool) as u64 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(pool.in_use(), 0, "ready pairs are not in use");
    let pair = pool.allocate().expect("a pair");
    let mappings = pool.mappings().expect("mappings");
    assert_eq!(mappings.get(pair.port), Some(mapped));
    assert_eq!(pool.in_use(), 1);
    assert_eq!(stats.unmapped.load(Relaxed), 0);
    let port = pair.port;
    drop(pair);
    assert_eq!(mappings.get(port), None, "forgotten with its pair");
}

#[tokio::test]
async fn with_a_silent_server_pairs_come_without_a_mapping_and_failures_are_counted() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let pool = PortAllocator::new("127.0.0.1".parse().expect("ip"), 31740, 31779).expect("pool");
    pool.enable_stun(silent.local_addr().expect("addr"))
        .expect("stun");
    let stats = pool.stun_stats().expect("stats");
    let until = Instant::now() + Duration::from_secs(5);
    while stats.failures.load(Relaxed) == 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stats.failures.load(Relaxed) > 0);
    let pair = pool.allocate().expect("a pair all the same");
    assert_eq!(pool.mappings().expect("mappings").get(pair.port), None);
    assert_eq!(stats.unmapped.load(Relaxed), 1);
}

fn stun_target(pool: &PortAllocator) -> usize {
    warm_target(pool.capacity())
}
