"""framepipe demo: frames from videotestsrc, processed in numpy, encoded to H.264 MP4.

Frames arrive as zero-copy, read-only numpy views of GStreamer buffers. For each one we
take a writable copy, draw a box that moves across the picture, and push it into an
encoding pipeline (x264enc ! mp4mux). Run with ``make demo`` or ``python examples/demo.py``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import framepipe as fp
import numpy as np


def draw_box(
    img: np.ndarray, x: int, y: int, size: int, color: tuple[int, int, int], thickness: int = 4
) -> None:
    """Draw a hollow square into an (H, W, 3) array in place."""
    h, w = img.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + size, w), min(y + size, h)
    img[y0 : y0 + thickness, x0:x1] = color
    img[max(y1 - thickness, 0) : y1, x0:x1] = color
    img[y0:y1, x0 : x0 + thickness] = color
    img[y0:y1, max(x1 - thickness, 0) : x1] = color


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--output", type=Path, default=Path("out/demo.mp4"))
    args = parser.parse_args(argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)

    source = fp.Pipeline(
        f"videotestsrc num-buffers={args.frames} pattern=smpte ! "
        f"video/x-raw,format=RGB,width={args.width},height={args.height},framerate=30/1 ! "
        "appsink name=frames sync=false max-buffers=8"
    )
    encoder = fp.Pipeline(
        "appsrc name=src ! videoconvert ! video/x-raw,format=I420 ! "
        "x264enc speed-preset=veryfast tune=zerolatency ! "
        f"mp4mux ! filesink location={args.output}"
    )
    start = time.perf_counter()
    n = 0
    with source, encoder:
        for frame in source.frames("frames"):
            out = frame.copy()  # writable deep copy; frame.array itself is read-only
            size = args.height // 4
            x = int((args.width - size) * (n / max(args.frames - 1, 1)))
            y = int((args.height - size) / 2 * (1 + np.sin(n / 15)))
            draw_box(out.array, x, y, size, (255, 40, 40))
            encoder.push("src", out)
            n += 1
        encoder.end_of_stream("src")
        encoder.run(timeout=120)
    elapsed = time.perf_counter() - start
    print(f"frames: {n}")
    print(f"fps: {n / elapsed:.1f}")
    print(f"output: {args.output}")
    return args.output


if __name__ == "__main__":
    main()
