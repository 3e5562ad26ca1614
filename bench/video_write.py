"""Encoding rgb24 arrays to 1080p H.264 MP4: framepipe vs imageio's pyav plugin (libx264,
same preset). Run by ``make bench``. Prints medians and ratios."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import framepipe as fp
import imageio.v3 as iio
from _common import median_time, table

N = 120
PRESET = "medium"  # the default of both x264enc and libx264


def frames() -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, size=(1080, 1920, 3), dtype=np.uint8)
    return np.stack([np.roll(base, 8 * k, axis=1) for k in range(N)])


def main() -> None:
    data = frames()
    with tempfile.TemporaryDirectory() as d:
        out_fp = Path(d) / "fp.mp4"
        out_io = Path(d) / "io.mp4"

        def write_fp() -> None:
            with fp.open(out_fp, "w") as f:
                f.init_video_stream("h264", fps=30)
                f.write(data)

        def write_io() -> None:
            with iio.imopen(out_io, "w", plugin="pyav") as f:
                f.init_video_stream("libx264", fps=30)
                f.write(data)

        fp_s = median_time(write_fp, 3)
        io_s = median_time(write_io, 3)
        assert fp.improps(out_fp).n_images == N
        assert fp.improps(out_io).n_images == N
    table(
        f"Encoding {N} rgb24 1080p frames to H.264 MP4, preset {PRESET} (median of 3)",
        [
            (
                "frames/s (anchor: imageio pyav plugin, libx264)",
                f"{N / io_s:.1f}",
                f"{N / fp_s:.1f}",
                f"{io_s / fp_s:.2f}x (target >= 1.2x)",
            )
        ],
    )


if __name__ == "__main__":
    main()
