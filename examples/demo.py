"""framepipe demo: a Python element tracks the ball of videotestsrc in numpy, the pipeline draws its box and exports the metadata, and the result is an H.264 MP4 any browser plays.

The element below is a small Python class that becomes a real GStreamer element
(``pyballtracker``). Its ``transform_ip`` gets each frame as a writable, zero-copy numpy
view of the GstBuffer, finds the ball, and attaches a region (a standard
GstVideoRegionOfInterestMeta) and a JSON message to the frame. Downstream, Rust elements
draw the boxes (``fpoverlay``) and write the metadata as JSON Lines (``fpmetawriter``);
x264enc encodes 4:2:0 (yuv420p). Run with ``make demo`` or ``python examples/demo.py``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import framepipe as fp
import numpy as np


@fp.element("pyballtracker", classification="Filter/Analytics/Video", description="Boxes the bright ball")
class BallTracker(fp.Transform):
    """Finds the bright pixels (videotestsrc's ball on black) and boxes them."""

    caps = "video/x-raw,format=RGB"
    threshold = fp.Property(int, 128, minimum=0, maximum=255, description="Brightness that counts as ball")

    def start(self) -> None:
        self.seen = 0

    def transform_ip(self, frame: fp.Frame) -> None:
        mask = frame.array.max(axis=2) > self.threshold
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if rows.size == 0:
            frame.add_message({"ball": False})
            return
        y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        fill = float(mask[y0:y1, x0:x1].mean())  # a disc fills about pi/4 of its box
        frame.add_region(x0, y0, x1 - x0, y1 - y0, "ball", round(fill, 3), attributes={"frame": self.seen})
        frame.add_message({"ball": True, "centre": [(x0 + x1) / 2, (y0 + y1) / 2]})
        self.seen += 1


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--output", type=Path, default=Path("out/demo.mp4"))
    args = parser.parse_args(argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    metadata = args.output.with_suffix(".jsonl")

    pipeline = fp.Pipeline(
        f"videotestsrc num-buffers={args.frames} pattern=ball "
        f"! video/x-raw,format=RGB,width={args.width},height={args.height},framerate=30/1 "
        "! pyballtracker threshold=128 "
        f"! fpmetawriter location={metadata} "
        "! fpoverlay ! videoconvert ! video/x-raw,format=I420 "
        "! x264enc speed-preset=veryfast "
        f"! mp4mux ! filesink location={args.output}"
    )
    start = time.perf_counter()
    with pipeline:
        pipeline.run(timeout=120)
    elapsed = time.perf_counter() - start

    records = fp.read_metadata(metadata)
    boxes = sum(len(r["regions"]) for r in records)
    info = fp.immeta(args.output)
    print(f"frames: {len(records)}")
    print(f"fps: {len(records) / elapsed:.1f}")
    print(f"boxes: {boxes} (first: {records[0]['regions'][:1] if records else []})")
    print(
        f"video: {info['codec']} {info.get('pixel_format') or info.get('video_format')}, {info['n_frames']} frames"
    )
    print(f"metadata: {metadata}")
    print(f"output: {args.output}")
    return args.output


if __name__ == "__main__":
    main()
