//! IP access lists (CIDR) for the external profile.

use std::net::IpAddr;

/// One network, e.g. `10.0.0.0/8` or `::1/128`; a bare address is a /32 or /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parse `addr[/prefix]`.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = a
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not an IP address or network"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{s}': prefix must be 0-{max}"))?,
            None => max,
        };
        Ok(Cidr { net, prefix })
    }

    /// Is `ip` inside this network? (IPv4-mapped IPv6 addresses count as IPv4.)
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix as u32).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// A list of networks; an address is allowed if any contains it.
#[derive(Clone, Debug, Default)]
pub struct Acl(Vec<Cidr>);

impl Acl {
    /// Parse every entry; the first bad one is the error.
    pub fn parse(entries: &[String]) -> Result<Acl, String> {
        entries
            .iter()
            .map(|e| Cidr::parse(e))
            .collect::<Result<_, _>>()
            .map(Acl)
    }

    /// The list of these networks.
    pub fn from_networks(nets: Vec<Cidr>) -> Acl {
        Acl(nets)
    }

    /// Is this address allowed?
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_networks() {
        let acl = Acl::parse(&["127.0.0.0/8".into(), "10.1.2.3".into(), "::1/128".into()])
            .expect("valid");
        assert!(acl.allows("127.9.9.9".parse().expect("ip")));
        assert!(acl.allows("10.1.2.3".parse().expect("ip")));
        assert!(!acl.allows("10.1.2.4".parse().expect("ip")));
        assert!(acl.allows("::1".parse().expect("ip")));
        assert!(acl.allows("::ffff:127.0.0.1".parse().expect("ip")));
        assert!(!acl.allows("192.168.0.1".parse().expect("ip")));
        assert!(Cidr::parse("0.0.0.0/0")
            .expect("any")
            .contains("8.8.8.8".parse().expect("ip")));
    }

    #[test]
    fn refuses_bad_entries() {
        assert!(Cidr::parse("300.0.0.1").is_err());
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("fe80::/129").is_err());
    }
}
