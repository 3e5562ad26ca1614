"""The README's analytics callback: a module for ``pyfunc module=detector.py``.

``pyfunc`` calls ``process_frame`` with a writable ``fp.Frame`` for every buffer; returning
False drops the frame. ``examples/analytics.py`` runs it in a pipeline; run this file to
try it alone: ``python examples/detector.py``.
"""

from __future__ import annotations

import framepipe as fp
import numpy as np


def process_frame(frame: fp.Frame) -> bool | None:
    """Add a box, a tensor and a JSON message to every frame."""
    frame.add_region(10, 20, 64, 48, "car", 0.9, attributes={"colour": "red"})
    frame.add_tensor("embedding", np.zeros(128, np.float32))
    frame.add_message({"event": "seen"})
    return None


if __name__ == "__main__":
    fp.Pipeline(
        f"videotestsrc num-buffers=5 ! video/x-raw,format=RGB ! pyfunc module={__file__} ! fakesink"
    ).run(timeout=60)
    print("process_frame ran on 5 frames")
