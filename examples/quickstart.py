"""The README's quickstart: pull frames, draw on writable copies, encode them to out.mp4."""

import framepipe as fp

src = fp.Pipeline(
    "videotestsrc num-buffers=60 ! video/x-raw,format=RGB,width=320,height=240 ! appsink name=out"
)
enc = fp.Pipeline(
    "appsrc name=src ! videoconvert ! video/x-raw,format=I420 ! x264enc ! mp4mux ! filesink location=out.mp4"
)
with src, enc:
    for frame in src.frames("out"):  # zero-copy, read-only (240, 320, 3) uint8 views
        img = frame.copy()  # writable copy
        img.array[100:140, 140:180] = (255, 0, 0)
        enc.push("src", img)  # caps and timestamps follow the frames
    enc.end_of_stream("src")
    enc.run(timeout=30)
