//! The H.264 bitstream as far as the reader needs it: how NAL units are delimited in a
//! stream's caps, and whether an access unit is a picture nothing references, so that frames
//! before a seek target can be dropped before decoding.

/// For H.264 caps, how its NAL units are delimited: `Some(0)` for Annex B start codes,
/// `Some(n)` for n-byte length prefixes (avc/avc3, from the codec data); `None` otherwise.
pub(crate) fn length_size(caps: &gst::CapsRef) -> Option<usize> {
    let s = caps.structure(0)?;
    if s.name() != "video/x-h264" {
        return None;
    }
    match s.get::<&str>("stream-format").ok()? {
        "byte-stream" => Some(0),
        "avc" | "avc3" => {
            let data = s.get::<gst::Buffer>("codec_data").ok()?;
            let map = data.map_readable().ok()?;
            map.get(4).map(|b| usize::from(b & 3) + 1)
        }
        _ => None,
    }
}

/// Whether an H.264 access unit is a picture nothing references (`nal_ref_idc` 0 on its first
/// slice). NAL units are `length_size`-byte length prefixed, or start-code delimited when it is
/// 0. Anything unreadable counts as needed.
pub fn disposable(au: &[u8], length_size: usize) -> bool {
    let first_slice = |header: u8| -> Option<bool> {
        match header & 0x1f {
            1..=5 => Some(header & 0x60 == 0 && header & 0x1f != 5),
            _ => None,
        }
    };
    if length_size == 0 {
        let mut i = 0;
        while i + 3 < au.len() {
            if au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1 {
                if let Some(d) = first_slice(au[i + 3]) {
                    return d;
                }
                i += 3;
            } else {
                i += 1;
            }
        }
        return false;
    }
    let mut i = 0;
    while i + length_size < au.len() {
        let len = au[i..i + length_size].iter().fold(0usize, |n, &b| (n << 8) | usize::from(b));
        if len == 0 || len > au.len() - i - length_size {
            return false;
        }
        if let Some(d) = first_slice(au[i + length_size]) {
            return d;
        }
        i += length_size + len;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::disposable;

    /// An access unit of NAL units with the given header bytes (and a little payload each),
    /// length prefixed (`length_size` 1..=4) or with start codes (0).
    fn au(headers: &[u8], length_size: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for &h in headers {
            let nal = [h, 0x88, 0x84, 0x21];
            if length_size == 0 {
                out.extend_from_slice(&[0, 0, 0, 1]);
            } else {
                out.extend_from_slice(&(nal.len() as u32).to_be_bytes()[4 - length_size..]);
            }
            out.extend_from_slice(&nal);
        }
        out
    }

    #[test]
    fn only_slices_with_nal_ref_idc_zero_are_disposable() {
        for n in [0, 1, 2, 4] {
            // AUD, SEI, then a non-reference slice (nal_ref_idc 0, type 1): a B-frame.
            assert!(disposable(&au(&[0x09, 0x06, 0x01], n), n), "length size {n}");
            // A reference P slice (nal_ref_idc 2) and an IDR slice.
            assert!(!disposable(&au(&[0x09, 0x41], n), n), "length size {n}");
            assert!(!disposable(&au(&[0x67, 0x68, 0x65], n), n), "length size {n}");
            // Only the first slice counts; no slice at all means "needed".
            assert!(!disposable(&au(&[0x21, 0x01], n), n), "length size {n}");
            assert!(!disposable(&au(&[0x09, 0x06], n), n), "length size {n}");
        }
    }

    #[test]
    fn damaged_units_are_needed_not_a_panic() {
        assert!(!disposable(&[], 4));
        assert!(!disposable(&[0, 0, 0], 4));
        assert!(!disposable(&[0xff, 0xff, 0xff, 0xff, 0x01], 4));
        assert!(!disposable(&[0, 0, 0, 0, 0x01, 0x02], 4));
        assert!(!disposable(&[0, 0, 1], 0));
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            for n in [0, 1, 2, 3, 4] {
                let _ = disposable(&junk, n);
            }
        }
    }
}
