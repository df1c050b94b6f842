//! Reading the RTP header of a datagram the validity check accepted.

use super::*;

/// Parses what [`valid_rtp`] accepted: header, CSRCs, extension, padding.
pub(super) fn view(p: &[u8]) -> Option<RtpView> {
    let mut start = 12 + 4 * usize::from(p[0] & 0x0f);
    if p[0] & 0x10 != 0 {
        let ext = p.get(start + 2..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    let mut end = p.len();
    if p[0] & 0x20 != 0 {
        let pad = usize::from(*p.last()?);
        end = end.checked_sub(pad)?;
    }
    (start <= end).then(|| RtpView {
        pt: p[1] & 0x7f,
        marker: p[1] & 0x80 != 0,
        seq: u16::from_be_bytes([p[2], p[3]]),
        ts: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
        ssrc: u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
        payload: start..end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_parses_header_csrc_extension_and_padding() {
        let mut p = vec![
            0x80 | 0x20 | 0x10 | 0x01,
            0x80 | 8,
            0,
            7,
            0,
            0,
            1,
            0,
            0,
            0,
            0,
            9,
        ];
        p.extend_from_slice(&[1, 2, 3, 4]); // one CSRC
        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 9, 9, 9, 9]); // extension, 1 word
        p.extend_from_slice(&[5, 6, 7]); // payload
        p.extend_from_slice(&[0, 2]); // padding: 2 bytes
        let v = view(&p).unwrap();
        assert_eq!((v.pt, v.marker, v.seq, v.ts, v.ssrc), (8, true, 7, 256, 9));
        assert_eq!(&p[v.payload], &[5, 6, 7]);
    }

    #[test]
    fn padding_longer_than_the_packet_is_refused() {
        let p = [0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 200];
        assert!(view(&p).is_none());
    }

    #[test]
    fn g711_pairs_forward_others_decode() {
        let f = |c| LegFormat::new(c, 0, None);
        assert!(forwardable(f(Codec::Pcmu), f(Codec::Pcma)));
        assert!(forwardable(f(Codec::G722), f(Codec::G722)));
        assert!(!forwardable(f(Codec::G722), f(Codec::Pcmu)));
    }
}
