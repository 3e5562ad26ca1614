"""Find the moving ball of ``videotestsrc pattern=ball`` with numpy inside a pipeline.

The detector below runs in a ``pyfunc`` element (this very file is its module), adds one
region per frame, and the pipeline draws the boxes (``fpoverlay``), encodes them to MP4
and writes the metadata as JSON Lines (``fpmetawriter``), which is then read back.

    python examples/detect.py [--frames 90] [--out out]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import framepipe as fp
import numpy as np

THRESHOLD = 128


def detect(frame: fp.Frame) -> bool:
    """Box the bright pixels of the frame: the ball on videotestsrc's black background."""
    gray = frame.array.max(axis=2)
    mask = gray > THRESHOLD
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        frame.add_message({"ball": False})
        return True
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    fill = float(mask[y0:y1, x0:x1].mean())  # a disc fills ~pi/4 of its box
    frame.add_region(int(x0), int(y0), int(x1 - x0), int(y1 - y0), "ball", round(fill, 3))
    frame.add_message({"ball": True, "centre": [float((x0 + x1) / 2), float((y0 + y1) / 2)]})
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--out", type=Path, default=Path("out"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    video, meta = args.out / "detect.mp4", args.out / "detect.jsonl"
    pipeline = fp.Pipeline(
        f"videotestsrc pattern=ball num-buffers={args.frames} "
        "! video/x-raw,format=RGB,width=320,height=240,framerate=30/1 "
        f"! pyfunc module={Path(__file__).resolve()} function=detect "
        f"! fpmetawriter location={meta} ! fpoverlay ! videoconvert ! video/x-raw,format=I420 "
        "! x264enc ! mp4mux "
        f"! filesink location={video}"
    )
    with pipeline:
        pipeline.run(timeout=120)
    records = fp.read_metadata(meta)
    found = [r for r in records if r["regions"]]
    print(f"{len(records)} frames, the ball found in {len(found)}; video {video}, metadata {meta}")
    for r in found[:: max(1, len(found) // 5)]:
        b = r["regions"][0]
        print(f"  t={r['pts'] / fp.SECOND:5.2f}s  ball at x={b['x']} y={b['y']} w={b['w']} h={b['h']}")


if __name__ == "__main__":
    main()
