//! Port pair allocation on 127.0.0.1 (each test uses its own port range).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

use media::{MediaError, PortAllocator};

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[tokio::test]
async fn pairs_are_even_then_odd() {
    let alloc = PortAllocator::new(LOCAL, 29001, 29040).unwrap();
    assert_eq!(
        alloc.capacity(),
        19,
        "29002..=29039 as pairs; 29040 has no partner"
    );
    let mut seen = HashSet::new();
    let mut held = Vec::new();
    for _ in 0..10 {
        let pair = alloc.allocate().unwrap();
        assert_eq!(pair.port % 2, 0);
        assert!((29002..=29038).contains(&pair.port));
        assert_eq!(pair.rtp.local_addr().unwrap().port(), pair.port);
        assert_eq!(pair.rtcp.local_addr().unwrap().port(), pair.port + 1);
        assert!(seen.insert(pair.port), "port handed out twice");
        held.push(pair);
    }
    assert_eq!(alloc.in_use(), 10);
}

#[tokio::test]
async fn exhaustion_is_an_error() {
    let alloc = PortAllocator::new(LOCAL, 29100, 29105).unwrap();
    assert_eq!(alloc.capacity(), 3);
    let held: Vec<_> = (0..3).map(|_| alloc.allocate().unwrap()).collect();
    assert!(matches!(
        alloc.allocate(),
        Err(MediaError::PortsExhausted { .. })
    ));
    drop(held);
    assert_eq!(alloc.in_use(), 0);
    assert!(alloc.allocate().is_ok());
}

#[tokio::test]
async fn release_on_drop_without_immediate_reuse() {
    let alloc = PortAllocator::new(LOCAL, 29200, 29219).unwrap();
    assert_eq!(alloc.capacity(), 10);
    let first = alloc.allocate().unwrap();
    let port = first.port;
    assert_eq!(alloc.in_use(), 1);
    drop(first);
    assert_eq!(alloc.in_use(), 0);
    let next = alloc.allocate().unwrap();
    assert_ne!(
        next.port, port,
        "a just-freed port must not be reused at once"
    );
    // It comes back when nothing else is left.
    let mut held: Vec<_> = (0..8).map(|_| alloc.allocate().unwrap()).collect();
    assert!(held.iter().all(|p| p.port != port));
    held.push(alloc.allocate().unwrap());
    assert_eq!(held.last().map(|p| p.port), Some(port));
    assert!(matches!(
        alloc.allocate(),
        Err(MediaError::PortsExhausted { .. })
    ));
    drop(next);
}

#[tokio::test]
async fn ports_are_drawn_at_random() {
    // 50 pairs; 20 held at once: with sequential allocation every step would
    // be +2, at random hardly any is (about 1 in 50).
    let alloc = PortAllocator::new(LOCAL, 29500, 29599).unwrap();
    let held: Vec<_> = (0..20).map(|_| alloc.allocate().unwrap()).collect();
    let sequential = held
        .windows(2)
        .filter(|w| w[1].port == w[0].port + 2)
        .count();
    assert!(
        sequential < 10,
        "{:?}",
        held.iter().map(|p| p.port).collect::<Vec<_>>()
    );
    drop(held);
    // Allocated and freed one at a time, every pair comes up.
    let small = PortAllocator::new(LOCAL, 29600, 29619).unwrap();
    let mut seen = HashSet::new();
    for _ in 0..500 {
        seen.insert(small.allocate().unwrap().port);
    }
    assert_eq!(seen.len(), small.capacity(), "{seen:?}");
}

#[tokio::test]
async fn skips_ports_used_by_others() {
    // Someone else holds the RTCP port of the middle pair.
    let squatter = std::net::UdpSocket::bind((LOCAL, 29303)).unwrap();
    let alloc = PortAllocator::new(LOCAL, 29300, 29305).unwrap();
    let a = alloc.allocate().unwrap();
    let b = alloc.allocate().unwrap();
    let mut got = [a.port, b.port];
    got.sort();
    assert_eq!(got, [29300, 29304]);
    assert!(matches!(
        alloc.allocate(),
        Err(MediaError::PortsExhausted { .. })
    ));
    drop(squatter);
    assert_eq!(alloc.allocate().unwrap().port, 29302);
}

#[test]
fn invalid_ranges() {
    for (low, high) in [
        (0, 100),
        (5000, 5000),
        (5001, 5002),
        (6000, 5000),
        (65535, 65535),
    ] {
        assert!(
            matches!(
                PortAllocator::new(LOCAL, low, high),
                Err(MediaError::InvalidPortRange { .. })
            ),
            "{low}-{high}"
        );
    }
    assert_eq!(
        PortAllocator::new(LOCAL, 65534, 65535).unwrap().capacity(),
        1
    );
}

#[test]
fn needs_a_runtime() {
    let alloc = PortAllocator::new(LOCAL, 29400, 29409).unwrap();
    assert!(matches!(alloc.allocate(), Err(MediaError::NoRuntime)));

    let rt = media::media_runtime(1).unwrap();
    let alloc = PortAllocator::with_runtime(LOCAL, 29400, 29409, rt.handle().clone()).unwrap();
    let pair = alloc.allocate().unwrap();
    assert_eq!(alloc.in_use(), 1);
    drop(pair);
    assert_eq!(alloc.in_use(), 0);
}
