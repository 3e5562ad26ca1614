"""Many files through Ray Data: every frame of 16 clips as rgb24 through
``framepipe.ray.read_videos`` vs Ray's own ``ray.data.read_videos`` (decord), on the same local
Ray cluster with 1 and then 2 CPUs. Frame counts are checked against ``ffprobe -count_frames``.

Run by ``make bench`` (decord comes from requirements-bench.txt). The bench makes its own
clips (H.264 with B-frames, 4:2:0; MP4, Matroska and MPEG-TS). Prints medians and ratios.

    python bench/ray_videos.py [--repeat N] [--frames N] [--cpus 1,2]
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


def consume(ds: ray.data.Dataset) -> dict[str, int]:
    """Pull every frame to the driver (as any consumer would) and count them per file."""
    counts: collections.Counter[str] = collections.Counter()
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        assert batch["frame"].ndim == 4 and batch["frame"].shape[-1] == 3
        counts.update(str(p) for p in batch["path"])
    return dict(counts)


def run_framepipe(clips: list[Path]) -> dict[str, int]:
    return consume(fpray.read_videos([str(c) for c in clips], format="rgb24"))


def run_decord(clips: list[Path]) -> dict[str, int]:
    return consume(ray.data.read_videos([str(c) for c in clips], include_paths=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--frames", type=int, default=240, help="frames per clip")
    parser.add_argument("--cpus", default="1,2")
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
    rates: dict[tuple[str, int], list[float]] = {}
    counts: dict[str, dict[str, int]] = {}
    for cpus in [int(c) for c in args.cpus.split(",")]:
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
                counts[name] = fn(clips[:2])
            for _ in range(args.repeat):
                for name, fn in contenders.items():  # taking turns, so noise hits both
                    t = time.perf_counter()
                    counts[name] = fn(clips)
                    dt = time.perf_counter() - t
                    rates.setdefault((name, cpus), []).append(sum(counts[name].values()) / dt)
        finally:
            ray.shutdown()
    rows = []
    fp_name, anchor_name = contenders
    for cpus in sorted({c for _, c in rates}):
        a = statistics.median(rates[(anchor_name, cpus)])
        f = statistics.median(rates[(fp_name, cpus)])
        rows.append(
            (
                f"{N_CLIPS} clips {WIDTH}x{HEIGHT} rgb24, {cpus} CPU",
                f"{a:.0f} frames/s",
                f"{f:.0f} frames/s",
                f"{f / a:.2f}x",
            )
        )
    cpu_list = sorted({c for _, c in rates})
    if len(cpu_list) > 1:
        lo, hi = cpu_list[0], cpu_list[-1]
        scale = {n: statistics.median(rates[(n, hi)]) / statistics.median(rates[(n, lo)]) for n in contenders}
        rows.append(
            (f"scaling {lo} -> {hi} CPUs", f"{scale[anchor_name]:.2f}x", f"{scale[fp_name]:.2f}x", "")
        )
    table(f"Ray Data: {total} frames in {N_CLIPS} files, frames/s (median of {args.repeat})", rows)
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
