"""Pushing arrays, frames, buffers and bytes into an appsrc."""

from __future__ import annotations

import framepipe as fp
import numpy as np
import pytest


def loop(caps: str = "") -> fp.Pipeline:
    caps_prop = f" caps={caps}" if caps else ""
    return fp.Pipeline(f"appsrc name=src{caps_prop} ! appsink name=out sync=false")


@pytest.mark.parametrize(
    ("shape", "dtype", "fmt"),
    [
        ((6, 5, 3), np.uint8, "RGB"),
        ((6, 5, 4), np.uint8, "RGBA"),
        ((6, 5), np.uint8, "GRAY8"),
        ((6, 5), np.uint16, "GRAY16_LE"),
    ],
)
def test_derived_caps_round_trip(shape, dtype, fmt):
    rng = np.random.default_rng(1)
    a = rng.integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype)
    with loop() as p:
        p.push("src", a, fps=25)
        f = p.pull("out", timeout=10)
    assert f.format == fmt and "framerate=(fraction)25/1" in f.caps
    assert f.array.dtype == dtype
    np.testing.assert_array_equal(f.array, a)


def test_padded_rows_round_trip_exactly():
    """RGB 641 wide has 1924-byte rows in GStreamer: the view is strided, not copied."""
    a = np.random.default_rng(2).integers(0, 255, size=(5, 641, 3), dtype=np.uint8)
    with loop() as p:
        p.push("src", a)
        f = p.pull("out", timeout=10)
    arr = f.array
    assert arr.shape == (5, 641, 3)
    assert arr.strides == (1924, 3, 1)
    assert not arr.flags.c_contiguous
    np.testing.assert_array_equal(arr, a)


def test_strided_input_is_packed():
    base = np.random.default_rng(3).integers(0, 255, size=(10, 20, 3), dtype=np.uint8)
    view = base[::2, ::3]  # non-contiguous
    flipped = base[::-1]  # negative strides
    with loop() as p:
        p.push("src", view)
        np.testing.assert_array_equal(p.pull("out", timeout=10).array, view)
    with loop() as p:
        p.push("src", flipped)
        np.testing.assert_array_equal(p.pull("out", timeout=10).array, flipped)


def test_timestamps_follow_framerate_and_explicit_ones_win():
    with loop() as p:
        for _ in range(3):
            p.push("src", np.zeros((2, 2, 3), np.uint8), fps=50)
        p.push("src", np.zeros((2, 2, 3), np.uint8), pts=5 * fp.SECOND, duration=fp.SECOND)
        p.push("src", np.zeros((2, 2, 3), np.uint8))
        p.end_of_stream("src")
        frames = list(p.frames("out"))
    assert [f.pts for f in frames] == [0, 20_000_000, 40_000_000, 5 * fp.SECOND, 6 * fp.SECOND]
    assert frames[0].duration == 20_000_000


def test_mismatching_array_is_value_error_and_nothing_pushed():
    with loop() as p:
        p.push("src", np.zeros((4, 4, 3), np.uint8))
        for bad in [
            np.zeros((4, 5, 3), np.uint8),
            np.zeros((4, 4, 4), np.uint8),
            np.zeros((4, 4, 3), np.float32),
        ]:
            with pytest.raises((ValueError, TypeError)):
                p.push("src", bad)
        p.push("src", np.ones((4, 4, 3), np.uint8))
        p.end_of_stream("src")
        frames = list(p.frames("out"))
    assert len(frames) == 2
    assert frames[1].array[0, 0, 0] == 1


def test_array_against_user_caps():
    with loop("video/x-raw,format=GRAY8,width=3,height=2,framerate=10/1") as p:
        with pytest.raises(ValueError, match="does not match"):
            p.push("src", np.zeros((2, 3, 3), np.uint8))
        p.push("src", np.full((2, 3), 7, np.uint8))
        f = p.pull("out", timeout=10)
    assert f.format == "GRAY8" and f.duration == fp.SECOND // 10
    assert (f.array == 7).all()


@pytest.mark.parametrize("bad", [[[1, 2]], "text", 3.5, None])
def test_unsupported_data_is_type_error(bad):
    with loop() as p, pytest.raises(TypeError):
        p.push("src", bad)


def test_cannot_derive_caps_from_odd_arrays():
    with loop() as p:
        for bad in [np.zeros((4,), np.uint8), np.zeros((4, 4, 2), np.uint8), np.zeros((0, 4, 3), np.uint8)]:
            with pytest.raises(ValueError):
                p.push("src", bad)


def test_push_frame_buffer_and_bytes():
    a = np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3)
    frame = fp.Frame.from_array(a)
    with loop() as p:
        p.push("src", frame)
        p.push("src", frame.buffer)
        p.push("src", a.tobytes())
        with pytest.raises(ValueError):
            p.push("src", b"short")
        p.end_of_stream("src")
        frames = list(p.frames("out"))
    assert len(frames) == 3
    for f in frames:
        np.testing.assert_array_equal(f.array, a)


def test_push_after_end_of_stream_is_refused():
    with loop() as p:
        p.push("src", np.zeros((2, 2, 3), np.uint8))
        p.end_of_stream("src")
        with pytest.raises(ValueError, match="ended"):
            p.push("src", np.zeros((2, 2, 3), np.uint8))


def test_audio_push_and_pull():
    caps = "audio/x-raw,format=F32LE,rate=8000,channels=2,layout=interleaved"
    a = np.random.default_rng(4).standard_normal((160, 2)).astype(np.float32)
    with loop(caps) as p:
        p.push("src", a)
        p.push("src", a)
        f = p.pull("out", timeout=10)
        f2 = p.pull("out", timeout=10)
    assert (f.rate, f.channels, f.samples, f.format) == (8000, 2, 160, "F32LE")
    assert f.duration == 20_000_000 and f2.pts == 20_000_000
    np.testing.assert_array_equal(f.array, a)
    with loop(caps) as p, pytest.raises(ValueError):
        p.push("src", np.zeros((160, 3), np.float32))
