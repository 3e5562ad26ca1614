"""Inside a probe, ``frame.buffer`` of the writable frame is the frame's own buffer.

Writes through it (a write mapping, timestamps, memories) reach downstream, and it is one
mapping with the frame's arrays. Issue 12, "Contract".
"""

from __future__ import annotations

import framepipe as fp
import numpy as np
import pytest

CAPS = "video/x-raw,format=GRAY8,width=8,height=4,framerate=30/1"


def pipeline() -> fp.Pipeline:
    return fp.Pipeline(
        f"videotestsrc num-buffers=3 pattern=black ! {CAPS} ! identity name=i ! appsink name=out"
    )


def test_frame_buffer_is_writable_and_its_writes_go_downstream():
    p = pipeline()
    seen: list[tuple[bool, bool]] = []

    def probe(frame: fp.Frame) -> None:
        buf = frame.buffer
        seen.append((frame.writable, buf.is_writable))
        with buf.map(write=True) as m:
            m[0] = 200
            m[1:3] = b"\x07\x09"
        buf.pts = 123_000 + len(seen)

    p.add_probe("i.src", probe)
    with p:
        frames = list(p.frames("out", timeout=10))
    assert seen == [(True, True)] * 3
    assert len(frames) == 3
    for k, f in enumerate(frames, 1):
        assert f.array[0, :3].tolist() == [200, 7, 9]
        assert set(f.array[1:].ravel().tolist()) == {16}  # the rest untouched (black)
        assert f.pts == 123_000 + k


def test_frame_buffer_and_frame_array_are_one_mapping():
    p = pipeline()
    results: list[bool] = []

    def probe(frame: fp.Frame) -> None:
        a = frame.array  # maps the frame for write
        with frame.buffer.map(write=True) as m:
            m[5] = 42  # the same memory as `a`
            results.append(int(a[0, 5]) == 42)
        a[1, 0] = 17  # and the other way round
        results.append(bytes(frame.buffer)[8] == 17)

    p.add_probe("i.src", probe)
    with p:
        frames = list(p.frames("out", timeout=10))
    assert results == [True] * 6
    assert [int(f.array[0, 5]) for f in frames] == [42] * 3
    assert [int(f.array[1, 0]) for f in frames] == [17] * 3


def test_frame_buffer_metadata_and_memories_reach_downstream():
    p = pipeline()

    def probe(frame: fp.Frame) -> None:
        buf = frame.buffer
        buf.flags = {"MARKER"}
        buf.duration = 5
        buf.append_memory(fp.Memory.wrap(b"tail"))

    p.add_probe("i.src", probe)
    with p:
        frames = list(p.frames("out", timeout=10))
    assert [(f.buffer.duration, "MARKER" in f.buffer.flags, f.buffer.size) for f in frames] == [
        (5, True, 36)
    ] * 3


def test_frame_buffer_kept_after_the_probe_raises_buffer_error():
    p = pipeline()
    kept: list[fp.Buffer] = []
    p.add_probe("i.src", lambda frame: kept.append(frame.buffer))
    with p:
        frames = list(p.frames("out", timeout=10))
    assert len(frames) == 3 and len(kept) == 3
    for buf in kept:
        with pytest.raises(BufferError):
            _ = buf.pts
        with pytest.raises(BufferError):
            buf.map()
        assert not buf.is_writable
        assert "released" in repr(buf)


def test_a_write_mapping_kept_past_the_probe_does_not_alias_downstream():
    p = pipeline()
    kept: list[np.ndarray] = []

    def probe(frame: fp.Frame) -> None:
        m = frame.buffer.map(write=True)
        m[0] = 99
        kept.append(m.array)  # outlives the call: downstream must get a copy
        m.release()

    p.add_probe("i.src", probe)
    with p:
        frames = list(p.frames("out", timeout=10))
    assert [int(f.array[0, 0]) for f in frames] == [99] * 3
    kept[0][0] = 1  # writes to the kept view do not reach the pulled frame
    assert int(frames[0].array[0, 0]) == 99


def test_pulled_frames_keep_a_read_only_buffer():
    p = pipeline()
    with p:
        f = p.pull("out", timeout=10)
    assert f is not None
    assert not f.buffer.is_writable
    with pytest.raises(BufferError):
        f.buffer.pts = 1
    with pytest.raises(BufferError):
        f.buffer.map(write=True)


def test_owned_frames_share_their_buffer_too():
    f = fp.Frame.from_array(np.zeros((2, 3), np.uint8))
    f.buffer.pts = 77
    assert f.pts == 77
    stride = f.array.strides[0]  # GRAY8 rows are padded to 4 bytes
    with f.buffer.map(write=True) as m:
        m[stride + 1] = 5
    assert int(f.array[1, 1]) == 5
