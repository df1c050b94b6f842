//! SDP (RFC 4566) parsing and serialisation, tolerant of what real phones send.
//!
//! Only the parts the B2BUA has to understand or rewrite are parsed into
//! fields (`o=`, `c=`, `m=`); every other line is kept verbatim and in its
//! original position, so an unmodified description serialises back to the
//! same lines (always CRLF-terminated). Anything unusual that we do not have
//! to interpret is passed through rather than rejected: phones disagree about
//! SDP in creative ways and the far end is usually more tolerant than we are.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// Largest SDP body accepted; real offers are well under 4 KiB, and a bound
/// keeps a hostile peer from making us allocate without limit.
pub const MAX_SDP_BYTES: usize = 16 * 1024;
/// Largest number of `m=` sections accepted (same reasoning as the size cap).
pub const MAX_MEDIA: usize = 32;

/// Why an SDP body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// The body exceeds [`MAX_SDP_BYTES`].
    #[error("SDP is {size} bytes, more than the {MAX_SDP_BYTES} byte limit")]
    TooLarge {
        /// Size of the refused body in bytes.
        size: usize,
    },
    /// The body has more than [`MAX_MEDIA`] media sections.
    #[error("SDP has more than {MAX_MEDIA} media sections")]
    TooManyMedia,
    /// The body has no lines at all.
    #[error("SDP is empty")]
    Empty,
    /// There is no `o=` line, which every SDP must have.
    #[error("SDP has no o= line")]
    MissingOrigin,
    /// A line could not be understood.
    #[error("SDP line {line}: {reason}")]
    Malformed {
        /// 1-based line number within the body.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Media direction attribute (RFC 3264 section 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `a=sendrecv` (also the default when nothing is said).
    SendRecv,
    /// `a=sendonly`: the author sends but will not receive (hold).
    SendOnly,
    /// `a=recvonly`: the author receives but will not send.
    RecvOnly,
    /// `a=inactive`: no media either way.
    Inactive,
}

impl Direction {
    /// The direction seen from the other end: what one side sends, the other
    /// receives. Used when answering an offer (sendonly is answered recvonly).
    pub fn reverse(self) -> Direction {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }

    /// The attribute name, as written after `a=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Recognises a direction attribute name (case-insensitive).
    pub fn from_attribute(name: &str) -> Option<Direction> {
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| d.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `o=` line: `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Username, `-` when the author has none.
    pub username: String,
    /// Session id; kept as text because some stacks exceed 64 bits.
    pub session_id: String,
    /// Session version; must increase whenever the author changes the SDP.
    pub session_version: u64,
    /// Network type, in practice `IN`.
    pub nettype: String,
    /// Address type, `IP4` or `IP6`.
    pub addrtype: String,
    /// Address of the author (an IP literal or a host name).
    pub address: String,
}

/// A `c=IN IP4|IP6 <addr>` line.
///
/// A multicast `/ttl` suffix is accepted but not kept: telephony never uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    /// The connection address.
    pub addr: IpAddr,
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c=IN {} {}", addrtype(self.addr), self.addr)
    }
}

/// One position in a block: either a parsed field (written from the struct
/// at serialisation time) or an untouched line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    Origin,
    Connection,
    Line(String),
}

/// The ordered lines of the session block or one media block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Block {
    slots: Vec<Slot>,
}

impl Block {
    /// Every `a=` line as (name, value); a flag attribute has value "".
    fn attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.slots.iter().filter_map(|s| match s {
            Slot::Line(l) => split_attribute(l),
            _ => None,
        })
    }

    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    fn direction(&self) -> Option<Direction> {
        self.attributes()
            .find_map(|(n, _)| Direction::from_attribute(n))
    }

    /// Removes every attribute for which `pred(name)` holds; returns how many.
    fn remove_attributes(&mut self, pred: impl Fn(&str) -> bool) -> usize {
        let before = self.slots.len();
        self.slots.retain(|s| match s {
            Slot::Line(l) => !split_attribute(l).is_some_and(|(n, _)| pred(n)),
            _ => true,
        });
        before - self.slots.len()
    }

    /// Removes every attribute for which `pred(name, value)` holds.
    fn remove_attribute_lines(&mut self, pred: impl Fn(&str, &str) -> bool) {
        self.slots.retain(|s| match s {
            Slot::Line(l) => !split_attribute(l).is_some_and(|(n, v)| pred(n, v)),
            _ => true,
        });
    }

    /// Replaces the first attribute matching `pred` with `line` (removing
    /// any further matches), or appends `line` if there was none. Replacing in
    /// place keeps the line order stable, which makes traces easy to diff.
    fn replace_attribute(&mut self, pred: impl Fn(&str) -> bool, line: String) {
        let matches = |s: &Slot| match s {
            Slot::Line(l) => split_attribute(l).is_some_and(|(n, _)| pred(n)),
            _ => false,
        };
        let mut replacement = Some(Slot::Line(line));
        let mut slots = Vec::with_capacity(self.slots.len() + 1);
        for slot in self.slots.drain(..) {
            if !matches(&slot) {
                slots.push(slot);
            } else if let Some(r) = replacement.take() {
                slots.push(r);
            }
        }
        slots.extend(replacement);
        self.slots = slots;
    }

    fn push_attribute(&mut self, attr: &str) {
        self.slots.push(Slot::Line(format!("a={attr}")));
    }

    /// Writes the block, rendering the parsed `o=` / `c=` fields at their
    /// slots. A `c=` that has a value but no slot (added after parsing) is
    /// written just before the first line whose type letter is in `before`,
    /// which is where RFC 4566 orders it.
    fn write(
        &self,
        f: &mut fmt::Formatter<'_>,
        before: &str,
        origin: Option<&str>,
        conn: Option<&str>,
    ) -> fmt::Result {
        let mut pending = conn.filter(|_| !self.slots.contains(&Slot::Connection));
        for slot in &self.slots {
            let text = match slot {
                Slot::Line(l) => {
                    let kind = l.chars().next().unwrap_or(' ');
                    if before.contains(kind) {
                        if let Some(c) = pending.take() {
                            write!(f, "{c}\r\n")?;
                        }
                    }
                    Some(l.as_str())
                }
                Slot::Origin => origin,
                Slot::Connection => conn,
            };
            if let Some(text) = text {
                write!(f, "{text}\r\n")?;
            }
        }
        if let Some(c) = pending {
            write!(f, "{c}\r\n")?;
        }
        Ok(())
    }
}

/// One `m=` section with its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// Media type: `audio`, `video`, `application`, ...
    pub kind: String,
    /// Transport port; 0 means the stream is rejected or disabled.
    pub port: u16,
    /// Transport protocol, e.g. `RTP/AVP` or `RTP/SAVP`.
    pub proto: String,
    /// Format list; for RTP these are payload type numbers in preference order.
    pub formats: Vec<String>,
    /// Media-level `c=`, overriding the session one.
    pub connection: Option<Connection>,
    /// The `/<number of ports>` suffix of the m= port, if any.
    port_count: Option<u16>,
    /// Session-level direction at parse time, the default for this section.
    inherited: Option<Direction>,
    block: Block,
}

impl MediaDescription {
    /// A new section with no attributes (e.g. to add a stream to an offer).
    pub fn new(kind: &str, port: u16, proto: &str, formats: Vec<String>) -> Self {
        MediaDescription {
            kind: kind.to_string(),
            port,
            proto: proto.to_string(),
            formats,
            connection: None,
            port_count: None,
            inherited: None,
            block: Block::default(),
        }
    }

    /// Effective direction: the section's own attribute, else the session's
    /// (as it was when parsed), else sendrecv.
    pub fn direction(&self) -> Direction {
        self.block
            .direction()
            .or(self.inherited)
            .unwrap_or(Direction::SendRecv)
    }

    /// Sets an explicit direction attribute on this section, replacing any
    /// existing one in place. Always explicit so a session-level default
    /// cannot override it.
    pub fn set_direction(&mut self, d: Direction) {
        self.block.replace_attribute(
            |n| Direction::from_attribute(n).is_some(),
            format!("a={}", d.as_str()),
        );
    }

    /// Codecs in preference (format list) order as (payload type, encoding
    /// name, clock rate). Payload types without `a=rtpmap` fall back to the
    /// RFC 3551 static table, since many phones omit rtpmap for PCMU/PCMA.
    pub fn rtpmaps(&self) -> Vec<(u8, String, u32)> {
        let mut out = Vec::new();
        for fmt in &self.formats {
            let Ok(pt) = fmt.parse::<u8>() else { continue };
            if pt > 127 {
                continue;
            }
            let mapped = self
                .block
                .attributes()
                .filter(|(n, _)| n.eq_ignore_ascii_case("rtpmap"))
                .find_map(|(_, v)| parse_rtpmap(v).filter(|m| m.0 == pt));
            if let Some((pt, name, clock)) = mapped {
                out.push((pt, name.to_string(), clock));
            } else if let Some((name, clock)) = static_payload(pt) {
                out.push((pt, name.to_string(), clock));
            }
        }
        out
    }

    /// The `a=fmtp:` parameters for a payload type (e.g. "0-16" for
    /// telephone-event).
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.block
            .attributes()
            .filter(|(n, _)| n.eq_ignore_ascii_case("fmtp"))
            .find_map(|(_, v)| {
                let (p, rest) = v.trim_start().split_once(char::is_whitespace)?;
                (p.parse::<u8>().ok()? == pt).then(|| rest.trim())
            })
    }

    /// The explicit RTCP port from `a=rtcp:` (RFC 3605), if any.
    pub fn rtcp_port(&self) -> Option<u16> {
        self.attribute("rtcp")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// All `a=` attributes in order as (name, value); flags have value "".
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.block.attributes()
    }

    /// The value of the first attribute called `name` ("" for a flag).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.block.attribute(name)
    }

    /// Appends `a=<attr>` (give "name:value" or "flag").
    pub fn push_attribute(&mut self, attr: &str) {
        self.block.push_attribute(attr);
    }

    /// Removes every attribute called `name`; returns how many were removed.
    pub fn remove_attribute(&mut self, name: &str) -> usize {
        self.block
            .remove_attributes(|n| n.eq_ignore_ascii_case(name))
    }

    /// Drops payload types `pts` from the format list, with their `rtpmap`
    /// and `fmtp` lines.
    pub fn drop_formats(&mut self, pts: &[u8]) {
        self.formats
            .retain(|f| !f.parse::<u8>().is_ok_and(|pt| pts.contains(&pt)));
        self.block.remove_attribute_lines(|name, value| {
            (name.eq_ignore_ascii_case("rtpmap") || name.eq_ignore_ascii_case("fmtp"))
                && value
                    .split_whitespace()
                    .next()
                    .and_then(|pt| pt.parse::<u8>().ok())
                    .is_some_and(|pt| pts.contains(&pt))
        });
    }

    /// Keeps only the attributes whose name passes `keep` (e.g. to strip
    /// a WebRTC section down to its codecs).
    pub fn retain_attributes(&mut self, keep: impl Fn(&str) -> bool) {
        self.block.remove_attributes(|n| !keep(n));
    }

    fn is_audio(&self) -> bool {
        self.kind.eq_ignore_ascii_case("audio")
    }
}

impl fmt::Display for MediaDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "m={} {}", self.kind, self.port)?;
        if let Some(n) = self.port_count {
            write!(f, "/{n}")?;
        }
        write!(f, " {}", self.proto)?;
        for fmt in &self.formats {
            write!(f, " {fmt}")?;
        }
        f.write_str("\r\n")?;
        let conn = self.connection.map(|c| c.to_string());
        self.block.write(f, "bka", None, conn.as_deref())
    }
}

/// A parsed session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// The `o=` line.
    pub origin: Origin,
    /// Session-level `c=`, the default for media without their own.
    pub connection: Option<Connection>,
    /// The `m=` sections in order.
    pub media: Vec<MediaDescription>,
    /// Session-level lines (v=, s=, t=, a=, unknown ...) in original order.
    block: Block,
}

impl SessionDescription {
    /// Parses an SDP body (CRLF or bare LF line ends; blank lines ignored).
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        if text.len() > MAX_SDP_BYTES {
            return Err(SdpError::TooLarge { size: text.len() });
        }
        let mut origin = None;
        let mut connection = None;
        let mut block = Block::default();
        let mut media: Vec<MediaDescription> = Vec::new();
        let mut seen_version = false;
        for (idx, raw) in text.split('\n').enumerate() {
            let line_no = idx + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if line.trim().is_empty() {
                continue;
            }
            let bad = |reason| SdpError::Malformed {
                line: line_no,
                reason,
            };
            let b = line.as_bytes();
            if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
                return Err(bad("not a <letter>=<value> line"));
            }
            let value = &line[2..];
            if !seen_version {
                if b[0] != b'v' {
                    return Err(bad("SDP must start with v="));
                }
                seen_version = true;
            }
            let in_media = media.last_mut();
            match (b[0], in_media) {
                (b'm', _) => {
                    if media.len() >= MAX_MEDIA {
                        return Err(SdpError::TooManyMedia);
                    }
                    media.push(parse_media(value).ok_or(bad("bad m= line"))?);
                }
                (b'c', Some(m)) => {
                    if m.connection.is_some() {
                        return Err(bad("more than one c= in a media section"));
                    }
                    m.connection = Some(parse_connection(value).ok_or(bad("bad c= line"))?);
                    m.block.slots.push(Slot::Connection);
                }
                (b'c', None) => {
                    if connection.is_some() {
                        return Err(bad("more than one session-level c="));
                    }
                    connection = Some(parse_connection(value).ok_or(bad("bad c= line"))?);
                    block.slots.push(Slot::Connection);
                }
                (b'o', None) => {
                    if origin.is_some() {
                        return Err(bad("more than one o= line"));
                    }
                    origin = Some(parse_origin(value).ok_or(bad("bad o= line"))?);
                    block.slots.push(Slot::Origin);
                }
                (_, Some(m)) => m.block.slots.push(Slot::Line(line.to_string())),
                (_, None) => block.slots.push(Slot::Line(line.to_string())),
            }
        }
        if !seen_version {
            return Err(SdpError::Empty);
        }
        let origin = origin.ok_or(SdpError::MissingOrigin)?;
        let mut sdp = SessionDescription {
            origin,
            connection,
            media,
            block,
        };
        sdp.refresh_inherited();
        Ok(sdp)
    }

    /// The session-level direction attribute, if present.
    pub fn direction(&self) -> Option<Direction> {
        self.block.direction()
    }

    /// Sets (or replaces) the session-level direction attribute.
    pub fn set_direction(&mut self, d: Direction) {
        self.block.replace_attribute(
            |n| Direction::from_attribute(n).is_some(),
            format!("a={}", d.as_str()),
        );
        self.refresh_inherited();
    }

    /// Effective direction of media section `i`, taking the live session
    /// default into account (unlike [`MediaDescription::direction`], which
    /// sees the session default as it was at parse time).
    pub fn media_direction(&self, i: usize) -> Option<Direction> {
        let m = self.media.get(i)?;
        Some(
            m.block
                .direction()
                .or(self.block.direction())
                .unwrap_or(Direction::SendRecv),
        )
    }

    /// Session-level `a=` attributes in order as (name, value).
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.block.attributes()
    }

    /// The RTP address the remote wants media sent to for media section `i`
    /// (media `c=` overrides session `c=`). `None` for a rejected stream
    /// (port 0), a missing address, or 0.0.0.0 / `::` (old-style hold: the
    /// remote wants nothing, and sending to 0.0.0.0 would loop back locally).
    pub fn rtp_addr(&self, i: usize) -> Option<SocketAddr> {
        let m = self.media.get(i)?;
        if m.port == 0 {
            return None;
        }
        let addr = m.connection.or(self.connection)?.addr;
        (!addr.is_unspecified()).then(|| SocketAddr::new(addr, m.port))
    }

    /// Is this SDP putting the call on hold? True when there is at least one
    /// active audio stream and every active audio stream is sendonly or
    /// inactive, or has connection address 0.0.0.0 (RFC 2543 style).
    pub fn is_hold(&self) -> bool {
        let mut active = 0;
        for (i, m) in self.media.iter().enumerate() {
            if !m.is_audio() || m.port == 0 {
                continue;
            }
            active += 1;
            let dir = self.media_direction(i).unwrap_or(Direction::SendRecv);
            let zero_addr = m
                .connection
                .or(self.connection)
                .is_some_and(|c| c.addr.is_unspecified());
            if !(zero_addr || matches!(dir, Direction::SendOnly | Direction::Inactive)) {
                return false;
            }
        }
        active > 0
    }

    /// Rewrites the SDP so media flows through our relay: session and media
    /// `c=` and the `o=` address become `addr`; each media port becomes
    /// `ports[i]` (a port of 0, or a section without an entry in `ports`,
    /// becomes 0 = rejected, because a stream we do not relay must not
    /// leak the far end's address); `a=rtcp:` becomes port+1; ICE lines and
    /// `a=rtcp-mux` are dropped (the relay is a plain RTP/RTCP endpoint with
    /// separate RTCP ports); the `o=` version is bumped. Codecs,
    /// telephone-event and direction are kept.
    pub fn anchor(&mut self, addr: IpAddr, ports: &[u16]) {
        self.origin.session_version = self.origin.session_version.wrapping_add(1);
        self.origin.addrtype = addrtype(addr).to_string();
        self.origin.address = addr.to_string();
        self.connection = Some(Connection { addr });
        self.block.remove_attributes(is_ice_attribute);
        for (i, m) in self.media.iter_mut().enumerate() {
            let port = match ports.get(i) {
                Some(&p) if m.port != 0 => p,
                _ => 0,
            };
            m.port = port;
            if let Some(c) = &mut m.connection {
                c.addr = addr;
            }
            m.block
                .remove_attributes(|n| is_ice_attribute(n) || n.eq_ignore_ascii_case("rtcp-mux"));
            if m.block.attribute("rtcp").is_some() {
                if port == 0 {
                    m.block
                        .remove_attributes(|n| n.eq_ignore_ascii_case("rtcp"));
                } else {
                    let line = format!("a=rtcp:{}", port.saturating_add(1));
                    m.block
                        .replace_attribute(|n| n.eq_ignore_ascii_case("rtcp"), line);
                }
            }
        }
    }

    /// Keeps only the session-level attributes whose name passes `keep`.
    pub fn retain_attributes(&mut self, keep: impl Fn(&str) -> bool) {
        self.block.remove_attributes(|n| !keep(n));
        self.refresh_inherited();
    }

    fn refresh_inherited(&mut self) {
        let d = self.block.direction();
        for m in &mut self.media {
            m.inherited = d;
        }
    }
}

impl fmt::Display for SessionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        let origin = format!(
            "o={} {} {} {} {} {}",
            o.username, o.session_id, o.session_version, o.nettype, o.addrtype, o.address
        );
        let conn = self.connection.map(|c| c.to_string());
        self.block
            .write(f, "btrzka", Some(&origin), conn.as_deref())?;
        for m in &self.media {
            write!(f, "{m}")?;
        }
        Ok(())
    }
}

fn addrtype(addr: IpAddr) -> &'static str {
    if addr.is_ipv4() {
        "IP4"
    } else {
        "IP6"
    }
}

/// Splits an `a=name[:value]` line; other lines give None.
fn split_attribute(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("a=")?;
    Some(match rest.split_once(':') {
        Some((n, v)) => (n.trim(), v),
        None => (rest.trim(), ""),
    })
}

fn is_ice_attribute(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("ice-")
        || n == "candidate"
        || n == "remote-candidates"
        || n == "end-of-candidates"
}

fn parse_origin(value: &str) -> Option<Origin> {
    let t: Vec<&str> = value.split_whitespace().collect();
    if t.len() != 6 {
        return None;
    }
    Some(Origin {
        username: t[0].to_string(),
        session_id: t[1].to_string(),
        session_version: t[2].parse().ok()?,
        nettype: t[3].to_string(),
        addrtype: t[4].to_string(),
        address: t[5].to_string(),
    })
}

fn parse_connection(value: &str) -> Option<Connection> {
    let mut t = value.split_whitespace();
    let (net, kind, addr) = (t.next()?, t.next()?, t.next()?);
    if !net.eq_ignore_ascii_case("IN")
        || !(kind.eq_ignore_ascii_case("IP4") || kind.eq_ignore_ascii_case("IP6"))
    {
        return None;
    }
    // Drop a multicast "/ttl[/count]" suffix.
    let addr = addr.split('/').next()?.parse().ok()?;
    Some(Connection { addr })
}

fn parse_media(value: &str) -> Option<MediaDescription> {
    let mut t = value.split_whitespace();
    let kind = t.next()?;
    let port_field = t.next()?;
    let proto = t.next()?;
    let (port, port_count) = match port_field.split_once('/') {
        Some((p, n)) => (p.parse().ok()?, Some(n.parse().ok()?)),
        None => (port_field.parse().ok()?, None),
    };
    let mut m = MediaDescription::new(kind, port, proto, t.map(str::to_string).collect());
    m.port_count = port_count;
    Some(m)
}

/// Parses the value of `a=rtpmap:<pt> <name>/<clock>[/<channels>]`.
fn parse_rtpmap(value: &str) -> Option<(u8, &str, u32)> {
    let (pt, rest) = value.trim_start().split_once(char::is_whitespace)?;
    let mut parts = rest.trim().split('/');
    let name = parts.next()?;
    let clock = parts.next()?.trim().parse().ok()?;
    Some((pt.parse().ok()?, name, clock))
}

/// RFC 3551 static audio payload types.
fn static_payload(pt: u8) -> Option<(&'static str, u32)> {
    Some(match pt {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        5 => ("DVI4", 8000),
        6 => ("DVI4", 16000),
        7 => ("LPC", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        10 | 11 => ("L16", 44100),
        12 => ("QCELP", 8000),
        13 => ("CN", 8000),
        14 => ("MPA", 90000),
        15 => ("G728", 8000),
        16 => ("DVI4", 11025),
        17 => ("DVI4", 22050),
        18 => ("G729", 8000),
        _ => return None,
    })
}
