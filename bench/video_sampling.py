"""Sampling frames from video files (issue 10): framepipe against torchcodec 0.17 (``VideoDecoder(seek_mode="exact")``), PyAV and imageio's pyav plugin, on torchcodec's own benchmark workloads, plus FFmpeg's decode-only ceiling and, on a 10-minute file, open + first random read.

Run by ``make bench`` (``.venv/bin/python bench/video_sampling.py [--quick]``). framepipe runs
under the project's ``.venv``; the anchors run under ``.venv-bench`` (requirements-anchors.txt,
installed by ``make bench``), torch and torchcodec never enter the project's environment.
Every timing is one fresh process (imports excluded, one warm-up run of the same workload
first, then one timed run); the contenders take turns, and each cell is the median.

The bench makes its clips with the ffmpeg CLI into out/bench/video_sampling/ (kept between
runs): (a) 1080p H.264 yuv420p, 300 frames, GOP 60, 3 B-frames; (b) 320x180 H.264, 325
frames of a zooming Mandelbrot set with film-grain noise, x264's default GOP (keyint 250,
scene cuts) and B-frames, like a typical encode; (c) the same kind of content for 10 minutes
(18,000 frames at 30 fps, 660 kbit/s, about 50 MB).

framepipe is driven through ``VideoFile.read_batch``, ``iter(stop=...)`` when it has them,
else through ``read(index=k)`` per frame and a plain ``iter()``; the table names the call used.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "out" / "bench" / "video_sampling"
ANCHOR_PY = ROOT / ".venv-bench" / "bin" / "python"
SEED = 0


class Clip:
    def __init__(self, name: str, n: int, width: int, height: int, args: list[str]) -> None:
        self.name, self.n, self.width, self.height, self.args = name, n, width, height, args

    @property
    def path(self) -> Path:
        return CACHE / self.name


CLIPS = {
    "1080p": Clip(
        "1080p_h264_gop60_bf3_300.mp4",
        300,
        1920,
        1080,
        (
            "-f lavfi -i testsrc2=size=1920x1080:rate=30 -frames:v 300 -vf noise=alls=6:allf=t,format=yuv420p "
            "-c:v libx264 -preset fast -crf 23 -bf 3 -g 60 -keyint_min 60 -sc_threshold 0"
        ).split(),
    ),
    "small": Clip(
        "320x180_h264_325.mp4",
        325,
        320,
        180,
        (
            "-f lavfi -i mandelbrot=size=320x180:rate=30:end_scale=0.02 -frames:v 325 "
            "-vf noise=alls=10:allf=t,format=yuv420p -c:v libx264 -preset medium -crf 23"
        ).split(),
    ),
    "long": Clip(
        "320x180_h264_10min.mp4",
        18000,
        320,
        180,
        (
            "-f lavfi -i testsrc2=size=320x180:rate=30 -frames:v 18000 -vf noise=alls=12:allf=t,format=yuv420p "
            "-c:v libx264 -preset veryfast -b:v 660k"
        ).split(),
    ),
}

WORKLOADS = ("all", "random10", "even10", "first100")
WORKLOAD_NAMES = {
    "all": "every frame in order",
    "random10": "10 random frames",
    "even10": "10 evenly spaced frames",
    "first100": "first 100 frames",
}
# Issue 10's targets: framepipe / torchcodec.
TARGETS = {
    ("1080p", "all"): 1.0,
    ("1080p", "first100"): 1.0,
    ("1080p", "random10"): 0.8,
    ("1080p", "even10"): 0.8,
    ("small", "all"): 0.8,
    ("small", "random10"): 0.8,
    ("small", "even10"): 0.8,
    ("small", "first100"): 0.8,
}
CONTENDERS = ("torchcodec", "framepipe", "pyav", "imageio")


def indices_for(workload: str, n: int) -> list[int]:
    if workload == "all":
        return list(range(n))
    if workload == "first100":
        return list(range(min(100, n)))
    if workload == "random10":
        return random.Random(SEED).sample(range(n), 10)  # in the order drawn, not sorted
    if workload == "even10":
        return [round(i * (n - 1) / 9) for i in range(10)]
    raise ValueError(workload)


# -- making the clips --------------------------------------------------------------------


def make_clips(names: list[str]) -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    for name in names:
        clip = CLIPS[name]
        if clip.path.exists():
            continue
        tmp = clip.path.with_suffix(".part.mp4")
        print(f"making {clip.path.relative_to(ROOT)} ...", flush=True)
        t = time.perf_counter()
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *clip.args, str(tmp)],
            check=True,
            timeout=3600,
        )
        tmp.rename(clip.path)
        print(f"  {clip.path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - t:.0f} s", flush=True)


# -- the contenders (run inside the child processes) -------------------------------------


def run_framepipe(path: Path, workload: str, idx: list[int]) -> tuple[Any, str]:
    import framepipe as fp

    with fp.open(path) as f:
        if workload in ("all", "first100"):
            stop = None if workload == "all" else len(idx)
            if stop is not None and "stop" in inspect.signature(f.iter).parameters:
                frames = f.iter(stop=stop)  # type: ignore[call-arg]
                api = "iter(stop=100)"
            else:
                frames = f.iter() if stop is None else itertools.islice(f.iter(), stop)
                api = "iter()" if stop is None else "islice(iter(), 100)"
            n = 0
            for a in frames:
                n += a.shape[0] > 0
            return n, api
        if hasattr(f, "read_batch"):
            return f.read_batch(idx), "read_batch(indices)"
        return [f.read(index=k) for k in idx], "read(index=k) per frame"


def run_torchcodec(path: Path, workload: str, idx: list[int], seek_mode: str = "exact") -> tuple[Any, str]:
    from torchcodec.decoders import VideoDecoder

    # NHWC is the layout torchcodec decodes into (NCHW is a permuted view of it), so HWC
    # arrays cost no permute here; .numpy() is zero-copy.
    dec = VideoDecoder(str(path), seek_mode=seek_mode, dimension_order="NHWC")
    if workload in ("all", "first100"):
        n = 0
        for frame in dec:
            n += frame.numpy().shape[0] > 0
            if n == len(idx):
                break
        return n, "iteration"
    return dec.get_frames_at(idx).data.numpy(), "get_frames_at(indices)"


def run_pyav(path: Path, workload: str, idx: list[int]) -> tuple[Any, str]:
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        if workload in ("all", "first100"):
            n = 0
            for frame in c.decode(s):
                n += frame.to_ndarray(format="rgb24").shape[0] > 0
                if n == len(idx):
                    break
            return n, "decode + to_ndarray"
        # A user's frame-exact read by index on a constant-rate file: seek to the keyframe
        # at or before the frame's pts, decode forward to it.
        start = s.start_time or 0
        step = 1 / (s.average_rate * s.time_base)
        out = []
        for k in idx:
            target = start + round(k * step)
            c.seek(target, stream=s, backward=True, any_frame=False)
            for frame in c.decode(s):
                if frame.pts is not None and frame.pts >= target:
                    out.append(frame.to_ndarray(format="rgb24"))
                    break
        return out, "seek + decode to pts"


def run_imageio(path: Path, workload: str, idx: list[int]) -> tuple[Any, str]:
    import imageio.v3 as iio

    if workload in ("all", "first100"):
        n = 0
        for frame in iio.imiter(path, plugin="pyav", format="rgb24"):
            n += frame.shape[0] > 0
            if n == len(idx):
                break
        return n, "imiter"
    with iio.imopen(path, "r", plugin="pyav") as f:
        return [f.read(index=k, format="rgb24") for k in idx], "read(index=k)"


RUNNERS: dict[str, Callable[[Path, str, list[int]], tuple[Any, str]]] = {
    "framepipe": run_framepipe,
    "torchcodec": run_torchcodec,
    "pyav": run_pyav,
    "imageio": run_imageio,
}


def child_one(contender: str, clip_name: str, workload: str) -> dict[str, Any]:
    clip = CLIPS[clip_name]
    idx = indices_for(workload, clip.n)
    run = RUNNERS[contender]
    result, api = run(clip.path, workload, idx)  # warm-up
    expect = len(idx)
    got = result if isinstance(result, int) else len(result)
    if got != expect:
        raise SystemExit(f"{contender} gave {got} frames for {workload}, expected {expect}")
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    run(clip.path, workload, idx)
    wall = time.perf_counter() - t
    cpu2 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (cpu2.ru_utime - cpu.ru_utime) + (cpu2.ru_stime - cpu.ru_stime)
    return {"seconds": wall, "cpu": cpu_s, "api": api}


def child_check(contender: str, out: Path) -> dict[str, Any]:
    """Return the 10 random frames of both clips, saved for the parent to compare; torchcodec, the reference, also saves each one's neighbours k-1 and k+1."""
    import numpy as np

    arrays = {}
    for clip_name in ("1080p", "small"):
        clip = CLIPS[clip_name]
        idx = indices_for("random10", clip.n)
        if contender == "torchcodec":
            idx = [max(0, min(clip.n - 1, k + d)) for k in idx for d in (-1, 0, 1)]
        frames, _ = RUNNERS[contender](clip.path, "random10", idx)
        arrays[clip_name] = np.stack([np.asarray(a) for a in frames])
    np.savez(out, **arrays)
    return {}


def child_open(contender: str) -> dict[str, Any]:
    """Open + first random read on the 10-minute clip, then one more read (a seek), after the same on the small clip once (libraries loaded, nothing of the long file cached beyond the page cache)."""
    rng = random.Random(SEED)
    small, long = CLIPS["small"], CLIPS["long"]
    k_small = rng.randrange(small.n)
    k1, k2 = rng.randrange(long.n), rng.randrange(long.n)
    times: dict[str, float] = {}
    if contender == "framepipe":
        import framepipe as fp

        with fp.open(small.path) as f:
            f.read(index=k_small)
        t0 = time.perf_counter()
        with fp.open(long.path) as f:
            t1 = time.perf_counter()
            n = len(f)
            t2 = time.perf_counter()
            f.read(index=k1)
            t3 = time.perf_counter()
            f.read(index=k2)
            t4 = time.perf_counter()
        times = {"open": t1 - t0, "len": t2 - t1, "first": t3 - t0, "seek": t4 - t3}
        t0 = time.perf_counter()
        with fp.open(small.path) as f:
            f.read(index=k_small)
        times["first_small"] = time.perf_counter() - t0
    else:
        from torchcodec.decoders import VideoDecoder

        mode = "exact" if contender == "torchcodec" else "approximate"
        VideoDecoder(str(small.path), seek_mode=mode, dimension_order="NHWC")[k_small]
        t0 = time.perf_counter()
        dec = VideoDecoder(str(long.path), seek_mode=mode, dimension_order="NHWC")
        t1 = time.perf_counter()
        n = len(dec)
        dec[k1].numpy()
        t3 = time.perf_counter()
        dec[k2].numpy()
        t4 = time.perf_counter()
        times = {"open": t1 - t0, "first": t3 - t0, "seek": t4 - t3}
        t0 = time.perf_counter()
        VideoDecoder(str(small.path), seek_mode=mode, dimension_order="NHWC")[k_small]
        times["first_small"] = time.perf_counter() - t0
    times["frames"] = n
    return times


def child_versions() -> dict[str, Any]:
    import av
    import imageio
    import torch
    import torchcodec
    from torchcodec._core import get_ffmpeg_library_versions

    return {
        "torch": torch.__version__,
        "torchcodec": torchcodec.__version__,
        "torchcodec_ffmpeg": get_ffmpeg_library_versions(),
        "av": av.__version__,
        "av_ffmpeg": av.library_versions["libavcodec"],
        "imageio": imageio.__version__,
    }


# -- the parent --------------------------------------------------------------------------


def python_for(contender: str) -> str:
    return sys.executable if contender == "framepipe" else str(ANCHOR_PY)


def child(contender: str, *args: str) -> dict[str, Any]:
    r = subprocess.run(
        [python_for(contender), __file__, "--child", contender, *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if r.returncode != 0:
        raise RuntimeError(f"{contender} {' '.join(args)} failed:\n{r.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def ffmpeg_decode_only(clip: Clip, frames: int | None = None) -> tuple[float, float]:
    """Wall and CPU seconds of FFmpeg's own decode (Debian's CLI, 2 threads), no conversion."""
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-threads", "2", "-i", str(clip.path)]
    if frames is not None:
        cmd += ["-frames:v", str(frames)]
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([*cmd, "-f", "null", "-"], check=True, timeout=600)
    wall = time.perf_counter() - t
    cpu2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (cpu2.ru_utime - cpu.ru_utime) + (cpu2.ru_stime - cpu.ru_stime)


def spread(ts: list[float]) -> str:
    if not ts:
        return "failed"
    med = statistics.median(ts)
    return f"{med:.3f}" if len(ts) == 1 else f"{med:.3f} ({min(ts):.3f}-{max(ts):.3f})"


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, ["-" * w for w in widths], *rows]:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
    print()


def check_frames() -> None:
    """Do the contenders return the frames asked for? Each of the 10 random frames is compared with torchcodec's frames k-1, k and k+1: it must be nearest to k (colour conversions differ by a few levels, and by more where the matrix differs)."""
    import numpy as np

    arrays = {}
    for c in CONTENDERS:
        out = CACHE / f"check_{c}.npz"
        child(c, "check", str(out))
        arrays[c] = np.load(out)
    print("Frame-exact among the 10 random reads (nearest to torchcodec's frame k, not k-1 or k+1):")
    for clip_name in ("1080p", "small"):
        ref = arrays["torchcodec"][clip_name].astype(np.int16)
        ref = ref.reshape(10, 3, *ref.shape[1:])
        parts = []
        for c in CONTENDERS[1:]:
            got = arrays[c][clip_name].astype(np.int16)
            if got.shape != ref[:, 1].shape:
                parts.append(f"{c} shape {got.shape}")
                continue
            d = np.abs(got[:, None] - ref).mean(axis=(2, 3, 4))  # (10, 3)
            exact = int((d[:, 1] <= d.min(axis=1)).sum())  # ties: k = 0 or the last frame
            parts.append(f"{c} {exact}/10 (mean |difference| at k up to {d[:, 1].max():.2f} levels)")
        print(f"  {clip_name}: " + ", ".join(parts))
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one run per cell instead of 5")
    ap.add_argument("--reps", type=int, default=None, help="runs per cell (default 5, --quick 1)")
    ap.add_argument("--no-long", action="store_true", help="skip the 10-minute file")
    args = ap.parse_args()
    reps = args.reps or (1 if args.quick else 5)

    if not ANCHOR_PY.exists():
        sys.exit(f"{ANCHOR_PY} is missing: `make bench` installs the anchors (requirements-anchors.txt)")
    if shutil.which("ffmpeg") is None:
        sys.exit("the ffmpeg CLI is missing (make setup installs it)")
    make_clips(["1080p", "small"] + ([] if args.no_long else ["long"]))

    versions = child("torchcodec", "versions")
    import framepipe as fp

    print(
        f"\nframepipe {fp.__version__} (.venv) | torch {versions['torch']}, torchcodec "
        f"{versions['torchcodec']} on FFmpeg {versions['torchcodec_ffmpeg'].get('ffmpeg_version', '?')} "
        f"(libavcodec {versions['torchcodec_ffmpeg'].get('libavcodec', '?')}), PyAV {versions['av']} "
        f"(bundled libavcodec {versions['av_ffmpeg']}), imageio {versions['imageio']} (.venv-bench)"
    )
    print(
        f"{reps} fresh process(es) per contender and cell, taking turns; seconds, median (fastest-slowest)\n"
    )
    try:
        check_frames()
    except RuntimeError as e:
        print(f"frame check failed: {str(e).strip().splitlines()[-1]}\n")

    cells = [(c, w) for c in ("1080p", "small") for w in WORKLOADS]
    times: dict[tuple[str, str, str], list[float]] = {}
    cpu: dict[tuple[str, str, str], list[float]] = {}
    apis: dict[tuple[str, str, str], str] = {}
    for rep in range(reps):
        for clip_name, workload in cells:
            order = CONTENDERS[rep % len(CONTENDERS) :] + CONTENDERS[: rep % len(CONTENDERS)]
            for contender in order:
                key = (clip_name, workload, contender)
                times.setdefault(key, [])
                cpu.setdefault(key, [])
                try:
                    r = child(contender, "one", clip_name, workload)
                except RuntimeError as e:  # a failed run is a result: shown, not fatal
                    print(
                        f"{contender} {clip_name} {workload}: {str(e).strip().splitlines()[-1]}",
                        file=sys.stderr,
                    )
                    continue
                times[key].append(r["seconds"])
                cpu[key].append(r["cpu"])
                apis[key] = r["api"]
            if workload in ("all", "first100"):
                frames = None if workload == "all" else 100
                wall, cpu_s = ffmpeg_decode_only(CLIPS[clip_name], frames)
                times.setdefault((clip_name, workload, "ceiling"), []).append(wall)
                cpu.setdefault((clip_name, workload, "ceiling"), []).append(cpu_s)
        print(f"(round {rep + 1}/{reps} done)", file=sys.stderr, flush=True)

    def med(table: dict[tuple[str, str, str], list[float]], *key: str) -> float:
        ts = table.get((key[0], key[1], key[2]), [])
        return statistics.median(ts) if ts else float("nan")

    header = [
        "clip",
        "workload",
        "decode-only ceiling",
        "torchcodec",
        "framepipe",
        "PyAV",
        "imageio pyav",
        "framepipe / torchcodec",
        "target",
        "met",
    ]
    rows = []
    cpu_rows = []
    for clip_name, workload in cells:
        ratio = med(times, clip_name, workload, "framepipe") / med(times, clip_name, workload, "torchcodec")
        target = TARGETS[(clip_name, workload)]
        ceil = times.get((clip_name, workload, "ceiling"))
        rows.append(
            [
                clip_name,
                WORKLOAD_NAMES[workload],
                spread(ceil) if ceil else "-",
                *(spread(times[(clip_name, workload, c)]) for c in CONTENDERS),
                f"{ratio:.2f}",
                f"<= {target:.1f}",
                "met" if ratio <= target else "NOT MET",
            ]
        )
        cpu_rows.append(
            [
                clip_name,
                WORKLOAD_NAMES[workload],
                f"{med(cpu, clip_name, workload, 'ceiling'):.3f}" if ceil else "-",
                *(f"{med(cpu, clip_name, workload, c):.3f}" for c in CONTENDERS),
                f"{med(cpu, clip_name, workload, 'framepipe') / med(cpu, clip_name, workload, 'torchcodec'):.2f}",
            ]
        )
    print("### Sampling frames (wall seconds; 1080p: 300 frames GOP 60; small: 320x180, 325 frames)\n")
    print_table(header, rows)
    print("CPU seconds of the same runs (user + system, all threads; less sensitive to a busy machine):\n")
    print_table(header[:8], cpu_rows)
    print(
        "framepipe calls: " + "; ".join(f"{w}: {apis.get(('1080p', w, 'framepipe'), '?')}" for w in WORKLOADS)
    )
    print(
        "torchcodec: VideoDecoder(seek_mode='exact', dimension_order='NHWC'), default "
        "num_ffmpeg_threads; iteration / get_frames_at; .numpy() (zero-copy, no permute needed)"
    )
    print("ceiling: `ffmpeg -threads 2 -i clip [-frames:v 100] -f null -` (Debian's FFmpeg CLI), wall time")
    for clip_name in ("1080p", "small"):
        fp_s = med(times, clip_name, "all", "framepipe")
        av_s = med(times, clip_name, "all", "pyav")
        ratio = av_s / fp_s
        ceiling = med(times, clip_name, "all", "ceiling")
        bound = ""
        if ratio < 1.5 and av_s <= 1.1 * ceiling:
            # Said, not excused: the line still reads NOT MET.
            bound = (
                f"; PyAV takes {av_s / ceiling:.2f}x the decode-only ceiling's {ceiling:.3f} s here, so 1.5x "
                f"PyAV would mean decoding {1.5 * ceiling / av_s:.2f}x faster than FFmpeg alone"
            )
        print(
            f"sequential decode on {clip_name}: framepipe {CLIPS[clip_name].n / fp_s:.0f} frames/s, "
            f"PyAV {CLIPS[clip_name].n / av_s:.0f} frames/s: {ratio:.2f}x (target >= 1.5x: "
            f"{'met' if ratio >= 1.5 else 'NOT MET'}{bound})"
        )
    print()

    if not args.no_long:
        open_times: dict[str, list[dict[str, float]]] = {}
        for _ in range(reps):
            for c in ("framepipe", "torchcodec", "torchcodec-approx"):
                open_times.setdefault(c, [])
                try:
                    open_times[c].append(child(c, "open"))
                except RuntimeError as e:
                    print(f"{c} open: {str(e).strip().splitlines()[-1]}", file=sys.stderr)

        def omed(c: str, key: str) -> float:
            rs = open_times[c]
            return statistics.median(r[key] for r in rs) if rs else float("nan")

        long = CLIPS["long"]
        size_mb = long.path.stat().st_size / 1e6
        print(
            f"### Open + first random read on a 10-minute file ({long.width}x{long.height} H.264, "
            f"{long.n} frames, {size_mb:.0f} MB; seconds, median of {reps})\n"
        )
        rows = []
        for c, label in (
            ("torchcodec", "torchcodec exact"),
            ("framepipe", "framepipe"),
            ("torchcodec-approx", "torchcodec approximate"),
        ):
            per_frame = (omed(c, "first") - omed(c, "first_small")) / (long.n - CLIPS["small"].n)
            rows.append(
                [
                    label,
                    f"{omed(c, 'open'):.3f}",
                    f"{omed(c, 'first'):.3f}",
                    f"{omed(c, 'seek'):.3f}",
                    f"{omed(c, 'first_small'):.3f}",
                    f"{per_frame * 1e6:.1f}",
                    f"{omed(c, 'frames'):.0f}",
                ]
            )
        print_table(
            [
                "contender",
                "open",
                "open + first read",
                "one more read (a seek)",
                "open + first read, 325-frame clip",
                "µs per frame of index (difference of the two / 17,675)",
                "frames",
            ],
            rows,
        )
        ratio = omed("framepipe", "first") / omed("torchcodec", "first")
        print(
            f"framepipe len() after open: {omed('framepipe', 'len'):.3f} s; framepipe / torchcodec exact, "
            f"open + first read: {ratio:.2f} (target <= 1.0: {'met' if ratio <= 1.0 else 'NOT MET'})"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        contender, what, *rest = sys.argv[2:]
        if what == "one":
            res = child_one(contender, *rest)
        elif what == "check":
            res = child_check(contender, Path(rest[0]))
        elif what == "open":
            res = child_open(contender)
        elif what == "versions":
            res = child_versions()
        else:
            raise SystemExit(f"unknown child task {what}")
        print(json.dumps(res))
        sys.exit()
    t0 = time.time()
    main()
    print(f"(bench took {time.time() - t0:.0f} s)")
