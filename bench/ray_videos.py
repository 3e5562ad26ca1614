"""Many files through Ray Data: every frame of 16 clips as rgb24 through ``framepipe.ray.read_videos`` vs Ray's own ``ray.data.read_videos`` (decord), on the same local Ray cluster with 1 and then 2 CPUs.

Frame counts are checked against ``ffprobe -count_frames``.

Run by ``make bench`` (decord comes from requirements-bench.txt). The bench makes its own
clips (H.264 with B-frames, 4:2:0; MP4, Matroska and MPEG-TS). Prints medians and ratios.

The comparison: both readers with their defaults (decord decodes with libavcodec's automatic
thread count; framepipe with the cores a task's CPU reservation stands for), every frame of
every clip, consumed two ways: pulled to the driver (``iter_batches``: every frame crosses the
object store) and counted in the workers (``map_batches`` fused with the read, as a
preprocessing step would be). frames/s is wall time, which on a shared machine depends on
what else runs (the load average is printed); "CPU ms per frame" adds up the CPU time of the
driver and every process of the local Ray (raylet, object store, workers, all threads), the
cost of a frame wherever it was spent, which load disturbs much less.

    python bench/ray_videos.py [--repeat N] [--frames N] [--cpus 1,2] [--consume driver,worker]
    python bench/ray_videos.py --profile [--repeat N]   # one read task of each, no Ray: CPU ms/frame by stage
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import framepipe as fp
import numpy as np
import ray
import ray.data
from _common import have, table
from framepipe import ray as fpray

DATA = Path(__file__).parent / "data" / "ray_videos"
N_CLIPS = 16
WIDTH, HEIGHT = 640, 360
PATTERNS = ["smpte horizontal-speed=3", "ball motion=sweep", "pinwheel", "smpte75 horizontal-speed=5"]
MUXERS = ["mp4mux", "mp4mux", "mp4mux", "mp4mux", "h264parse ! matroskamux", "h264parse ! mpegtsmux"]
EXTENSIONS = {"mp4mux": ".mp4", "h264parse ! matroskamux": ".mkv", "h264parse ! mpegtsmux": ".ts"}


def make_clips(n_frames: int) -> list[Path]:
    DATA.mkdir(parents=True, exist_ok=True)
    clips = []
    for i in range(N_CLIPS):
        mux = MUXERS[i % len(MUXERS)]
        path = DATA / f"clip{i:02d}_{n_frames}{EXTENSIONS[mux]}"
        clips.append(path)
        if path.exists():
            continue
        desc = (
            f"videotestsrc num-buffers={n_frames} pattern={PATTERNS[i % len(PATTERNS)]} ! "
            f"video/x-raw,width={WIDTH},height={HEIGHT},framerate=30/1 ! videoconvert ! video/x-raw,format=I420 ! "
            f"x264enc bframes=2 key-int-max=60 speed-preset=veryfast ! {mux} ! filesink location={path}.part"
        )
        fp.Pipeline(desc).run(timeout=600)
        Path(f"{path}.part").rename(path)
    return clips


def ffprobe_count(path: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=nb_read_frames", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=300,
    ).stdout  # fmt: skip
    return int(json.loads(out)["streams"][0]["nb_read_frames"])


def count_batch(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run in the workers, fused with the read: touches the frames, returns counts only."""
    assert batch["frame"].ndim == 4 and batch["frame"].shape[-1] == 3
    paths, counts = np.unique(batch["path"].astype(str), return_counts=True)
    return {"path": paths, "n": counts}


def consume(ds: ray.data.Dataset, where: str) -> dict[str, int]:
    """Count every frame per file: in the workers (``map_batches`` fused with the read, as a preprocessing step would be), or on the driver (every frame crosses the object store to this process, which on a 2-core machine competes with the readers for the cores)."""
    counts: collections.Counter[str] = collections.Counter()
    if where == "worker":
        for row in ds.map_batches(count_batch, batch_size=None, batch_format="numpy").iter_rows():
            counts[str(row["path"])] += int(row["n"])
        return dict(counts)
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        assert batch["frame"].ndim == 4 and batch["frame"].shape[-1] == 3
        counts.update(str(p) for p in batch["path"])
    return dict(counts)


def cluster_cpu_seconds() -> float:
    """Return the CPU seconds used so far by this process and every process under it, all threads.

    The processes under it are the local Ray: raylet, object store, workers. Less sensitive than wall time
    to other work on the machine: the CPU time a frame costs, wherever Ray spent it.
    """
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, CPU seconds)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry)] = (
            int(fields[1]),
            (int(fields[11]) + int(fields[12])) / tick,
        )  # ppid, utime + stime
    mine = {os.getpid()}
    grew = True
    while grew:
        new = {pid for pid, (ppid, _) in stats.items() if ppid in mine and pid not in mine}
        mine |= new
        grew = bool(new)
    return sum(stats[pid][1] for pid in mine if pid in stats)


def run_framepipe(clips: list[Path], where: str) -> dict[str, int]:
    return consume(fpray.read_videos([str(c) for c in clips], format="rgb24"), where)


def run_decord(clips: list[Path], where: str) -> dict[str, int]:
    return consume(ray.data.read_videos([str(c) for c in clips], include_paths=True), where)


# -- profile: one read task of each reader, in this process, without a Ray cluster ------------


def _fp_task(clips: list[Path], thread_count: int) -> int:
    """Run framepipe's read task (``_read_segment``: open and index, decode, fill blocks) per file."""
    options = fpray._ReadOptions(
        format="rgb24",
        filter=None,
        thread_count=thread_count,
        include_paths=True,
        on_error="raise",
        sampling=fpray._Sampling(),
    )
    n = 0
    for c in clips:
        for block in fpray._read_segment(fpray._Segment(str(c), None), options):
            n += block.num_rows
    return n


def _decord_task(clips: list[Path], num_threads: int | None) -> int:
    """Run Ray's own read task for each file (``ray.data.read_videos``' datasource, decord).

    With the output buffer Ray Data puts behind every read task (it merges the one-frame blocks).
    """
    from ray.data._internal.datasource.video_datasource import VideoDatasource
    from ray.data._internal.output_buffer import BlockOutputBuffer, OutputBlockSizeOption

    args = None if num_threads is None else {"num_threads": num_threads}
    ds = VideoDatasource([str(c) for c in clips], include_paths=True, decord_load_args=args)
    size = ray.data.DataContext.get_current().target_max_block_size
    n = 0
    for task in ds.get_read_tasks(len(clips)):
        buffer = BlockOutputBuffer(OutputBlockSizeOption.of(target_max_block_size=size))
        for block in task():
            buffer.add_block(block)
            while buffer.has_next():
                n += len(buffer.next())
        buffer.finalize()
        while buffer.has_next():
            n += len(buffer.next())
    return n


def _decord_decode(clips: list[Path], num_threads: int) -> int:
    """Run decord alone: iterate and copy each frame to numpy (what the datasource does per frame)."""
    import decord

    n = 0
    for c in clips:
        for frame in decord.VideoReader(str(c), num_threads=num_threads):
            frame.asnumpy()
            n += 1
    return n


def _fp_decode(clips: list[Path], thread_count: int) -> int:
    """Run framepipe alone: open and index, then decode and convert every frame (no copy)."""
    n = 0
    for c in clips:
        reader = fp.VideoFile(str(c), thread_count=thread_count)._reader()
        while reader.next() is not None:
            n += 1
    return n


def _fp_batch(clips: list[Path], thread_count: int) -> int:
    """Run framepipe alone: open and index, then ``read_batch`` over runs of 186 frames (about 128 MB).

    ``read_batch`` converts straight into the batch (its own decoders per GOP, one per core).
    """
    n = 0
    for c in clips:
        reader = fp.VideoFile(str(c), thread_count=thread_count)._reader()
        for i in range(0, len(reader), 186):
            n += len(reader.read_batch(list(range(i, min(len(reader), i + 186)))))
    return n


def _fp_open(clips: list[Path], _: int) -> int:
    """Run framepipe's open and index alone (what every read task did before decoding)."""
    n = 0
    for c in clips:
        n += len(fp.VideoFile(str(c), thread_count=1))
    return n


STAGES: dict[str, tuple[Any, int | None, str]] = {
    "fp-open": (_fp_open, 1, "framepipe: open + index only"),
    "fp-decode-1": (_fp_decode, 1, "framepipe: open + decode + convert, 1 thread"),
    "fp-decode-auto": (_fp_decode, 0, "framepipe: open + decode + convert, auto threads"),
    "fp-batch-1": (_fp_batch, 1, "framepipe: open + read_batch (GOPs on parallel decoders of 1 thread)"),
    "fp-task-1": (_fp_task, 1, "framepipe read task (1 decoder thread)"),
    "fp-task-auto": (_fp_task, 0, "framepipe read task (auto threads)"),
    "fp-task-alone": (_fp_task, None, "framepipe read task alone (GOPs on a decoder per core)"),
    "decord-decode-1": (_decord_decode, 1, "decord: decode + asnumpy, 1 thread"),
    "decord-decode-auto": (_decord_decode, 0, "decord: decode + asnumpy, auto threads (its default)"),
    "decord-task-auto": (_decord_task, None, "Ray's read task + output buffer (decord default threads)"),
    "decord-task-1": (_decord_task, 1, "Ray's read task + output buffer (decord 1 thread)"),
}


def profile_stage(name: str, clips: list[Path]) -> None:
    """Run one stage over the clips in this (fresh) process; print CPU and wall seconds."""
    fn, arg, _ = STAGES[name]
    w0, c0 = time.perf_counter(), time.process_time()
    n = fn(clips, arg)
    print(json.dumps({"frames": n, "cpu": time.process_time() - c0, "wall": time.perf_counter() - w0}))


def profile(clips: list[Path], repeat: int, frames_per_clip: int) -> None:
    """Profile each stage in fresh processes (cold index cache, clean heap), ``repeat`` times taking turns.

    CPU time is the process's (all its threads), so it is less sensitive than wall time to what else runs
    on the machine.
    """
    out: dict[str, list[dict[str, float]]] = {name: [] for name in STAGES}
    for _ in range(repeat):
        for name in STAGES:
            cmd = [sys.executable, __file__, "--profile-stage", name, "--frames", str(frames_per_clip)]
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=True)
            out[name].append(json.loads(res.stdout.strip().splitlines()[-1]))
    rows = []
    for name, runs in out.items():
        frames = runs[0]["frames"]
        cpu = statistics.median(r["cpu"] for r in runs) / frames * 1e3
        wall = statistics.median(r["wall"] for r in runs) / frames * 1e3
        rows.append((STAGES[name][2], f"{cpu:.3f}", f"{wall:.3f}", f"{1e3 / wall:.0f}"))
    title = (
        f"One read task per file, {len(clips)} files, no Ray cluster (medians of {repeat} fresh processes; "
        f"load average {os.getloadavg()[0]:.1f} at the end)"
    )
    header = ("stage", "CPU ms/frame", "wall ms/frame", "frames/s")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print(f"\n### {title}\n")
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--frames", type=int, default=240, help="frames per clip")
    parser.add_argument("--cpus", default="1,2")
    parser.add_argument(
        "--consume", default="driver,worker", help="where the frames are counted: driver, worker"
    )
    parser.add_argument("--profile", action="store_true", help="one read task of each, no Ray: CPU ms/frame")
    parser.add_argument("--profile-stage", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        import decord  # noqa: F401
    except ImportError:
        print("decord is not installed (requirements-bench.txt): no anchor, nothing to compare")
        return 1
    clips = make_clips(args.frames)
    if args.profile_stage:
        profile_stage(args.profile_stage, clips)
        return 0
    if args.profile:
        profile(clips, args.repeat, args.frames)
        return 0
    truth = {str(c): ffprobe_count(c) for c in clips} if have("ffprobe") else None
    total = sum(truth.values()) if truth else N_CLIPS * args.frames
    contenders = {"framepipe.ray.read_videos": run_framepipe, "ray.data.read_videos (decord)": run_decord}
    modes = args.consume.split(",")
    rates: dict[tuple[str, str, int], list[float]] = {}
    cpu_ms: dict[tuple[str, str, int], list[float]] = {}
    counts: dict[str, dict[str, int]] = {}
    cpu_list = [int(c) for c in args.cpus.split(",")]
    for cpus in cpu_list:
        ray.init(
            address="local",
            num_cpus=cpus,
            include_dashboard=False,
            logging_level="ERROR",
            log_to_driver=False,
        )
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ctx.print_on_execution_start = False
        try:
            for name, fn in contenders.items():  # warm-up: worker start, imports
                counts[name] = fn(clips[:2], modes[0])
            for _ in range(args.repeat):
                for mode in modes:
                    for name, fn in contenders.items():  # taking turns, so noise hits both
                        t, c = time.perf_counter(), cluster_cpu_seconds()
                        counts[name] = fn(clips, mode)
                        dt, dc = time.perf_counter() - t, cluster_cpu_seconds() - c
                        frames = sum(counts[name].values())
                        rates.setdefault((mode, name, cpus), []).append(frames / dt)
                        cpu_ms.setdefault((mode, name, cpus), []).append(dc / frames * 1e3)
        finally:
            ray.shutdown()
    fp_name, anchor_name = contenders
    for mode in modes:
        rows = []
        med = {key: statistics.median(r) for key, r in rates.items() if key[0] == mode}
        for cpus in cpu_list:
            a, f = med[(mode, anchor_name, cpus)], med[(mode, fp_name, cpus)]
            what = f"{N_CLIPS} clips {WIDTH}x{HEIGHT} rgb24, {cpus} CPU"
            rows.append((what, f"{a:.0f} frames/s", f"{f:.0f} frames/s", f"{f / a:.2f}x"))
            ca, cf = (statistics.median(cpu_ms[(mode, n, cpus)]) for n in (anchor_name, fp_name))
            rows.append(
                (f"CPU ms per frame (all processes), {cpus} CPU", f"{ca:.2f}", f"{cf:.2f}", f"{ca / cf:.2f}x")
            )
        if len(cpu_list) > 1:
            lo, hi = cpu_list[0], cpu_list[-1]
            scale = {n: med[(mode, n, hi)] / med[(mode, n, lo)] for n in contenders}
            rows.append(
                (f"scaling {lo} -> {hi} CPUs", f"{scale[anchor_name]:.2f}x", f"{scale[fp_name]:.2f}x", "")
            )
        where = "counted in the workers" if mode == "worker" else "pulled to the driver"
        table(
            f"Ray Data: {total} frames in {N_CLIPS} files, {where}, frames/s (median of {args.repeat})", rows
        )
    if truth:
        for name in contenders:
            wrong = {
                Path(p).name: (counts[name].get(p, 0), n)
                for p, n in truth.items()
                if counts[name].get(p, 0) != n
            }
            verdict = "exact" if not wrong else f"{len(wrong)} files off (got, ffprobe): {wrong}"
            print(f"- frame counts vs ffprobe -count_frames, {name}: {verdict}")
    print(
        f"- load average at the end: {os.getloadavg()[0]:.1f} (wall figures are noisy when it is above the core count)"
    )
    return 0


if __name__ == "__main__":
    warnings.simplefilter("ignore", DeprecationWarning)
    sys.exit(main())
