"""The README's video-file calls: write a clip, then read it back in the usual ways.

python examples/video_files.py    # writes clip.mp4 and out.webm in the current folder
"""

import framepipe as fp
import numpy as np

# A 2 s clip to read: a bar moving across a gradient (yuv420p H.264 by default).
t = np.arange(48)[:, None, None, None]
x = np.arange(320)[None, None, :, None]
clip = np.broadcast_to((x * 255 // 319).astype(np.uint8), (48, 240, 320, 3)).copy()
clip[(np.abs(x - t * 6) < 8).repeat(240, axis=1).repeat(3, axis=3)] = 255
fp.imwrite("clip.mp4", clip, fps=24)

frames = fp.imread("clip.mp4")  # (N, H, W, 3) uint8, every frame
frame = fp.imread("clip.mp4", index=41)  # exactly the 42nd frame, also on VFR files
for f in fp.imiter("clip.mp4", format="gray"):  # read-only zero-copy views, full-range gray
    assert f.shape == (240, 320)
fp.imwrite("out.webm", frames, fps=30, codec="vp9")
print("frames:", fp.improps("clip.mp4").n_images)  # the true count, from a demux-only index
print("metadata:", {k: v for k, v in fp.immeta("clip.mp4").items() if k in ("fps", "codec", "rotation")})
with fp.open("clip.mp4") as f:
    small = f.read(index=10, filter=[("scale", "160:-1"), ("hflip", "")])
print("filtered frame:", small.shape)
assert frames.shape == (48, 240, 320, 3) and small.shape == (120, 160, 3)
assert np.array_equal(frame, frames[41])
