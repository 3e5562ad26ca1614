"""The README's Python element: a Transform that inverts colours, with a float property.

The decorated class becomes the element factory ``pyinvert`` (its own GType, pad templates
and ``strength`` property), usable in any launch string of this process.

    python examples/pyinvert.py
"""

import framepipe as fp
import numpy as np


@fp.element("pyinvert", classification="Filter/Effect/Video", description="Inverts colours")
class Invert(fp.Transform):
    """Inverts colours, blended with the original by ``strength``."""

    caps = "video/x-raw,format={RGB,GRAY8}"
    strength = fp.Property(float, 1.0, minimum=0.0, maximum=1.0, description="Blend factor")

    def transform_ip(self, frame: fp.Frame) -> None:  # frame.array is writable; return False to drop
        a = frame.array
        a[...] = (255 - a) * self.strength + a * (1 - self.strength)


fp.Pipeline("videotestsrc num-buffers=30 ! video/x-raw,format=RGB ! pyinvert strength=0.5 ! fakesink").run()

# The same element, checked: white in, white * 0.5 + black * 0.5 out.
p = fp.Pipeline(
    "videotestsrc num-buffers=1 pattern=white ! video/x-raw,format=RGB,width=8,height=8 "
    "! pyinvert strength=0.5 ! appsink name=out"
)
with p:
    (frame,) = list(p.frames("out"))
print("pyinvert strength=0.5 turns white into", np.unique(frame.array))
