"""Memory: allocation, wrapping, copy/share/resize/is_span with GStreamer's semantics."""

from __future__ import annotations

import gc
import weakref

import framepipe as fp
import numpy as np
import pytest

from .conftest import run_python


class Tracked(bytearray):
    """A bytearray subclass, so that a weakref can tell when it is freed."""


def test_allocate_and_sizes():
    m = fp.Memory.allocate(10)
    size, offset, maxsize = m.get_sizes()
    assert (size, offset) == (10, 0) and maxsize >= 10
    assert (m.size, m.offset, m.maxsize) == (size, offset, maxsize)
    assert len(m) == 10
    assert m.is_writable and not m.is_readonly
    assert m.is_type("SystemMemory")
    assert not m.is_type("GLMemory")
    with pytest.raises(ValueError):
        fp.Memory.allocate(-1)


def test_wrap_is_zero_copy_and_keeps_the_object_alive():
    data = Tracked(b"abcdef")
    ref = weakref.ref(data)
    m = fp.Memory.wrap(data)
    assert m.get_sizes() == (6, 0, 6)
    data[0] = ord("A")
    del data
    gc.collect()
    assert ref() is not None
    with m.map() as mp:
        assert bytes(mp) == b"Abcdef"
    with m.map(write=True) as mp:
        mp[1] = ord("B")
    assert ref() == bytearray(b"ABcdef")
    del m, mp
    gc.collect()
    assert ref() is None


def test_copy_is_writable_and_independent():
    m = fp.Memory.wrap(bytearray(b"0123456789"))
    c = m.copy(2, 3)
    assert c.size == 3 and c.is_writable
    with c.map() as mp:
        assert bytes(mp) == b"234"
    with c.map(write=True) as mp:
        mp[0] = ord("x")
    with m.map() as mp:
        assert bytes(mp) == b"0123456789"
    with m.copy().map() as mp:
        assert bytes(mp) == b"0123456789"
    with m.copy(4).map() as mp:  # size -1: to the end
        assert bytes(mp) == b"456789"


def test_share_is_read_only_and_zero_copy():
    parent = fp.Memory.wrap(bytearray(b"0123456789"))
    s = parent.share(3, 4)
    assert s.size == 4 and not s.is_writable and s.is_readonly
    with pytest.raises(BufferError):
        s.map(write=True)
    with parent.map(write=True) as mp:
        mp[3] = ord("X")
    with s.map() as mp:
        assert bytes(mp) == b"X456"
    assert parent.share().size == 10 and parent.share(10).size == 0


def test_resize_honours_maxsize():
    m = fp.Memory.allocate(16)
    _, _, maxsize = m.get_sizes()
    m.resize(4, 8)
    assert m.get_sizes() == (8, 4, maxsize)
    m.resize(-4, 16)  # offsets are relative to the current start
    assert m.get_sizes() == (16, 0, maxsize)
    m.resize(0, maxsize)
    assert m.size == maxsize
    for offset, size in ((0, maxsize + 1), (1, maxsize), (-1, 1), (0, -1)):
        with pytest.raises(ValueError):
            m.resize(offset, size)
    assert m.get_sizes() == (maxsize, 0, maxsize)


def test_resize_of_a_shared_memory_raises_buffer_error():
    m = fp.Memory.allocate(8)
    b1, b2 = fp.Buffer(0), fp.Buffer(0)
    b1.append_memory(m)
    b2.append_memory(m)  # in two buffers: shared
    assert not m.is_writable
    with pytest.raises(BufferError):
        m.resize(0, 4)
    with pytest.raises(BufferError):
        m.map(write=True)


def test_is_span_of_adjacent_shares():
    parent = fp.Memory.allocate(10)
    a, b, c = parent.share(0, 4), parent.share(4, 6), parent.share(5, 5)
    assert a.is_span(b) == (True, 0)
    assert a.is_span(c)[0] is False
    assert b.is_span(a)[0] is False
    other = fp.Memory.allocate(6)
    assert a.is_span(other) == (False, 0)
    assert parent.is_span(parent)[0] is False  # no common parent


def test_copy_and_share_reject_out_of_range():
    m = fp.Memory.allocate(10)
    for offset, size in ((11, -1), (0, 11), (5, 6), (-1, 2), (0, -2)):
        with pytest.raises(ValueError):
            m.copy(offset, size)
        with pytest.raises(ValueError):
            m.share(offset, size)


def test_map_views_outlive_the_memory_object():
    m = fp.Memory.allocate(8)
    with m.map(write=True) as mp:
        arr = mp.array
        arr[:] = np.arange(8)
    del m, mp
    gc.collect()
    junk = [fp.Memory.allocate(8) for _ in range(100)]
    np.testing.assert_array_equal(arr, np.arange(8))
    del junk


def test_memory_from_a_buffer_is_shared_with_it():
    b = fp.Buffer.from_bytes(b"abcd")
    (m,) = b.memories
    with m.map() as mp:
        assert bytes(mp) == b"abcd"
    assert "Memory size=4" in repr(m)


def test_no_glib_critical_for_bad_memory_calls():
    r = run_python(
        """
        import framepipe as fp
        m = fp.Memory.allocate(10)
        calls = [lambda: m.copy(11), lambda: m.share(0, 11), lambda: m.resize(0, 10**6),
                 lambda: m.resize(-1, 1), lambda: fp.Memory.allocate(-1), lambda: m.share(10, 1)]
        for call in calls:
            try:
                call()
            except ValueError:
                print("ValueError")
        s = m.share(0, 4)
        try:
            s.map(write=True)
        except BufferError:
            print("BufferError")
        b1, b2 = fp.Buffer(0), fp.Buffer(0)
        b1.append_memory(m); b2.append_memory(m)
        try:
            m.resize(0, 1)
        except BufferError:
            print("BufferError")
        """
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ValueError"] * 6 + ["BufferError"] * 2
    assert "CRITICAL" not in r.stderr, r.stderr


def test_resize_of_a_read_only_share_raises_buffer_error():
    parent = fp.Memory.wrap(bytearray(b"0123456789"))
    s = parent.share(2, 4)
    assert s.is_readonly and not s.is_writable
    with pytest.raises(BufferError):
        s.resize(0, 2)
    assert s.get_sizes()[0] == 4
    with s.map() as mp:
        assert bytes(mp) == b"2345"
