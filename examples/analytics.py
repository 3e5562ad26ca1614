"""The README's analytics pipeline: a Python function (``examples/detector.py``) adds boxes, tensors and messages to each frame, ``fpmetawriter`` writes them as JSON Lines, ``fpoverlay`` draws the boxes.

Headless: the frames end in ``fakesink`` (put ``autovideosink`` there to watch them on a display).

    python examples/analytics.py      # writes meta.jsonl in the current folder
"""

from pathlib import Path

import framepipe as fp

detector = Path(__file__).with_name("detector.py")
fp.Pipeline(
    f"videotestsrc num-buffers=30 ! video/x-raw,format=RGB ! pyfunc module={detector} "
    "! fpmetawriter location=meta.jsonl ! fpoverlay ! videoconvert ! fakesink"
).run(timeout=60)
records = fp.read_metadata("meta.jsonl")  # one dict per frame
print(f"{len(records)} frames; the first: {records[0]['regions']}, {records[0]['messages']}")
assert len(records) == 30 and records[0]["regions"][0]["label"] == "car"
