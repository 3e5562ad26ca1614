"""Decoding 1080p H.264 to rgb24 numpy arrays, and random reads by index: framepipe vs PyAV (thread_type AUTO, to_ndarray("rgb24")) and imageio's pyav plugin.

Run by ``make bench``. The bench makes its own clip. Prints medians and ratios.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import av
import framepipe as fp
import imageio.v3 as iio
from _common import fresh_process_times, interleaved_medians, rate_spread, table, timed_once

DATA = Path(__file__).parent / "data"
CLIP = DATA / "1080p_h264_yuv420p.mp4"
N_FRAMES = 240


def make_clip() -> Path:
    if CLIP.exists():
        return CLIP
    DATA.mkdir(exist_ok=True)
    desc = (
        f"videotestsrc num-buffers={N_FRAMES} pattern=ball ! video/x-raw,width=1920,height=1080,framerate=30/1 ! "
        # The usual 8-bit 4:2:0 (x264enc would otherwise pick 10-bit 4:4:4 from videotestsrc).
        "videoconvert ! video/x-raw,format=I420 ! "
        f"x264enc bframes=2 key-int-max=60 speed-preset=veryfast ! mp4mux ! filesink location={CLIP}"
    )
    fp.Pipeline(desc).run(timeout=600)
    return CLIP


def framepipe_decode() -> int:
    n = 0
    for frame in fp.imiter(CLIP, format="rgb24"):
        n += frame.shape[0] > 0
    return n


def pyav_decode(to_rgb: bool = True) -> int:
    n = 0
    with av.open(str(CLIP)) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in c.decode(stream):
            if to_rgb:
                frame.to_ndarray(format="rgb24")
            n += 1
    return n


def gst_decode_only() -> int:
    """GStreamer's decoder alone (Debian's gst-libav), frames pulled without conversion."""
    n = 0
    desc = f"filesrc location={CLIP} ! qtdemux ! h264parse ! avdec_h264 ! appsink name=sink sync=false"
    with fp.Pipeline(desc) as p:
        for _ in p.frames("sink"):
            n += 1
    return n


def pyav_decode_only() -> int:
    """PyAV's decoder alone (the FFmpeg its wheel bundles), no conversion."""
    return pyav_decode(to_rgb=False)


def random_reads(read, indices: list[int]) -> list[np.ndarray]:
    return [read(k) for k in indices]


SEQUENTIAL = {
    "fp": framepipe_decode,
    "av": pyav_decode,
    "gst-only": gst_decode_only,
    "av-only": pyav_decode_only,
}


def main() -> None:
    make_clip()
    assert framepipe_decode() == pyav_decode() == N_FRAMES

    runs = fresh_process_times(__file__, list(SEQUENTIAL), 7)
    t = {name: statistics.median(ts) for name, ts in runs.items()}
    fp_s, av_s = t["fp"], t["av"]

    rng = random.Random(1)
    indices = [rng.randrange(N_FRAMES) for _ in range(10)]
    with fp.open(CLIP) as f, iio.imopen(CLIP, "r", plugin="pyav") as g:
        r = interleaved_medians(
            {
                "fp": lambda: random_reads(lambda k: f.read(index=k), indices),
                "io": lambda: random_reads(lambda k: g.read(index=k), indices),
            },
            5,
        )
        fp_rand, io_rand = r["fp"], r["io"]
        truth = [np.array(x) for x in fp.imiter(CLIP)]
        fp_exact = sum(np.array_equal(f.read(index=k), truth[k]) for k in indices)
        io_reads = [g.read(index=k) for k in indices]
    # Exactness of the anchor against its own sequential decode.
    seq = [np.array(x) for x in iio.imiter(CLIP, plugin="pyav")]
    io_exact = sum(np.array_equal(a, seq[k]) for a, k in zip(io_reads, indices, strict=True))

    # Decoding and conversion costs depend on the pixel format: name it.
    pix = fp.immeta(CLIP)["video_format"]
    table(
        f"Reading 1080p H.264 ({pix}, 240 frames, B-frames) into rgb24 arrays (medians of 7 runs, each in a fresh process, and of 5)",
        [
            (
                "sequential decode, frames/s, median (slowest-fastest) (anchor: PyAV thread_type=AUTO + to_ndarray)",
                rate_spread(N_FRAMES, runs["av"]),
                rate_spread(N_FRAMES, runs["fp"]),
                f"{av_s / fp_s:.2f}x (target >= 1.5x)",
            ),
            (
                "10 random reads by index, s (anchor: imageio pyav plugin read(index=k))",
                f"{io_rand:.3f}",
                f"{fp_rand:.3f}",
                f"{fp_rand / io_rand:.2f} of the latency (target <= 0.5)",
            ),
            ("exact frames among the 10 random reads", f"{io_exact}/10", f"{fp_exact}/10", "target 10/10"),
            (
                "for reference: the decoder alone, no conversion, frames/s (PyAV's FFmpeg vs Debian's gst-libav)",
                rate_spread(N_FRAMES, runs["av-only"]),
                rate_spread(N_FRAMES, runs["gst-only"]),
                f"{t['av-only'] / t['gst-only']:.2f}x",
            ),
        ],
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(timed_once(SEQUENTIAL[sys.argv[2]]))
        sys.exit()
    t = time.time()
    main()
    print(f"(bench took {time.time() - t:.0f} s)")
