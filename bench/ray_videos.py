"""Many files through Ray Data: every frame of 16 clips as rgb24 through ``framepipe.ray.read_videos`` vs Ray's own ``ray.data.read_videos`` (decord), on the same local Ray cluster with 1 and then 2 CPUs.

Frame counts are checked against ``ffprobe -count_frames``.

Run by ``make bench`` (decord comes from requirements-bench.txt). The bench makes its own
clips (H.264 with B-frames, 4:2:0; MP4, Matroska and MPEG-TS). Prints medians and ratios.

    python bench/ray_videos.py [--repeat N] [--frames N] [--cpus 1,2] [--consume driver,worker]
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

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


def run_framepipe(clips: list[Path], where: str) -> dict[str, int]:
    return consume(fpray.read_videos([str(c) for c in clips], format="rgb24"), where)


def run_decord(clips: list[Path], where: str) -> dict[str, int]:
    return consume(ray.data.read_videos([str(c) for c in clips], include_paths=True), where)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--frames", type=int, default=240, help="frames per clip")
    parser.add_argument("--cpus", default="1,2")
    parser.add_argument(
        "--consume", default="driver,worker", help="where the frames are counted: driver, worker"
    )
    args = parser.parse_args()
    try:
        import decord  # noqa: F401
    except ImportError:
        print("decord is not installed (requirements-bench.txt): no anchor, nothing to compare")
        return 1
    clips = make_clips(args.frames)
    truth = {str(c): ffprobe_count(c) for c in clips} if have("ffprobe") else None
    total = sum(truth.values()) if truth else N_CLIPS * args.frames
    contenders = {"framepipe.ray.read_videos": run_framepipe, "ray.data.read_videos (decord)": run_decord}
    modes = args.consume.split(",")
    rates: dict[tuple[str, str, int], list[float]] = {}
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
                        t = time.perf_counter()
                        counts[name] = fn(clips, mode)
                        dt = time.perf_counter() - t
                        rates.setdefault((mode, name, cpus), []).append(sum(counts[name].values()) / dt)
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
    return 0


if __name__ == "__main__":
    warnings.simplefilter("ignore", DeprecationWarning)
    sys.exit(main())
