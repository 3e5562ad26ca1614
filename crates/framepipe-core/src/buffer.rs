//! Range arithmetic for buffers and memories, checked before GStreamer sees it.
//!
//! GStreamer answers a bad offset or size with a GLib critical (or, through gstreamer-rs,
//! a panic); framepipe checks every range here first and reports `Error::Value` instead.

use crate::{Error, Result};

/// The `(offset, size)` of a sub-range of `total` bytes starting at `offset`, where a
/// negative `size` (GStreamer's -1) means "up to the end".
pub fn sub_range(total: usize, offset: usize, size: isize) -> Result<(usize, usize)> {
    if offset > total {
        return Err(Error::Value(format!("offset {offset} is past the end ({total} bytes)")));
    }
    let left = total - offset;
    let size = if size < 0 { left } else { size as usize };
    if size > left {
        return Err(Error::Value(format!("offset {offset} + size {size} is past the end ({total} bytes)")));
    }
    Ok((offset, size))
}

/// Checks that `size` bytes at `offset` lie within `total` bytes (sizes are never -1 here).
pub fn check_span(total: usize, offset: usize, size: usize) -> Result<()> {
    match offset.checked_add(size) {
        Some(end) if end <= total => Ok(()),
        _ => Err(Error::Value(format!("offset {offset} + size {size} is past the end ({total} bytes)"))),
    }
}

/// How many bytes `fill` copies: all of `len` that fit after `offset` in `total` bytes.
pub fn fill_len(total: usize, offset: usize, len: usize) -> Result<usize> {
    if offset > total {
        return Err(Error::Value(format!("offset {offset} is past the end ({total} bytes)")));
    }
    Ok(len.min(total - offset))
}

/// The new absolute offset of a memory resized by `gst_memory_resize(mem, delta, size)`:
/// `delta` moves the start relative to the current `offset`, and the result must keep
/// `new_offset + size` within `maxsize`.
pub fn resize(offset: usize, maxsize: usize, delta: isize, size: usize) -> Result<usize> {
    let new_offset = offset as i128 + delta as i128;
    if new_offset < 0 {
        return Err(Error::Value(format!("offset {delta} moves before the start of the memory (offset {offset})")));
    }
    if new_offset + size as i128 > maxsize as i128 {
        return Err(Error::Value(format!("offset {new_offset} + size {size} exceeds the memory's maxsize {maxsize}")));
    }
    Ok(new_offset as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sub_range_examples() {
        assert_eq!(sub_range(10, 0, -1).unwrap(), (0, 10));
        assert_eq!(sub_range(10, 4, -1).unwrap(), (4, 6));
        assert_eq!(sub_range(10, 10, -1).unwrap(), (10, 0));
        assert_eq!(sub_range(10, 2, 8).unwrap(), (2, 8));
        assert!(sub_range(10, 11, -1).is_err());
        assert!(sub_range(10, 2, 9).is_err());
    }

    #[test]
    fn resize_examples() {
        assert_eq!(resize(0, 10, 2, 8).unwrap(), 2);
        assert_eq!(resize(2, 10, -2, 10).unwrap(), 0);
        assert!(resize(2, 10, -3, 1).is_err());
        assert!(resize(0, 10, 1, 10).is_err());
    }

    proptest! {
        #[test]
        fn sub_range_stays_inside(total in 0usize..1 << 20, offset in 0usize..1 << 21, size in -1isize..1 << 21) {
            match sub_range(total, offset, size) {
                Ok((o, s)) => {
                    prop_assert_eq!(o, offset);
                    prop_assert!(o + s <= total);
                    if size >= 0 { prop_assert_eq!(s as isize, size) } else { prop_assert_eq!(o + s, total) }
                }
                Err(_) => prop_assert!(offset > total || (size >= 0 && offset + size as usize > total)),
            }
        }

        #[test]
        fn check_span_matches_arithmetic(total in 0usize..1000, offset in 0usize..2000, size in 0usize..2000) {
            prop_assert_eq!(check_span(total, offset, size).is_ok(), offset + size <= total);
            prop_assert!(check_span(total, usize::MAX, 2).is_err());
        }

        #[test]
        fn fill_never_writes_past_the_end(total in 0usize..1000, offset in 0usize..2000, len in 0usize..2000) {
            match fill_len(total, offset, len) {
                Ok(n) => { prop_assert!(offset + n <= total); prop_assert!(n <= len); }
                Err(_) => prop_assert!(offset > total),
            }
        }

        #[test]
        fn resize_stays_within_maxsize(offset in 0usize..100, extra in 0usize..100, delta in -200isize..200, size in 0usize..300) {
            let maxsize = offset + extra;
            match resize(offset, maxsize, delta, size) {
                Ok(o) => { prop_assert!(o + size <= maxsize); prop_assert_eq!(o as isize, offset as isize + delta); }
                Err(_) => prop_assert!(offset as isize + delta < 0 || offset as isize + delta + size as isize > maxsize as isize),
            }
        }
    }
}
