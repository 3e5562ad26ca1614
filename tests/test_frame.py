"""Frame: zero-copy views, strides and planes, lifetimes, copies."""

from __future__ import annotations

import gc

import framepipe as fp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def pull_one(desc: str) -> fp.Frame:
    with fp.Pipeline(desc) as p:
        f = p.pull("out", timeout=10)
    assert f is not None
    return f


def push_pull(caps: str, data) -> fp.Frame:
    with fp.Pipeline(f"appsrc name=src caps={caps} ! appsink name=out sync=false") as p:
        p.push("src", data)
        return p.pull("out", timeout=10)


def test_array_is_a_read_only_view_of_the_mapped_buffer():
    f = pull_one("videotestsrc num-buffers=1 ! video/x-raw,format=RGBA,width=8,height=4 ! appsink name=out")
    a = f.array
    assert a.shape == (4, 8, 4) and a.dtype == np.uint8
    assert type(a.base).__name__ == "_MappedBuffer"
    assert a is f.array  # one mapping, one view
    assert np.shares_memory(a, f.planes[0])
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a[0, 0, 0] = 1
    with pytest.raises(ValueError):
        a.flags.writeable = True
    np.testing.assert_array_equal(np.asarray(f), a)


def test_array_outlives_frame_pipeline_and_gc():
    data = np.random.default_rng(5).integers(0, 255, size=(3, 5, 3), dtype=np.uint8)
    p = fp.Pipeline("appsrc name=src ! appsink name=out sync=false")
    p.push("src", data)
    f = p.pull("out", timeout=10)
    arr = f.array
    planes = f.planes
    p.stop()
    del f, p
    gc.collect()
    junk = [np.full((3, 5, 3), 9, np.uint8) for _ in range(100)]  # reuse freed memory if any
    np.testing.assert_array_equal(arr, data)
    np.testing.assert_array_equal(planes[0], data)
    del junk


def test_i420_odd_planes_match_gstreamer_layout():
    # GStreamer's I420 for 7x5: Y stride 8 over round_up_2(5) = 6 rows, U/V stride 4,
    # offsets 0, 48, 60, size 72.
    raw = (np.arange(72) * 7 % 251).astype(np.uint8)
    f = push_pull("video/x-raw,format=I420,width=7,height=5,framerate=30/1", raw.tobytes())
    y, u, v = f.planes
    assert (y.shape, u.shape, v.shape) == ((5, 7), (3, 4), (3, 4))
    np.testing.assert_array_equal(y, raw[:48].reshape(6, 8)[:5, :7])
    np.testing.assert_array_equal(u, raw[48:60].reshape(3, 4))
    np.testing.assert_array_equal(v, raw[60:72].reshape(3, 4))
    with pytest.raises(ValueError, match="planes"):
        _ = f.array


def test_nv12_odd_planes_match_gstreamer_layout():
    # NV12 7x5: Y stride 8 over 6 rows, UV stride 8 (4 pairs), offsets 0 and 48, size 72.
    raw = (np.arange(72) * 3 % 253).astype(np.uint8)
    f = push_pull("video/x-raw,format=NV12,width=7,height=5,framerate=30/1", raw.tobytes())
    y, uv = f.planes
    assert (y.shape, uv.shape) == ((5, 7), (3, 4, 2))
    np.testing.assert_array_equal(y, raw[:48].reshape(6, 8)[:5, :7])
    np.testing.assert_array_equal(uv, raw[48:72].reshape(3, 4, 2))


def test_videotestsrc_planes_sizes():
    for fmt in ("I420", "NV12"):
        f = pull_one(
            f"videotestsrc num-buffers=1 ! video/x-raw,format={fmt},width=33,height=17 ! appsink name=out"
        )
        shapes = [p.shape for p in f.planes]
        assert shapes[0] == (17, 33)
        assert shapes[1][:2] == (9, 17)


def test_gray16_is_uint16():
    a = np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000
    f = push_pull("video/x-raw,format=GRAY16_LE,width=4,height=3,framerate=30/1", a)
    assert f.array.dtype == np.uint16
    np.testing.assert_array_equal(f.array, a)


@pytest.mark.parametrize(("fmt", "dtype"), [("F32LE", np.float32), ("S16LE", np.int16)])
def test_audio_as_samples_by_channels(fmt, dtype):
    f = pull_one(
        f"audiotestsrc num-buffers=1 samplesperbuffer=441 ! audio/x-raw,format={fmt},channels=2 ! appsink name=out"
    )
    assert f.array.shape == (441, 2) and f.array.dtype == dtype
    assert (f.rate, f.channels, f.samples, f.format) == (44100, 2, 441, fmt)
    np.testing.assert_array_equal(f.array[:, 0], f.array[:, 1])
    assert np.abs(f.array.astype(np.float64)).max() > 0


def test_copy_is_deep_and_writable():
    f = pull_one("videotestsrc num-buffers=1 ! video/x-raw,format=RGB,width=6,height=4 ! appsink name=out")
    c = f.copy()
    assert c.writable and c.array.flags.writeable
    assert not np.shares_memory(c.array, f.array)
    c.array[:] = 1
    assert (c.array == 1).all() and not (f.array == 1).all()
    assert (c.pts, c.caps) == (f.pts, f.caps)


def test_from_array():
    a = np.random.default_rng(6).integers(0, 255, size=(3, 5, 4), dtype=np.uint8)
    f = fp.Frame.from_array(a, pts=7, duration=3)
    assert (f.format, f.width, f.height, f.pts, f.duration, f.writable) == ("RGBA", 5, 3, 7, 3, True)
    np.testing.assert_array_equal(f.array, a)
    assert f.array.flags.writeable
    bgr = fp.Frame.from_array(a[..., :3], "BGR")
    assert bgr.format == "BGR"
    with pytest.raises(ValueError):
        fp.Frame.from_array(a, "NOSUCHFORMAT")
    with pytest.raises(ValueError):
        fp.Frame.from_array(np.zeros(4, np.uint8))


def test_other_media_is_flat_bytes():
    with fp.Pipeline("appsrc name=src caps=application/x-test ! appsink name=out sync=false") as p:
        p.push("src", b"hello")
        f = p.pull("out", timeout=10)
    assert f.format is None and f.width is None
    assert bytes(f.array) == b"hello"


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 70),
    channels=st.sampled_from([0, 3, 4]),
    seed=st.integers(0, 2**32 - 1),
)
def test_array_frame_round_trip(h, w, channels, seed):
    shape = (h, w) if channels == 0 else (h, w, channels)
    a = np.random.default_rng(seed).integers(0, 255, size=shape, dtype=np.uint8)
    f = fp.Frame.from_array(a)
    np.testing.assert_array_equal(f.array, a)
    with fp.Pipeline("appsrc name=src ! appsink name=out sync=false") as p:
        p.push("src", f)
        np.testing.assert_array_equal(p.pull("out", timeout=10).array, a)
