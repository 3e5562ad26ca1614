"""Buffer: construction, wrapping, mapping, metadata, memories, lifetimes, PyGObject interop."""

from __future__ import annotations

import gc
import shutil
import subprocess
import sys
import weakref

import framepipe as fp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import ROOT, run_python


class Tracked(np.ndarray):
    """An ndarray subclass, so that a weakref can tell when the array is freed."""


def tracked(n: int, fill: int = 0) -> Tracked:
    a = np.full(n, fill, np.uint8).view(Tracked)
    return a


def collected(ref: weakref.ref[Tracked]) -> bool:
    """Run the garbage collector and tell whether the array ``ref`` points to is gone."""
    gc.collect()
    return ref() is None


# -- construction -------------------------------------------------------------------------


def test_new_buffer_has_the_size_asked():
    b = fp.Buffer(10)
    assert b.size == len(b) == 10
    assert b.n_memory == 1
    assert b.is_writable
    assert fp.Buffer(0).size == 0


def test_new_buffer_rejects_negative_size():
    with pytest.raises(ValueError):
        fp.Buffer(-1)


def test_from_bytes_copies():
    data = bytearray(b"hello")
    b = fp.Buffer.from_bytes(data)
    data[0] = ord("j")
    assert bytes(b) == b"hello"
    with pytest.raises(TypeError):
        fp.Buffer.from_bytes(12)


def test_wrap_bytearray_is_zero_copy_both_ways():
    data = bytearray(b"abcdef")
    b = fp.Buffer.wrap(data)
    data[0] = ord("X")
    assert bytes(b) == b"Xbcdef"
    with b.map(write=True) as m:
        m[1] = ord("Y")
    assert data == bytearray(b"XYcdef")


def test_wrap_ndarray_shares_memory_and_later_writes_show():
    a = np.arange(12, dtype=np.uint16).reshape(3, 4)
    b = fp.Buffer.wrap(a)
    assert b.size == a.nbytes
    a[0, 0] = 0xBEEF
    with b.map() as m:
        assert np.shares_memory(m.array, a)
        assert bytes(m[:2]) == (0xBEEF).to_bytes(2, sys.byteorder)


def test_wrap_memoryview_and_fortran_array():
    data = bytearray(range(10))
    b = fp.Buffer.wrap(memoryview(data)[2:6])
    assert bytes(b) == bytes([2, 3, 4, 5])
    f = np.asfortranarray(np.arange(6, dtype=np.uint8).reshape(2, 3))
    assert bytes(fp.Buffer.wrap(f)) == f.tobytes(order="F")


def test_wrap_non_contiguous_array_raises_value_error():
    a = np.arange(20, dtype=np.uint8).reshape(4, 5)
    with pytest.raises(ValueError, match="contiguous"):
        fp.Buffer.wrap(a[:, ::2])
    with pytest.raises(ValueError, match="contiguous"):
        fp.Memory.wrap(a[::2])


def test_wrap_of_a_non_buffer_raises_type_error():
    with pytest.raises(TypeError):
        fp.Buffer.wrap(42)
    with pytest.raises(TypeError):
        fp.Buffer.wrap("text")


def test_wrap_read_only_objects_gives_read_only_memory():
    b = fp.Buffer.wrap(b"immutable")
    assert bytes(b) == b"immutable"
    assert b.memories[0].is_readonly
    with pytest.raises(BufferError):
        b.map(write=True)
    ro = np.zeros(4, np.uint8)
    ro.flags.writeable = False
    b2 = fp.Buffer.wrap(ro)
    with pytest.raises(BufferError):
        b2.map(write=True)
    with b2.map() as m:
        assert not m.array.flags.writeable
    # make_writable gives a copy that can be written, leaving the object untouched.
    w = b.make_writable()
    assert w is not b
    with w.map(write=True) as m:
        m[0] = ord("I")
    assert bytes(w) == b"Immutable" and bytes(b) == b"immutable"


# -- mapping ------------------------------------------------------------------------------


def test_read_mapping_supports_len_indexing_slicing_and_buffer_protocol():
    b = fp.Buffer.from_bytes(b"0123456789")
    with b.map() as m:
        assert isinstance(m, fp.Mapping)
        assert len(m) == 10 and not m.writable
        assert m[0] == ord("0") and m[-1] == ord("9")
        assert m[2:5] == b"234" and m[::3] == b"0369"
        with pytest.raises(IndexError):
            m[10]
        mv = memoryview(m)
        assert mv.readonly and bytes(mv) == b"0123456789"
        a = m.array
        assert a.dtype == np.uint8 and a.shape == (10,) and not a.flags.writeable
        with pytest.raises(ValueError):
            a[0] = 1
        with pytest.raises(TypeError):
            m[0] = 1
        with pytest.raises(TypeError):
            m[0:2] = b"ab"
        mv.release()


def test_write_mapping_assigns_items_and_slices():
    b = fp.Buffer.from_bytes(bytes(8))
    with b.map(write=True) as m:
        assert m.writable
        m[0] = 255
        m[1:3] = b"\x01\x02"
        m[-2:] = bytearray(b"\x07\x08")
        m[3:7:2] = b"\x05\x06"
        with pytest.raises(ValueError):
            m[0] = 256
        with pytest.raises(ValueError):
            m[0:2] = b"abc"
        with pytest.raises(IndexError):
            m[8] = 1
        mv = memoryview(m)
        assert not mv.readonly
        mv[2] = 9
        m.array[4] = 4
        mv.release()
    assert bytes(b) == bytes([255, 1, 9, 5, 4, 6, 7, 8])


def test_mapping_is_released_after_the_with_block():
    b = fp.Buffer(4)
    with b.map() as m:
        pass
    assert m.released
    with pytest.raises(ValueError):
        len(m)
    with pytest.raises(ValueError):
        _ = m.array


def test_write_map_of_several_memories_lands_in_the_buffer():
    b = fp.Buffer(0)
    for chunk in (b"abc", b"def", b"gh"):
        b.append_memory(fp.Memory.wrap(bytearray(chunk)))
    assert b.n_memory == 3 and b.size == 8
    with b.map(write=True) as m:
        assert bytes(m) == b"abcdefgh"
        m[2:5] = b"XYZ"  # across the memory boundaries
    assert bytes(b) == b"abXYZfgh"
    assert b.extract(0, 8) == b"abXYZfgh"
    with b.map() as m:
        assert bytes(m) == b"abXYZfgh"


def test_read_map_of_several_memories_of_a_shared_buffer():
    b = fp.Buffer(0)
    b.append_memory(fp.Memory.wrap(bytearray(b"ab")))
    b.append_memory(fp.Memory.wrap(bytearray(b"cd")))
    other = b.copy(deep=False)
    with other.map() as m:
        assert bytes(m) == b"abcd"


def test_write_map_of_a_buffer_pulled_from_appsink_raises_buffer_error():
    with fp.Pipeline("videotestsrc num-buffers=1 ! appsink name=out") as p:
        f = p.pull("out", timeout=10)
        b = f.buffer  # the frame holds the GstBuffer too: shared
        assert not b.is_writable
        with pytest.raises(BufferError, match="shared"):
            b.map(write=True)
        with b.map() as m:
            assert len(m) == b.size


def pulled(array: np.ndarray, pts: int | None = None) -> fp.Frame:
    """Pull a read-only frame from a pipeline (its buffer is shared with the pipeline's)."""
    with fp.Pipeline("appsrc name=src ! appsink name=out sync=false") as p:
        p.push("src", array, pts=pts)
        f = p.pull("out", timeout=10)
    assert f is not None
    return f


def test_write_map_of_a_shared_buffer_raises_buffer_error_and_leaves_nothing_mapped():
    # (A writable frame's `buffer` is the frame's own, writable buffer: test_probe_buffer.py.)
    f = pulled(np.zeros((2, 4), np.uint8))
    b1, b2 = f.buffer, f.buffer  # two Buffers over one GstBuffer: shared
    assert not b1.is_writable
    with pytest.raises(BufferError, match="shared"):
        b1.map(write=True)
    with b1.map() as m:  # still readable, nothing left mapped for write
        assert bytes(m) == bytes(8)
    del b2


def test_no_glib_critical_for_bad_buffer_calls():
    r = run_python(
        """
        import numpy as np, framepipe as fp
        with fp.Pipeline("videotestsrc num-buffers=1 ! appsink name=out") as p:
            f = p.pull("out", timeout=10)
            b = f.buffer
            try:
                b.map(write=True)
            except BufferError:
                print("BufferError")
            for call in (lambda: b.fill(0, b"x"), lambda: setattr(b, "pts", 1),
                         lambda: b.append_memory(fp.Memory.allocate(1))):
                try:
                    call()
                except BufferError:
                    print("BufferError")
        b = fp.Buffer(4)
        for call in (lambda: b.extract(3, 2), lambda: b.extract(-1, 1), lambda: b.fill(5, b"x"),
                     lambda: fp.Buffer(-4), lambda: fp.Buffer.wrap(np.zeros((4, 4), np.uint8)[:, ::2])):
            try:
                call()
            except ValueError:
                print("ValueError")
        """
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["BufferError"] * 4 + ["ValueError"] * 5
    assert "CRITICAL" not in r.stderr and "WARN" not in r.stderr, r.stderr


# -- lifetimes ----------------------------------------------------------------------------


def test_array_from_mapping_outlives_with_block_and_buffer():
    b = fp.Buffer.from_bytes(bytes(range(64)))
    with b.map() as m:
        a = m.array
    del b, m
    gc.collect()
    junk = [fp.Buffer.from_bytes(bytes([7]) * 64) for _ in range(200)]
    np.testing.assert_array_equal(a, np.arange(64, dtype=np.uint8))
    del junk


def test_memoryview_from_mapping_outlives_with_block_and_buffer():
    b = fp.Buffer(32)
    with b.map(write=True) as m:
        mv = memoryview(m)
        mv[:] = bytes(range(32))
    del b, m
    gc.collect()
    junk = [bytearray(b"\xff" * 32) for _ in range(200)]
    assert bytes(mv) == bytes(range(32))
    mv.release()
    del junk


def test_metadata_is_read_only_while_write_views_live_and_writable_after():
    b = fp.Buffer(4)
    with b.map(write=True) as m:
        a = m.array
        assert b.is_writable  # the mapping holds the buffer's only reference
        with pytest.raises(BufferError):
            b.pts = 1
        with b.map(write=True) as again:  # a second map reuses the live one
            again[0] = 5
    a[1] = 6  # the view still writes into the buffer after the block
    assert bytes(b)[:2] == b"\x05\x06"
    with pytest.raises(BufferError):
        b.pts = 1
    del a
    gc.collect()
    b.pts = 1  # the last view is gone: the buffer is back, unmapped and writable
    assert b.pts == 1 and b.is_writable


def test_wrapped_array_is_kept_alive_while_the_buffer_lives():
    a = tracked(16, 3)
    ref = weakref.ref(a)
    b = fp.Buffer.wrap(a)
    del a
    assert not collected(ref)
    assert bytes(b) == bytes([3]) * 16
    del b
    assert collected(ref)


def test_wrapped_array_released_after_views_of_its_mapping():
    a = tracked(8, 1)
    ref = weakref.ref(a)
    b = fp.Buffer.wrap(a)
    with b.map(write=True) as m:
        view = m.array
    del a, b, m
    assert not collected(ref)
    view[0] = 9
    assert ref()[0] == 9
    del view
    assert collected(ref)


def test_wrapped_array_survives_a_pipeline_and_is_freed_on_a_streaming_thread():
    a = tracked(4096, 42)
    ref = weakref.ref(a)
    with fp.Pipeline("appsrc name=src ! queue ! fakesink sync=false") as p:
        p.push("src", fp.Buffer.wrap(a))
        del a
        gc.collect()
        p.end_of_stream("src")
        p.run(timeout=10)
    assert collected(ref)


def test_wrapped_array_pulled_back_from_appsink_has_its_data():
    a = tracked(6, 0)
    a[:] = [1, 2, 3, 4, 5, 6]
    ref = weakref.ref(a)
    with fp.Pipeline("appsrc name=src ! queue ! appsink name=out sync=false") as p:
        p.push("src", fp.Buffer.wrap(a))
        del a
        gc.collect()
        f = p.pull("out", timeout=10)
        assert bytes(f.buffer) == bytes([1, 2, 3, 4, 5, 6])
        assert ref() is not None
        del f
    del p  # a stopped appsink still holds its last sample
    gc.collect()
    fp.Buffer(1)  # any framepipe call drains references dropped off the main thread
    assert ref() is None


# -- metadata -----------------------------------------------------------------------------


def test_timestamps_and_offsets_read_write():
    b = fp.Buffer(1)
    assert b.pts is None and b.dts is None and b.duration is None
    assert b.offset is None and b.offset_end is None
    b.pts, b.dts, b.duration = 3 * fp.SECOND, 2 * fp.SECOND, fp.SECOND // 30
    b.offset, b.offset_end = 7, 8
    assert (b.pts, b.dts, b.duration, b.offset, b.offset_end) == (
        3 * fp.SECOND,
        2 * fp.SECOND,
        fp.SECOND // 30,
        7,
        8,
    )
    b.pts = None
    assert b.pts is None
    with pytest.raises(ValueError):
        b.pts = 2**64 - 1
    with pytest.raises(OverflowError):
        b.pts = -1


def test_flags_read_write():
    b = fp.Buffer(1)
    assert b.flags == set()
    b.flags = {"DELTA_UNIT", "DISCONT"}
    assert b.flags == {"DELTA_UNIT", "DISCONT"}
    b.flags = ["gap"]
    assert b.flags == {"GAP"}
    b.flags = set()
    assert b.flags == set()
    with pytest.raises(ValueError, match="NOPE"):
        b.flags = {"NOPE"}
    with pytest.raises(TypeError):
        b.flags = "DISCONT"


def test_metadata_of_a_shared_buffer_is_read_only():
    f = pulled(np.zeros((2, 2), np.uint8), pts=10)
    b = f.buffer
    with pytest.raises(BufferError):
        b.pts = 0
    with pytest.raises(BufferError):
        b.flags = {"GAP"}
    with pytest.raises(BufferError):
        b.fill(0, b"x")
    w = b.make_writable()
    w.pts = 0
    assert w.pts == 0 and f.pts == 10


# -- copies and writability ---------------------------------------------------------------


def test_make_writable_returns_same_buffer_when_writable():
    b = fp.Buffer(4)
    assert b.make_writable() is b


def test_make_writable_of_a_shared_buffer_is_an_independent_copy():
    with fp.Pipeline("appsrc name=src ! appsink name=out sync=false") as p:
        p.push("src", np.full((2, 2), 5, np.uint8))
        f = p.pull("out", timeout=10)
    b = f.buffer
    assert not b.is_writable
    w = b.make_writable()
    assert w is not b and w.is_writable
    with w.map(write=True) as m:
        m[0] = 99
    assert bytes(w)[0] == 99
    assert f.array[0, 0] == 5


def test_copy_deep_and_shallow():
    b = fp.Buffer.from_bytes(b"abcd")
    b.pts = 5
    deep = b.copy()
    shallow = b.copy(deep=False)
    assert deep.pts == shallow.pts == 5
    assert bytes(deep) == bytes(shallow) == b"abcd"
    # GStreamer copies shared memory on write: the original never changes.
    with shallow.map(write=True) as m:
        m[0] = ord("z")
    with deep.map(write=True) as m:
        m[1] = ord("y")
    assert bytes(b) == b"abcd" and bytes(shallow) == b"zbcd" and bytes(deep) == b"aycd"


def test_frame_copy_is_writable_and_read_only_frame_arrays_refuse_writes():
    with fp.Pipeline(
        "videotestsrc num-buffers=1 ! video/x-raw,format=RGB,width=4,height=2 ! appsink name=out"
    ) as p:
        f = p.pull("out", timeout=10)
    assert not f.writable
    with pytest.raises(ValueError):
        f.array[0, 0, 0] = 1
    c = f.copy()
    assert c.writable and c.array.flags.writeable
    c.array[:] = 7
    assert (c.array == 7).all() and not (f.array == 7).all()


# -- memories, extract, fill --------------------------------------------------------------


def test_memories_and_append_memory():
    b = fp.Buffer(3)
    mem = fp.Memory.wrap(bytearray(b"xyz"))
    b.append_memory(mem)
    assert b.n_memory == 2 and b.size == 6
    mems = b.memories
    assert [m.size for m in mems] == [3, 3]
    assert all(isinstance(m, fp.Memory) for m in mems)
    with pytest.raises(TypeError):
        b.append_memory(b"xyz")


def test_extract_and_fill():
    b = fp.Buffer.from_bytes(b"0123456789")
    assert b.extract(2, 3) == b"234"
    assert b.extract(10, 0) == b""
    assert b.fill(8, b"abcd") == 2  # as much as fits
    assert b.fill(0, bytearray(b"AB")) == 2
    assert b.fill(10, b"x") == 0
    assert bytes(b) == b"AB234567ab"
    for offset, size in ((9, 2), (11, 0), (-1, 1), (0, -1)):
        with pytest.raises(ValueError):
            b.extract(offset, size)
    for offset in (11, -1):
        with pytest.raises(ValueError):
            b.fill(offset, b"x")


def test_repr_mentions_size():
    assert "4 bytes" in repr(fp.Buffer(4))
    with fp.Buffer(4).map() as m:
        assert "4 bytes" in repr(m)


# -- PyGObject interop --------------------------------------------------------------------


def test_gi_interop_in_this_interpreter():
    pytest.importorskip("gi", reason="PyGObject (gi) is not installed in this Python")
    import gi

    gi.require_version("Gst", "1.0")
    from gi.repository import Gst

    Gst.init(None)
    g = Gst.Buffer.new_wrapped(b"hello")
    b = fp.Buffer.from_gi(g)
    assert bytes(b) == b"hello"
    back = b.to_gi()
    assert hash(back) == hash(g)  # the same GstBuffer, no copy


def test_gi_interop_with_debian_python():
    python = shutil.which("python3", path="/usr/bin")
    if python is None:
        pytest.skip("Debian's /usr/bin/python3 is not installed")
    probe = subprocess.run(
        [python, "-c", "import gi, framepipe"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "python")},
        timeout=60,
    )
    if probe.returncode != 0:
        pytest.skip(
            "framepipe's extension is built for the venv's CPython, which cannot import Debian's "
            f"python3-gi, and Debian's python3 cannot import the extension: {probe.stderr.strip()[-200:]}"
        )
    r = subprocess.run(
        [
            python,
            "-c",
            "import gi; gi.require_version('Gst', '1.0'); from gi.repository import Gst; import framepipe as fp\n"
            "Gst.init(None); g = Gst.Buffer.new_wrapped(b'hello'); b = fp.Buffer.from_gi(g)\n"
            "assert bytes(b) == b'hello'; assert hash(b.to_gi()) == hash(g); print('ok')",
        ],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "python")},
        timeout=60,
    )
    assert r.stdout.strip() == "ok", r.stderr


def test_from_gi_rejects_other_objects():
    with pytest.raises(TypeError):
        fp.Buffer.from_gi(object())
    with pytest.raises(TypeError):
        fp.Buffer.from_gi(b"bytes")


def test_writable_buffer_example_runs():
    r = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "writable_buffer.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "LifeStyleTransfer"


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(min_size=0, max_size=64),
    start=st.integers(-80, 80) | st.none(),
    stop=st.integers(-80, 80) | st.none(),
    step=st.sampled_from([None, 1, 2, 3, -1, -2]),
)
def test_mapping_slices_behave_like_bytearray(data, start, stop, step):
    b = fp.Buffer.from_bytes(data)
    model = bytearray(data)
    key = slice(start, stop, step)
    with b.map(write=True) as m:
        assert m[key] == bytes(model[key])
        patch = bytes(range(len(model[key])))
        m[key] = patch
        model[key] = patch
    assert bytes(b) == bytes(model)


@settings(max_examples=100, deadline=None)
@given(
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=3),
    dtype=st.sampled_from([np.uint8, np.int16, np.float32, np.float64]),
    order=st.sampled_from("CF"),
)
def test_wrap_round_trips_any_contiguous_array(shape, dtype, order):
    a = np.asarray(np.arange(int(np.prod(shape))).reshape(shape), dtype=dtype, order=order)
    b = fp.Buffer.wrap(a)
    assert bytes(b) == a.tobytes(order="A")  # memory order, no copy made by wrap
    with b.map(write=a.flags.writeable) as m:
        assert len(m) == a.nbytes
        if a.nbytes:
            assert np.shares_memory(m.array, a)
