"""Out-of-place Python transforms keep the input's analytics metadata exactly once."""

from __future__ import annotations

import framepipe as fp
import numpy as np


@fp.element("pyrelgray", classification="Filter/Converter/Video")
class RelGray(fp.Transform):
    sink_caps = "video/x-raw,format=RGB"
    src_caps = "video/x-raw,format=GRAY8"

    def transform(self, frame: fp.Frame) -> np.ndarray:
        return np.ascontiguousarray(frame.array[..., 0])


@fp.element("pyrelsame", classification="Filter/Video")
class RelSame(fp.Transform):
    sink_caps = "video/x-raw,format=RGB"
    src_caps = "video/x-raw,format=RGB"

    def transform(self, frame: fp.Frame) -> fp.Frame:
        return frame


@fp.element("pyrelcopy", classification="Filter/Video")
class RelCopy(fp.Transform):
    sink_caps = "video/x-raw,format=RGB"
    src_caps = "video/x-raw,format=RGB"

    def transform(self, frame: fp.Frame) -> fp.Frame:
        return frame.copy()


def tag(frame: fp.Frame) -> None:
    frame.add_region(1, 2, 3, 4, "car", 0.5)
    frame.add_region(5, 1, 2, 2, "dog", 0.25)
    frame.add_tensor("scores", np.arange(4, dtype=np.float32))
    frame.add_message({"n": 1})


def through(element: str) -> list[fp.Frame]:
    with fp.Pipeline(
        "videotestsrc num-buffers=2 ! video/x-raw,format=RGB,width=16,height=8 ! identity name=tag "
        f"! {element} ! appsink name=out"
    ) as p:
        p.add_probe("tag.src", tag)
        return list(p.frames("out", timeout=20))


def check(frames: list[fp.Frame]) -> None:
    assert len(frames) == 2
    for f in frames:
        assert [(r.x, r.y, r.w, r.h, r.label) for r in f.regions] == [
            (1, 2, 3, 4, "car"),
            (5, 1, 2, 2, "dog"),
        ]
        assert [t.name for t in f.tensors] == ["scores"]
        assert f.messages == [{"n": 1}]


def test_out_of_place_transform_keeps_regions_tensors_and_messages():
    frames = through("pyrelgray")
    assert frames[0].array.shape == (8, 16)
    check(frames)


def test_transform_returning_its_input_does_not_duplicate_metadata():
    check(through("pyrelsame"))


def test_transform_returning_a_copy_does_not_duplicate_metadata():
    check(through("pyrelcopy"))
