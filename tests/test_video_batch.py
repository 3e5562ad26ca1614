"""Batch and time queries on the FFmpeg reader: read_batch, read_at_times, imread(index=[...]), iter(start, stop, step) equal sequential iteration on every clip kind the exact-index tests use; bad indices; saved indexes; threads (many files, one shared file, no deadlock)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import framepipe as fp
import numpy as np
import pytest

from .conftest import run_python
from .test_video import CFR, CLIPS, X264_B, encode, frame_level, level


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("batch_clips")
    return {name: encode(d / name, chain, pts) for name, (chain, pts) in CLIPS.items()}


@pytest.fixture(scope="module")
def sequential(clips) -> dict[str, np.ndarray]:
    return {name: np.stack([f.copy() for f in fp.imiter(path)]) for name, path in clips.items()}


def run_in_threads(work: Callable[[int], None], n: int) -> None:
    """Run ``work(0)`` .. ``work(n - 1)`` on n threads at once; fail on any error or hang."""
    errors: list[BaseException] = []

    def guarded(i: int) -> None:
        try:
            work(i)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_read_batch_equals_iteration(clips, sequential, name):
    seq = sequential[name]
    n = len(seq)
    order = [n - 1, 0, 13, 5, 6, 20, 1, 13, -1, -n, 7, 7]
    expected = np.stack([seq[k] for k in order])
    with fp.open(clips[name]) as f:
        assert f._reader().backend == "libav"
        got = f.read_batch(order)
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(f.read_batch(np.array(order, np.int64)), expected)
        # Every frame, reversed: one pass through all GOPs.
        np.testing.assert_array_equal(f.read_batch(list(range(n))[::-1]), seq[::-1])
        # The reader can still iterate and read by index afterwards.
        np.testing.assert_array_equal(f.read(index=3), seq[3])
        np.testing.assert_array_equal(np.stack(list(f.iter())), seq)
    np.testing.assert_array_equal(fp.imread(clips[name], index=order), expected)
    np.testing.assert_array_equal(fp.imread(clips[name], index=np.array(order)), expected)


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_read_at_times_equals_iteration(clips, sequential, name):
    seq = sequential[name]
    with fp.open(clips[name]) as f:
        times = f._reader().times()
        n = len(times)
        # Exactly at a frame's start, just before the next one, and out of order.
        ts = [times[5], times[6] - 1e-4, 0.0, times[-1], times[2] + 1e-4]
        want = [5, 5, 0, n - 1, 2]
        frames, pts, duration = f.read_at_times(ts, return_times=True)
        np.testing.assert_array_equal(frames, np.stack([seq[k] for k in want]))
        np.testing.assert_allclose(pts, [times[k] for k in want])
        assert (duration > 0).all()
        for t, p, d in zip(ts, pts, duration, strict=True):
            assert p <= t + 1e-9 < p + d
        with pytest.raises(IndexError, match=r"-0\.5"):
            f.read_at_times([0.0, -0.5])
        with pytest.raises(IndexError, match="1000"):
            f.read_at_times([1000.0])


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_iter_start_stop_step(clips, sequential, name):
    seq = sequential[name]
    path = clips[name]
    for start, stop, step in [(0, None, 3), (5, 17, 1), (2, None, 7), (-6, None, 2), (20, 3, -4)]:
        got = list(fp.imiter(path, start=start, stop=stop, step=step))
        want = seq[start:stop:step]
        assert len(got) == len(want), (start, stop, step)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
    with fp.open(path) as f, pytest.raises(ValueError, match="step"):
        next(f.iter(step=0))


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_random_reads_revisiting_frames_equal_iteration(clips, sequential, name):
    """Random reads keep the frames decoded on their way.

    Reading them later (backwards in a GOP, or again) gives the frames of sequential
    iteration, and iteration after such a read continues right after it.
    """
    seq = sequential[name]
    n = len(seq)
    with fp.open(clips[name]) as f:
        for k in [n - 1, n - 2, 7, 6, 3, 5, 4, 0, n - 3, 2, 6, 1, n - 1]:
            np.testing.assert_array_equal(f.read(index=k), seq[k], err_msg=f"frame {k}")
        np.testing.assert_array_equal(f.read(index=4), seq[4])
        np.testing.assert_array_equal(np.stack(list(f.iter(start=3))), seq[3:])
        np.testing.assert_array_equal(f.read(index=2), seq[2])
        np.testing.assert_array_equal(np.stack(list(f.iter(start=1, stop=9))), seq[1:9])
        np.testing.assert_array_equal(np.stack(list(f.iter())), seq)


def test_bad_indices(clips):
    path = clips["cfr_bframes.mp4"]
    with fp.open(path) as f:
        n = len(f)
        with pytest.raises(IndexError, match=str(n + 5)):
            f.read_batch([0, n + 5])
        with pytest.raises(IndexError, match=str(-n - 1)):
            f.read_batch([-n - 1])
        with pytest.raises(TypeError):
            f.read_batch([0, 1.5])
        with pytest.raises(TypeError):
            f.read_batch(["3"])
        with pytest.raises(TypeError):
            f.read_batch(np.array([0.0, 1.0]))
        with pytest.raises(TypeError):
            f.read_batch(3)
        assert f.read_batch([]).shape == (0, 48, 64, 3)
    with pytest.raises(IndexError, match="999"):
        fp.imread(path, index=[1, 999])
    with pytest.raises(TypeError):
        fp.imread(path, index=[1, None])


def test_formats_and_writability(clips, sequential):
    path = clips["cfr_bframes.mp4"]
    seq = sequential["cfr_bframes.mp4"]
    with fp.open(path) as f:
        batch = f.read_batch([4, 2])
        assert batch.flags.writeable  # the batch owns its memory
        np.testing.assert_array_equal(f.read_batch([4], format="bgr24")[0], seq[4][..., ::-1])
        assert f.read_batch([4, 2], format="gray").shape == (2, 48, 64)
        assert f.read_batch([4], format="gray16le").dtype == np.uint16
        assert f.read_batch([4], format="yuv444p").shape == (1, 3, 48, 64)
        frame = next(f.iter())
        assert not frame.flags.writeable  # iteration: read-only
        # A GStreamer filter goes through the GStreamer reader, with the same answers.
        small = f.read_batch([4, 2], filter="videoscale ! video/x-raw,width=32,height=24")
        assert small.shape == (2, 24, 32, 3)


def test_saved_index_round_trip(clips, sequential, tmp_path):
    path = clips["vfr.mkv"]
    seq = sequential["vfr.mkv"]
    saved = tmp_path / "vfr.index.json"
    with fp.open(path) as f:
        f.save_index(saved)
        meta = f.metadata()
    data = json.loads(saved.read_text())
    assert data["framepipe_index"] == 1 and len(data["frames"]) == len(seq)
    for source in (saved, str(saved), data):
        with fp.open(path, frame_index=source) as f:
            assert len(f) == len(seq)
            assert f.metadata()["n_frames"] == meta["n_frames"]
            np.testing.assert_array_equal(f.read_batch([7, 1]), seq[[7, 1]])
    np.testing.assert_array_equal(fp.imread(path, index=3, frame_index=saved), seq[3])
    # An index saved for another file is refused, not trusted.
    with pytest.raises(ValueError, match="another file"):
        fp.open(clips["vfr.mp4"], frame_index=saved)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="frame index"):
        fp.open(path, frame_index=bad)


@pytest.mark.parametrize("name", ["vfr.mkv", "clip.webm", "ffmpeg.mkv"])
def test_matroska_index_from_block_headers_equals_packet_scan(clips, tmp_path, name):
    """MKV/WebM are indexed from their block headers (payloads skipped).

    The index equals libavformat's packet scan (FRAMEPIPE_SCAN_INDEX=1) in pts, duration,
    keyframes and order (dts: Matroska stores none; the packet scan has libavformat's guess).
    """
    if name == "ffmpeg.mkv":  # FFmpeg's own muxer (GStreamer's makes the other two)
        path = tmp_path / name
        subprocess.run(
            ["ffmpeg", "-v", "error", "-i", str(clips["cfr_bframes.mp4"]), "-c", "copy", str(path)],
            check=True,
            timeout=60,
        )
    else:
        path = clips[name]
    code = f"""
import os, framepipe as fp
with fp.open({str(path)!r}) as f:
    f.save_index({str(tmp_path / "x")!r} + os.environ["OUT"])
"""
    indexes = {}
    for mode, env in (("blocks", {}), ("packets", {"FRAMEPIPE_SCAN_INDEX": "1"})):
        r = run_python(code, env={**env, "OUT": mode, "FRAMEPIPE_AV_DEBUG": "1"})
        assert r.returncode == 0, r.stderr
        assert ("index from the matroska block headers" in r.stderr) == (mode == "blocks"), r.stderr
        indexes[mode] = json.loads((tmp_path / f"x{mode}").read_text())
    blocks, packets = indexes["blocks"]["frames"], indexes["packets"]["frames"]
    assert len(blocks) == len(packets) > 20
    assert [(p, d, k, o) for p, _, d, k, o in blocks] == [(p, d, k, o) for p, _, d, k, o in packets]
    assert indexes["blocks"]["origin"] == indexes["packets"]["origin"]


def test_colour_overrides(tmp_path):
    path = tmp_path / "bars.mp4"
    fp.Pipeline(
        f"videotestsrc num-buffers=2 pattern=smpte ! video/x-raw,width=64,height=48,format=I420 ! "
        f"x264enc ! mp4mux ! filesink location={path}"
    ).run(timeout=60)
    default = fp.imread(path, index=0).astype(int)
    assert np.array_equal(fp.imread(path, index=0, colorspace="bt601"), default)  # untagged: BT.601
    assert np.abs(fp.imread(path, index=0, colorspace="bt709").astype(int) - default).max() > 5
    full = fp.imread(path, index=0, color_range="full").astype(int)
    assert full.std() < default.std()  # full-range reading compresses the contrast
    with pytest.raises(ValueError, match="bt709"):
        fp.imread(path, index=0, colorspace="nosuch")
    with pytest.raises(ValueError, match="limited"):
        fp.imread(path, index=0, color_range="half")


def test_eight_threads_eight_files(tmp_path):
    paths = []
    for i in range(8):
        pts = CFR[: 12 + i]
        paths.append(encode(tmp_path / f"t{i}.mp4", f"{X264_B} ! mp4mux", pts))
    results: dict[int, list[float]] = {}

    def work(i: int) -> None:
        with fp.open(paths[i]) as f:
            levels = [frame_level(a) for a in f.iter()]
            levels += [frame_level(a) for a in f.read_batch([3, 0, len(f) - 1])]
        results[i] = levels

    run_in_threads(work, 8)
    for i in range(8):
        n = 12 + i
        expected = [level(k) for k in range(n)] + [level(3), level(0), level(n - 1)]
        assert len(results[i]) == len(expected)
        assert all(abs(a - b) <= 4 for a, b in zip(results[i], expected, strict=True)), i


def test_one_file_shared_by_four_threads(clips, sequential):
    path = clips["cfr_bframes.mp4"]
    seq = sequential["cfr_bframes.mp4"]
    with fp.open(path) as f:

        def work(seed: int) -> None:
            rng = np.random.default_rng(seed)
            for _ in range(6):
                ks = rng.integers(0, len(seq), 4).tolist()
                np.testing.assert_array_equal(f.read_batch(ks), seq[ks])
                k = int(rng.integers(0, len(seq)))
                np.testing.assert_array_equal(f.read(index=k), seq[k])
                assert len(f) == len(seq)

        run_in_threads(work, 4)


def test_len_and_metadata_while_another_thread_iterates_do_not_deadlock(clips):
    r = run_python(
        f"""
        import threading, framepipe as fp
        f = fp.open({str(clips["clip.ts"])!r})
        done = threading.Event()
        def iterate():
            for _ in range(20):
                for _ in f.iter():
                    pass
            done.set()
        t = threading.Thread(target=iterate)
        t.start()
        calls = 0
        while not done.is_set():
            assert len(f) > 0 and f.metadata()["n_frames"] == len(f)
            f.metadata(index=1)
            calls += 1
        t.join()
        f.close()
        print("ok", calls)
        """,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok")


def test_closing_a_reader_whose_python_filter_is_slow_does_not_hang(clips, tmp_path):
    slow = tmp_path / "slow.py"
    slow.write_text("import time\n\ndef process_frame(frame):\n    time.sleep(0.05)\n")
    r = run_python(
        f"""
        import gc, framepipe as fp
        clip = {str(clips["cfr_bframes.mp4"])!r}
        for i, a in enumerate(fp.imiter(clip, filter="pyfunc module={slow}")):
            if i == 3:
                break
        f = fp.open(clip, filter="pyfunc module={slow}")
        it = f.iter()
        next(it)
        f._reader().rewind()
        next(f.iter())
        del it, f
        gc.collect()
        print("ok")
        """,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


COLOUR_CLIPS = {
    "sd_untagged.mp4": ("320x240", ["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
    "hd_untagged.mp4": ("1280x720", ["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
    "hd_bt709.mp4": ("1280x720", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-colorspace", "bt709"]),
    "bt2020.mp4": ("320x240", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-colorspace", "bt2020nc"]),
    "full_range.mp4": ("320x240", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-color_range", "pc"]),
    "odd_10bit.mkv": ("321x241", ["-c:v", "libx264", "-pix_fmt", "yuv420p10le"]),
    "odd_422.mkv": ("66x50", ["-c:v", "libx264", "-pix_fmt", "yuv422p"]),
    "yuv444.mkv": ("64x48", ["-c:v", "libx264", "-pix_fmt", "yuv444p"]),
    "odd_mpeg2.mpg": ("322x242", ["-c:v", "mpeg2video"]),
    "vp9.webm": ("320x240", ["-c:v", "libvpx-vp9", "-deadline", "realtime"]),
    "mjpeg.avi": ("320x240", ["-c:v", "mjpeg"]),
}


@pytest.mark.parametrize("name", sorted(COLOUR_CLIPS))
def test_rgb24_equals_ffmpeg(tmp_path, name):
    """rgb24 as ``ffmpeg -pix_fmt rgb24`` gives it: signalled matrix and range, BT.601 when untagged at every size, odd sizes, 10-bit, 4:2:2 and 4:4:4 (mean <= 1, p99 <= 4 levels)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.skip("the ffmpeg command is not installed")
    size, args = COLOUR_CLIPS[name]
    path = tmp_path / name
    src = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25"]
    subprocess.run([ffmpeg, "-loglevel", "error", *src, "-frames:v", "3", *args, str(path)], check=True)
    ours = fp.imread(path)
    ref = subprocess.run(
        [ffmpeg, "-loglevel", "error", "-i", str(path), "-pix_fmt", "rgb24", "-f", "rawvideo", "-"],
        capture_output=True,
        check=True,
    ).stdout
    ref_frames = np.frombuffer(ref, np.uint8).reshape(ours.shape)
    diff = np.abs(ours.astype(np.int16) - ref_frames.astype(np.int16))
    assert diff.mean() <= 1.0 and np.percentile(diff, 99) <= 4, (diff.mean(), np.percentile(diff, 99))
