"""framepipe.ray on a local Ray with 2 CPUs (started once for the whole run): frames and counts equal framepipe's own sequential reads on the exact-index clips, long files split at keyframes, sampling, process_videos with a pyfunc pipeline, and each on_error mode with a corrupt, a truncated and a missing file among good ones."""

from __future__ import annotations

import bisect
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import framepipe as fp
import numpy as np
import pytest
from framepipe import MediaError
from hypothesis import given
from hypothesis import strategies as st

from .conftest import ROOT
from .test_video import CLIPS, X264_B, encode

ray = pytest.importorskip("ray")  # in requirements-dev.txt; the import only says why if missing
fpray = pytest.importorskip("framepipe.ray")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

LONG_N = 96


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray for every test here: 2 CPUs, no dashboard."""
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        logging_level="WARNING",
        log_to_driver=False,
        configure_logging=True,
    )
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("ray_clips")
    return {name: encode(d / name, chain, pts) for name, (chain, pts) in CLIPS.items()}


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """Return a clip with a keyframe every 8 frames, to be split into several read tasks."""
    path = tmp_path_factory.mktemp("ray_long") / "long.mp4"
    return encode(path, f"{X264_B} ! mp4mux", [k * fp.SECOND // 30 for k in range(LONG_N)])


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, clips) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("ray_bad")
    corrupt = d / "corrupt.mp4"
    corrupt.write_bytes(bytes(range(256)) * 64)
    truncated = d / "truncated.mp4"
    data = clips["cfr_bframes.mp4"].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    return {"corrupt": corrupt, "truncated": truncated, "missing": d / "missing.mp4"}


def by_path(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in rows:
        out.setdefault(r["path"], []).append(r)
    for rs in out.values():
        rs.sort(key=lambda r: r["frame_index"])
    return out


def sequential(path: Path) -> np.ndarray:
    return fp.imread(path)


def test_frames_equal_framepipe_sequential_reads(ray_cluster, clips):
    ds = fpray.read_videos([str(p) for p in clips.values()])
    assert set(ds.columns()) == {"path", "frame_index", "pts", "time", "frame"}
    got = by_path(ds.take_all())
    assert set(got) == {str(p) for p in clips.values()}
    for path in clips.values():
        rows = got[str(path)]
        want = sequential(path)
        assert [r["frame_index"] for r in rows] == list(range(len(want))), path.name
        assert len(rows) == fp.improps(path).n_images
        for r in rows:
            np.testing.assert_array_equal(r["frame"], want[r["frame_index"]])
        for k in (0, len(rows) // 2, len(rows) - 1):
            meta = fp.immeta(path, index=k)
            assert rows[k]["pts"] == meta["pts"]
            assert rows[k]["time"] == pytest.approx(meta["time"])


def test_directories_and_globs(ray_cluster, clips):
    d = next(iter(clips.values())).parent
    assert fpray.expand_paths(d) == sorted(str(p) for p in clips.values())
    assert fpray.expand_paths(str(d / "*.mp4")) == sorted(
        str(p) for p in clips.values() if p.suffix == ".mp4"
    )
    ds = fpray.read_videos(str(d / "*.ts"), include_paths=False, frames_per_task=None)
    assert "path" not in ds.columns()
    assert ds.count() == fp.improps(clips["clip.ts"]).n_images
    with pytest.raises(FileNotFoundError):
        fpray.expand_paths(str(d / "*.nothing"))


@pytest.mark.slow
def test_long_clip_splits_at_keyframes_every_frame_once_in_order(ray_cluster, long_clip):
    plan = fpray._plan_remote([str(long_clip)], fpray._Sampling(), 30, {"format": "rgb24"})
    ((_, runs, _),) = plan
    assert len(runs) >= 3
    keyframes = [k for k in range(LONG_N) if fp.immeta(long_clip, index=k)["key_frame"]]
    assert all(r[0] in keyframes for r in runs)
    assert [k for r in runs for k in r] == list(range(LONG_N))

    ds = fpray.read_videos(long_clip, frames_per_task=30)
    ds.context.execution_options.preserve_order = True
    rows = ds.take_all()
    assert [r["frame_index"] for r in rows] == list(range(LONG_N))
    tasks = int(re.search(r"ReadFramepipeVideo: (\d+) tasks executed", ds.stats()).group(1))
    assert tasks == len(runs)
    want = sequential(long_clip)
    for r in rows:
        np.testing.assert_array_equal(r["frame"], want[r["frame_index"]])


def test_sampling_indices_step_times(ray_cluster, clips):
    vfr, ts = clips["vfr.mp4"], clips["clip.ts"]
    n_vfr, n_ts = fp.improps(vfr).n_images, fp.improps(ts).n_images
    paths = [str(vfr), str(ts)]

    got = by_path(fpray.read_videos(paths, indices=[0, 5, -1, 5, 1000]).take_all())
    assert [r["frame_index"] for r in got[str(vfr)]] == [0, 5, n_vfr - 1]
    assert [r["frame_index"] for r in got[str(ts)]] == [0, 5, n_ts - 1]
    for r in got[str(vfr)]:
        np.testing.assert_array_equal(r["frame"], fp.imread(vfr, index=r["frame_index"]))

    got = by_path(fpray.read_videos(paths, step=4).take_all())
    assert [r["frame_index"] for r in got[str(ts)]] == list(range(0, n_ts, 4))

    got = by_path(fpray.read_videos(paths, indices=lambda n: [n // 2]).take_all())
    assert [r["frame_index"] for r in got[str(vfr)]] == [n_vfr // 2]

    times = [0.0, 0.03, 0.1, 0.35, 100.0]
    frame_times = [fp.immeta(vfr, index=k)["time"] for k in range(n_vfr)]
    want = sorted({bisect.bisect_right(frame_times, t) - 1 for t in times[:-1]})
    got = by_path(fpray.read_videos(str(vfr), times=times).take_all())
    assert [r["frame_index"] for r in got[str(vfr)]] == want
    for r in got[str(vfr)]:
        assert r["time"] == pytest.approx(frame_times[r["frame_index"]])
        np.testing.assert_array_equal(r["frame"], fp.imread(vfr, index=r["frame_index"]))

    with pytest.raises(ValueError, match="at most one"):
        fpray.read_videos(paths, step=2, times=[0.0])


DETECTOR = textwrap.dedent(
    """
    def process_frame(frame):
        level = int(frame.array.mean())
        frame.add_region(1, 2, 10, 8, label="grey", confidence=level / 255)
        frame.add_message({"level": level})
    """
)


@pytest.mark.slow
def test_process_videos_runs_a_pyfunc_pipeline_writing_json_lines(ray_cluster, clips, tmp_path):
    det = tmp_path / "det.py"
    det.write_text(DETECTOR)
    desc = (
        "filesrc location={path} ! decodebin ! videoconvert ! video/x-raw,format=RGB ! "
        f"pyfunc module={det} ! fpmetawriter location={{output}} ! fakesink"
    )
    names = ["cfr_bframes.mp4", "vfr.mkv", "clip.ts"]
    seen = []
    results = fpray.process_videos(
        [str(clips[n]) for n in names],
        desc,
        output_dir=tmp_path / "out",
        progress=lambda record, done, total: seen.append((done, total)),
    )
    assert [Path(r["path"]).name for r in results] == names
    assert sorted(seen) == [(1, 3), (2, 3), (3, 3)]
    for name, r in zip(names, results, strict=True):
        n = fp.improps(clips[name]).n_images
        assert r["ok"] and r["error"] is None
        assert r["output"] == str(tmp_path / "out" / f"{Path(name).stem}.jsonl")
        lines = [json.loads(line) for line in Path(r["output"]).read_text().splitlines()]
        assert len(lines) == r["records"] == r["frames"] == n
        assert all(line["regions"][0]["label"] == "grey" for line in lines)
        # videoconvert's 8-bit matrix is a few levels off framepipe's (see test_video).
        levels = [line["messages"][0]["level"] for line in lines]
        want = [f.mean() for f in fp.imread(clips[name])]
        assert np.abs(np.array(levels) - np.array(want)).max() <= 4
        assert r["seconds"] > 0


def test_process_videos_function(ray_cluster, clips):
    def mean_levels(video):
        return [round(float(f.mean())) for f in video.iter()]

    results = fpray.process_videos([str(clips["vfr.mp4"])], mean_levels)
    (r,) = results
    assert r["frames"] == len(r["result"]) == fp.improps(clips["vfr.mp4"]).n_images
    assert r["result"] == [round(float(f.mean())) for f in fp.imread(clips["vfr.mp4"])]


def mixed(clips, bad_files) -> list[str]:
    return [
        str(clips["cfr_bframes.mp4"]),
        str(bad_files["corrupt"]),
        str(bad_files["missing"]),
        str(clips["clip.ts"]),
        str(bad_files["truncated"]),
    ]


def test_read_on_error_raise(ray_cluster, clips, bad_files):
    good = str(clips["vfr.mp4"])
    for bad, kind in [("corrupt", MediaError), ("truncated", MediaError), ("missing", FileNotFoundError)]:
        with pytest.raises(kind) as info:  # found while planning, on the driver
            fpray.read_videos([good, str(bad_files[bad])])
        assert type(info.value) is kind and str(bad_files[bad]) in str(info.value)
        with pytest.raises(kind) as info:  # found by the read task, through Ray
            fpray.read_videos([good, str(bad_files[bad])], frames_per_task=None).take_all()
        assert isinstance(info.value, ray.exceptions.RayTaskError)
        assert str(bad_files[bad]) in str(info.value)


def test_read_on_error_skip_and_record(ray_cluster, clips, bad_files):
    paths = mixed(clips, bad_files)
    good = {p: fp.improps(p).n_images for p in paths[0::3]}
    for frames_per_task in (None, 1024):
        rows = fpray.read_videos(paths, on_error="skip", frames_per_task=frames_per_task).take_all()
        counts = {p: len(rs) for p, rs in by_path(rows).items()}
        assert counts == good

        rows = fpray.read_videos(paths, on_error="record", step=5, frames_per_task=frames_per_task).take_all()
        errors = {Path(r["path"]).name: r["error_type"] for r in rows if r["error"] is not None}
        assert errors == {
            "corrupt.mp4": "MediaError",
            "missing.mp4": "FileNotFoundError",
            "truncated.mp4": "MediaError",
        }
        for r in rows:
            if r["error"] is not None:
                assert r["frame_index"] == -1 and r["frame"].size == 0 and r["path"] in r["error"]
        ok = by_path([r for r in rows if r["error"] is None])
        assert {p: len(rs) for p, rs in ok.items()} == {p: len(range(0, n, 5)) for p, n in good.items()}


def test_process_on_error_modes(ray_cluster, clips, bad_files):
    paths = mixed(clips, bad_files)

    def count(video):
        return sum(1 for _ in video.iter())

    with pytest.raises(FileNotFoundError) as info:
        fpray.process_videos([paths[0], paths[2]], count)
    assert paths[2] in str(info.value)
    with pytest.raises(MediaError) as info:
        fpray.process_videos([paths[0], paths[1]], count)
    assert paths[1] in str(info.value)

    skipped = fpray.process_videos(paths, count, on_error="skip")
    assert [r["path"] for r in skipped] == [paths[0], paths[3]]
    assert [r["result"] for r in skipped] == [fp.improps(p).n_images for p in (paths[0], paths[3])]

    recorded = fpray.process_videos(paths, count, on_error="record")
    assert [r["path"] for r in recorded] == paths
    assert [r["error_type"] for r in recorded] == [
        None,
        "MediaError",
        "FileNotFoundError",
        None,
        "MediaError",
    ]
    assert all(r["ok"] == (r["error"] is None) for r in recorded)

    desc = "filesrc location={path} ! decodebin ! fakesink"
    recorded = fpray.process_videos(paths, desc, on_error="record", stall_timeout=5)
    assert [r["ok"] for r in recorded] == [True, False, False, True, False]
    assert recorded[2]["error_type"] == "FileNotFoundError"
    assert all(paths[i] in recorded[i]["error"] for i in (1, 2, 4))


@pytest.mark.slow
def test_a_worker_that_dies_is_retried(ray_cluster, clips, tmp_path):
    marker = tmp_path / "died-once"

    def die_once(video):
        if not marker.exists():
            marker.write_text("x")
            os._exit(1)  # the worker process dies mid-task
        return len(video)

    (r,) = fpray.process_videos([str(clips["clip.ts"])], die_once, max_retries=2)
    assert marker.exists() and r["ok"] and r["result"] == fp.improps(clips["clip.ts"]).n_images


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Return the framepipe command, connected to this session's Ray (no second cluster to start)."""
    address = ray.get_runtime_context().gcs_address
    return subprocess.run(
        [sys.executable, "-m", "framepipe", *args, "--address", address],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.mark.slow
def test_cli_ray_read_and_ray_process(ray_cluster, clips, bad_files, tmp_path):
    paths = [str(clips["vfr.mkv"]), str(bad_files["corrupt"])]
    r = cli("ray-read", *paths, "--step", "2", "--on-error", "record", "--json")
    assert r.returncode == 0, r.stderr
    records = {Path(d["path"]).name: d for d in map(json.loads, r.stdout.splitlines())}
    n = fp.improps(clips["vfr.mkv"]).n_images
    assert records["vfr.mkv"] == {"path": paths[0], "frames": len(range(0, n, 2))}
    assert records["corrupt.mp4"]["error"].startswith("MediaError: ")
    assert re.search(rf"frames +{len(range(0, n, 2))} +fps", r.stderr)

    r = cli("ray-read", *paths)
    assert r.returncode == 1
    assert "ERROR: MediaError: " in r.stderr and paths[1] in r.stderr and "Traceback" not in r.stderr

    desc = "filesrc location={path} ! decodebin ! videoconvert ! fpmetawriter location={output} ! fakesink"
    r = cli("ray-process", *paths, "--pipeline", desc, "--output-dir", str(tmp_path), "--on-error", "record")
    assert r.returncode == 1  # a file failed
    results = [json.loads(line) for line in r.stdout.splitlines()]
    assert sorted((Path(d["path"]).name, d["ok"]) for d in results) == [
        ("corrupt.mp4", False),
        ("vfr.mkv", True),
    ]
    ok = next(d for d in results if d["ok"])
    assert ok["records"] == ok["frames"] == n
    assert "files     2/2  failed 1" in r.stderr


def test_import_framepipe_does_not_import_ray(py_run):
    r = py_run("import sys, framepipe; assert 'ray' not in sys.modules, 'ray imported'; print('ok')")
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


@given(
    n=st.integers(1, 300),
    gop=st.integers(1, 40),
    frames_per_task=st.integers(1, 200),
    data=st.data(),
)
def test_split_keeps_every_selected_frame_once_and_gops_whole(n, gop, frames_per_task, data):
    keyframes = list(range(0, n, gop))
    selected = sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1)))
    parts = fpray._split(selected, keyframes, n, frames_per_task)
    assert [k for part in parts for k in part] == selected
    assert all(len(part) for part in parts)
    # A GOP is never shared by two tasks (each would decode it), and a task stops soon after
    # its budget: before its last GOP it had decoded less than frames_per_task frames.
    gops = [[k // gop for k in part] for part in parts]
    assert all(a[-1] < b[0] for a, b in itertools.pairwise(gops))
    for part in parts:
        last_gop = part[-1] // gop
        before = [k for k in part if k // gop < last_gop]
        cost = sum(max(k for k in before if k // gop == g) - g * gop + 1 for g in {k // gop for k in before})
        assert cost < frames_per_task or not before


def test_compact_and_sampling_select():
    assert fpray._compact([3, 5, 7]) == range(3, 9, 2)
    assert fpray._compact([1, 2, 4]) == (1, 2, 4)
    assert fpray._compact([]) == ()
    s = fpray._Sampling.make([0, -1, 50, 2, 2], None, None)
    assert s.select(10, list, 1.0) == [0, 2, 9]
    s = fpray._Sampling.make(None, None, [0.0, 0.05, 0.1, 0.35, 0.4])
    times = [0.0, 0.1, 0.2, 0.3]
    assert s.select(4, lambda: times, 0.4) == [0, 1, 3]  # 0.4 is the end: no frame shows then
    with pytest.raises(ValueError):
        fpray._Sampling.make(None, 0, None)
    with pytest.raises(ValueError):
        fpray._Sampling.make(None, None, [-1.0])


class BatchReadsVideoFile(fp.VideoFile):
    """A VideoFile with the batch-read names framepipe's reader is getting (iter with start/stop/step, read_batch), built on today's calls, recording which were used."""

    used: list[str]

    def iter(self, *, start=0, stop=None, step=1, format="rgb24", filter=None, **kw):
        self.used.append("iter")
        stop = len(self) if stop is None else stop
        return (self.read(index=k, format=format, filter=filter) for k in range(start, stop, step))

    def read_batch(self, indices, *, format="rgb24", filter=None):
        self.used.append("read_batch")
        return np.stack([self.read(index=k, format=format, filter=filter) for k in indices])


def test_decode_uses_batch_reads_when_the_video_file_has_them(clips):
    path = clips["vfr.mp4"]
    want = fp.imread(path)
    options = fpray._ReadOptions("rgb24", None, 1, True, "raise", fpray._Sampling())
    for frames, call in [
        (range(2, 20, 3), "iter"),
        ((1, 4, 5, 17), "read_batch"),
        (range(len(want)), "iter"),
    ]:
        with BatchReadsVideoFile(path) as video:
            video.used = []
            got = list(fpray._decode(video, frames, options))
            assert video.used[0] == call
        assert [k for k, _ in got] == list(frames)
        for k, frame in got:
            np.testing.assert_array_equal(frame, want[k])
    with fp.open(path) as video:  # today's VideoFile: read(index=k), or the sequential decode
        assert [k for k, _ in fpray._decode(video, (1, 4, 5, 17), options)] == [1, 4, 5, 17]
        assert len(list(fpray._decode(video, range(len(want)), options))) == len(want)


def test_block_arrays_are_filled_again_only_when_nothing_references_them(clips):
    """Read blocks of 3 frames, every one kept while the next are read.

    None may be overwritten by a later block (the arrays are reused only once released), and released
    ones are.
    """
    path = clips["cfr_bframes.mp4"]
    want = fp.imread(path)
    frame_bytes = want[0].nbytes
    options = fpray._ReadOptions(
        "rgb24", None, 1, True, "raise", fpray._Sampling(), block_bytes=3 * frame_bytes - 1
    )
    kept = list(fpray._read_segment(fpray._Segment(str(path), None), options))
    assert [b.num_rows for b in kept[:-1]] == [3] * (len(kept) - 1)
    batches = [ray.data.block.BlockAccessor.for_block(b).to_batch_format("numpy") for b in kept]
    frames = np.concatenate([b["frame"] for b in batches])
    assert [int(k) for b in batches for k in b["frame_index"]] == list(range(len(want)))
    np.testing.assert_array_equal(frames, want)
    del kept, batches
    arrays = fpray._BlockArrays()
    first = arrays.take(want[0], 3 * frame_bytes - 1, 100)
    assert first.shape == (3, *want[0].shape)
    second = arrays.take(want[0], 3 * frame_bytes - 1, 100)
    assert not np.shares_memory(first, second)  # `first` is still referenced
    address = first.ctypes.data
    del first
    assert arrays.take(want[0], 3 * frame_bytes - 1, 100).ctypes.data == address
    assert arrays.take(want[0], 3 * frame_bytes - 1, 2).shape[0] == 2  # the task's last frames
    assert arrays.allocated == 2


def test_decoder_threads_follow_the_tasks_cpu_reservation(ray_cluster):
    """A task reserving c of the node's Ray CPUs decodes on the cores they stand for."""
    cores = len(os.sched_getaffinity(0))
    offered = ray.cluster_resources()["CPU"]
    assert offered == 2
    threads = ray.remote(fpray._auto_threads)
    assert ray.get(threads.options(num_cpus=1).remote()) == max(1, round(cores / offered))
    assert ray.get(threads.options(num_cpus=2).remote()) == max(1, round(2 * cores / offered))
    options = fpray._ReadOptions("rgb24", None, None, True, "raise", fpray._Sampling())
    assert options.open_kwargs()["thread_count"] >= 1
    assert fpray._ReadOptions("rgb24", None, 3, True, "raise", fpray._Sampling()).threads() == 3


def test_a_map_after_the_read_runs_in_the_read_task(ray_cluster, clips):
    """With default options Ray Data fuses the read and a following map_batches into one task, so frames never cross the object store between them; read options of its own (here max_retries) keep them apart."""
    path = str(clips["cfr_bframes.mp4"])

    def count(batch):
        return {"n": np.array([len(batch["frame"])])}

    fused = fpray.read_videos(path).map_batches(count, batch_size=None)
    assert sum(int(r["n"]) for r in fused.take_all()) == fp.improps(path).n_images
    assert "ReadFramepipeVideo->MapBatches(count)" in fused.stats()
    apart = fpray.read_videos(path, max_retries=2).map_batches(count, batch_size=None)
    assert sum(int(r["n"]) for r in apart.take_all()) == fp.improps(path).n_images
    assert "ReadFramepipeVideo->MapBatches" not in apart.stats()


def test_core_claims_count_the_read_tasks_running_on_the_machine(monkeypatch, tmp_path):
    """Each running read task holds one core's lock file; a new task decodes on the cores the others leave (at least its reservation's share), and a process that dies gives its core back."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    cores = fpray._cores()
    first = fpray._CoreClaim()
    assert first.others == 0
    assert first.threads() == max(fpray._auto_threads(), min(16, cores + 1) if cores > 1 else 1)
    second = fpray._CoreClaim()
    assert second.others == 1
    assert second.threads() == max(fpray._auto_threads(), cores // 2)
    first.release()
    third = fpray._CoreClaim()
    assert third.others == (1 if cores > 1 else 0)  # `second` still runs (it holds a core when there are two)
    second.release()
    third.release()
    fourth = fpray._CoreClaim()
    assert fourth.others == 0
    fourth.release()

    # A claim held by another process counts until that process dies.
    code = "from framepipe import ray as r; c = r._CoreClaim(); print(c.others, flush=True); input()"
    with subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "0"
            while_held = fpray._CoreClaim()
            assert while_held.others == 1
            while_held.release()
        finally:
            holder.kill()
            holder.wait(timeout=30)
    after = fpray._CoreClaim()
    assert after.others == 0
    after.release()


def read_blocks(path, options: fpray._ReadOptions) -> tuple[list[int], np.ndarray, list[int]]:
    """(frame_index, frames, pts) of every row of a read task over the whole file, in order."""
    batches = [
        ray.data.block.BlockAccessor.for_block(b).to_batch_format("numpy")
        for b in fpray._read_segment(fpray._Segment(str(path), None), options)
    ]
    ks = [int(k) for b in batches for k in b["frame_index"]]
    return ks, np.concatenate([b["frame"] for b in batches]), [int(p) for b in batches for p in b["pts"]]


@pytest.fixture
def gop_decoders(monkeypatch):
    """Three GOP decoders per task, runs of 4 frames at least, blocks of 5 frames: runs span blocks."""
    monkeypatch.setattr(fpray._CoreClaim, "cores", lambda self: 3)
    monkeypatch.setattr(fpray, "_RUN_FRAMES", 4)
    return lambda frame_bytes: fpray._ReadOptions(
        "rgb24", None, None, True, "raise", fpray._Sampling(), block_bytes=5 * frame_bytes - 1
    )


def test_a_task_with_cores_to_itself_decodes_gops_in_parallel_into_the_same_rows(
    clips, long_clip, gop_decoders, monkeypatch
):
    """A read task alone decodes runs of GOPs on several decoders; its blocks equal the file read in order (frames, indices, pts)."""
    calls = []
    parallel = fpray._parallel_blocks
    monkeypatch.setattr(fpray, "_parallel_blocks", lambda *a: calls.append(a[-1]) or parallel(*a))
    for path in [long_clip, *clips.values()]:
        want = fp.imread(path)
        ks, frames, pts = read_blocks(path, gop_decoders(want[0].nbytes))
        assert ks == list(range(len(want))), path.name
        np.testing.assert_array_equal(frames, want)
        assert pts == [fp.immeta(path, index=k)["pts"] for k in ks]
    assert calls == [3] * (1 + len(clips))
    # One decoder thread a task (thread_count given): in order, on one decoder.
    sequential = fpray._ReadOptions("rgb24", None, 1, True, "raise", fpray._Sampling())
    assert read_blocks(long_clip, sequential)[0] == list(range(LONG_N))
    assert len(calls) == 1 + len(clips)


def test_parallel_gop_decoding_of_a_truncated_file(long_clip, gop_decoders, monkeypatch, tmp_path):
    """A run that ends early fails the task with MediaError (on_error="raise"), or keeps the whole blocks before it and records the error."""
    calls = []
    parallel = fpray._parallel_blocks
    monkeypatch.setattr(fpray, "_parallel_blocks", lambda *a: calls.append(a[-1]) or parallel(*a))
    whole = encode(
        tmp_path / "whole.mp4",
        f"{X264_B} ! mp4mux faststart=true",
        [k * fp.SECOND // 30 for k in range(LONG_N)],
    )
    path = tmp_path / "truncated.mp4"  # its index (moov first) lists frames whose data is cut off
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])
    options = gop_decoders(fp.imread(long_clip)[0].nbytes)
    with pytest.raises(MediaError):
        read_blocks(path, options)
    assert calls == [3]
    options.on_error = "record"
    batches = [
        ray.data.block.BlockAccessor.for_block(b).to_batch_format("numpy")
        for b in fpray._read_segment(fpray._Segment(str(path), None), options)
    ]
    assert batches[-1]["error_type"][0] == "MediaError" and batches[-1]["frame_index"][0] == -1
    kept = [
        int(k) for b in batches[:-1] for k in b["frame_index"]
    ]  # whole blocks of 5 before the failing run
    assert kept == list(range(len(kept))) and 0 < len(kept) < fp.improps(path).n_images and len(kept) % 5 == 0


def test_parallel_gop_decoding_hands_a_resolution_change_to_sequential_decoding(
    long_clip, gop_decoders, monkeypatch
):
    """Frames of another shape in a GOP decoder's file: the blocks before it stay, the rest is decoded in order."""

    class Cropping:
        def __init__(self, reader):
            self._reader, self._k = reader, 0

        def read(self, k):
            self._k = k
            return self._reader.read(k)

        def next(self):
            self._k += 1
            frame = self._reader.next()
            return frame[:-2] if frame is not None and self._k >= 50 else frame

        def __getattr__(self, name):
            return getattr(self._reader, name)

    class DecoderFile(fp.VideoFile):
        def _reader(self, *args, **kwargs):
            reader = super()._reader(*args, **kwargs)
            return Cropping(reader) if self._index_text is not None else reader  # the decoders' own files

    monkeypatch.setattr(fpray, "VideoFile", DecoderFile)
    want = fp.imread(long_clip)
    ks, frames, _ = read_blocks(long_clip, gop_decoders(want[0].nbytes))
    assert ks == list(range(LONG_N))
    np.testing.assert_array_equal(frames, want)


def test_parallel_gop_decoding_of_a_real_resolution_change(gop_decoders, monkeypatch, tmp_path):
    """An MPEG-TS whose stream goes from 320x240 to 160x120 at an IDR (two encodes, back to back): the GOP decoders hand the rest to in-order decoding at the change, and every frame comes out once, in order, equal to framepipe's own iteration."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg CLI")
    parts = []
    for i, (size, offset) in enumerate([("320x240", "0"), ("160x120", "3.1")]):
        part = tmp_path / f"part{i}.ts"
        source = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30", "-frames:v", "90"]
        x264 = ["-c:v", "libx264", "-g", "30", "-bf", "2", "-pix_fmt", "yuv420p"]
        out = ["-output_ts_offset", offset, "-f", "mpegts", str(part)]
        subprocess.run(["ffmpeg", "-v", "error", "-y", *source, *x264, *out], check=True, timeout=120)
        parts.append(part.read_bytes())
    path = tmp_path / "resolution_change.ts"
    path.write_bytes(b"".join(parts))
    want = list(fp.imiter(path))
    assert len(want) == 180 and {f.shape for f in want} == {(240, 320, 3), (120, 160, 3)}
    calls = []
    parallel, in_order = fpray._parallel_blocks, fpray._blocks
    monkeypatch.setattr(fpray, "_parallel_blocks", lambda *a: calls.append(a[-1]) or parallel(*a))
    monkeypatch.setattr(fpray, "_blocks", lambda *a: calls.append(a[2]) or in_order(*a))
    batches = [
        ray.data.block.BlockAccessor.for_block(b).to_batch_format("numpy")
        for b in fpray._read_segment(fpray._Segment(str(path), None), gop_decoders(want[0].nbytes))
    ]
    # The GOP decoders started, then handed over from the block (of 5 frames) holding frame 90.
    assert calls == [3, range(90, 180)]
    ks = [int(k) for b in batches for k in b["frame_index"]]
    got = [f for b in batches for f in b["frame"]]
    assert ks == list(range(180))
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        np.testing.assert_array_equal(a, b, err_msg=f"frame {k}")
