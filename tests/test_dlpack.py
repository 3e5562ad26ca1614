"""Frame.__dlpack__: zero-copy export of writable frames to numpy (and torch where installed); read-only frames are copied, or shared read-only only on explicit request."""

from __future__ import annotations

import ctypes
import gc

import framepipe as fp
import numpy as np
import pytest


def pulled() -> fp.Frame:
    with fp.Pipeline(
        "videotestsrc num-buffers=1 ! video/x-raw,format=RGB,width=6,height=4 ! appsink name=out"
    ) as p:
        f = p.pull("out", timeout=10)
    assert f is not None
    return f


def capsule_name(capsule) -> str:
    get = ctypes.pythonapi.PyCapsule_GetName
    get.restype = ctypes.c_char_p
    get.argtypes = [ctypes.py_object]
    return get(capsule).decode()


def test_dlpack_device_is_cpu():
    assert pulled().__dlpack_device__() == (1, 0)


def test_from_dlpack_is_zero_copy_for_writable_frames():
    f = fp.Frame.from_array(np.arange(24, dtype=np.uint8).reshape(2, 4, 3))
    x = np.from_dlpack(f)
    assert x.shape == f.array.shape and x.dtype == np.uint8
    assert np.shares_memory(x, f.array)
    np.testing.assert_array_equal(x, f.array)


def test_read_only_frame_exports_a_copy_by_default():
    f = pulled()
    x = np.from_dlpack(f)
    assert not np.shares_memory(x, f.array)
    np.testing.assert_array_equal(x, f.array)
    x[:] = 0  # a copy of its own: the frame (and any branch sharing its buffer) is untouched
    assert f.array.any()


def test_read_only_frame_shared_only_read_only_and_on_request():
    f = pulled()
    x = np.from_dlpack(f, copy=False)  # numpy asks with max_version=(1, 0)
    assert np.shares_memory(x, f.array)
    assert not x.flags.writeable
    with pytest.raises(ValueError):
        x[0, 0, 0] = 1
    with pytest.raises(BufferError):
        f.__dlpack__(copy=False)  # a legacy consumer would never see the read-only flag


FLAG_READ_ONLY, FLAG_IS_COPIED = 1, 2


def capsule_tensor(capsule) -> tuple[int, int | None]:
    """Return (data pointer, flags) of a DLPack capsule; flags None for a legacy capsule."""
    name = capsule_name(capsule)
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    ptr = get(capsule, name.encode())
    if name == "dltensor":
        return ctypes.c_void_p.from_address(ptr).value or 0, None
    # DLManagedTensorVersioned: version (2 x u32), manager_ctx, deleter, flags, dl_tensor.
    flags = ctypes.c_uint64.from_address(ptr + 24).value
    return ctypes.c_void_p.from_address(ptr + 32).value or 0, flags


@pytest.mark.parametrize("max_version", [None, (0, 8), (1, 0)])
def test_no_consumer_gets_a_writable_alias_of_a_read_only_frame(max_version):
    f = pulled()
    data = f.array.ctypes.data
    kwargs = {} if max_version is None else {"max_version": max_version}
    ptr, flags = capsule_tensor(f.__dlpack__(**kwargs))
    assert ptr != data  # a copy
    if flags is not None:
        assert flags & FLAG_IS_COPIED and not flags & FLAG_READ_ONLY
    ptr, flags = capsule_tensor(f.__dlpack__(max_version=(1, 0), copy=False))
    assert ptr == data and flags is not None and flags & FLAG_READ_ONLY


@pytest.mark.parametrize("max_version", [None, (1, 0)])
def test_writable_frame_capsule_is_zero_copy_and_writable(max_version):
    f = fp.Frame.from_array(np.zeros((3, 5, 3), np.uint8))
    kwargs = {} if max_version is None else {"max_version": max_version}
    ptr, flags = capsule_tensor(f.__dlpack__(**kwargs))
    assert ptr == f.array.ctypes.data
    assert flags in (None, 0)


def test_tee_branches_do_not_see_each_others_writes():
    with fp.Pipeline(
        "videotestsrc num-buffers=1 ! video/x-raw,format=RGB,width=8,height=6 ! tee name=t "
        "t. ! queue ! appsink name=a t. ! queue ! appsink name=b"
    ) as p:
        fa, fb = p.pull("a", timeout=10), p.pull("b", timeout=10)
    assert fa is not None and fb is not None
    before = fb.array.copy()
    np.from_dlpack(fa)[:] = 0
    np.testing.assert_array_equal(fb.array, before)


def test_writable_frame_exports_writable():
    f = fp.Frame.from_array(np.zeros((3, 5, 3), np.uint8))
    x = np.from_dlpack(f)
    x[1, 2, 0] = 200
    assert f.array[1, 2, 0] == 200


def test_export_outlives_the_frame():
    data = np.random.default_rng(1).integers(0, 255, (4, 6), dtype=np.uint8)
    f = fp.Frame.from_array(data)
    x = np.from_dlpack(f)
    del f
    gc.collect()
    junk = [np.full((4, 6), 3, np.uint8) for _ in range(100)]
    np.testing.assert_array_equal(x, data)
    del junk


def test_capsule_kinds_and_unconsumed_capsules_are_freed():
    f = pulled()
    assert capsule_name(f.__dlpack__()) == "dltensor"
    assert capsule_name(f.__dlpack__(max_version=(1, 0))) == "dltensor_versioned"
    assert capsule_name(f.__dlpack__(max_version=(0, 8))) == "dltensor"
    for _ in range(1000):
        f.__dlpack__(max_version=(1, 1))  # dropped unconsumed: the destructor frees them


def test_strided_and_16_bit_frames():
    a = np.arange(20, dtype=np.uint16).reshape(4, 5)
    f = fp.Frame.from_array(a)  # GRAY16_LE rows padded to 4 bytes: a strided view
    x = np.from_dlpack(f)
    np.testing.assert_array_equal(x, a)
    assert x.strides == f.array.strides


def test_copy_and_device_arguments():
    f = pulled()
    x = np.from_dlpack(f, copy=True)
    assert not np.shares_memory(x, f.array)
    np.testing.assert_array_equal(x, f.array)
    with pytest.raises(BufferError):
        f.__dlpack__(dl_device=(2, 0))
    with pytest.raises(ValueError):
        f.__dlpack__(stream=1)


def test_planar_frames_cannot_be_exported_as_one_array():
    with fp.Pipeline(
        "videotestsrc num-buffers=1 ! video/x-raw,format=I420,width=8,height=4 ! appsink name=out"
    ) as p:
        f = p.pull("out", timeout=10)
    with pytest.raises(ValueError, match="planes"):
        f.__dlpack__()


def test_torch_from_dlpack():
    torch = pytest.importorskip("torch", reason="torch is not installed here")
    f = fp.Frame.from_array(np.arange(24, dtype=np.uint8).reshape(2, 4, 3))
    t = torch.from_dlpack(f)
    assert t.data_ptr() == f.array.ctypes.data
    assert t.shape == (2, 4, 3)
