"""Write into a GStreamer buffer from Python through a writable map.

With PyGObject this took a ctypes hack around ``gst_buffer_map``; with framepipe the
mapping is a buffer-protocol object with slice assignment and a writable ``.array``.
Run: ``python examples/writable_buffer.py``.
"""

from __future__ import annotations

import framepipe as fp


def capitalise(buf: fp.Buffer) -> None:
    """Upper-case the first letter of each word of b"lifestyletransfer", in place."""
    with buf.map(write=True) as m:
        m[0] -= 32  # ASCII lower -> upper case, through the mapping's item assignment
        m.array[[4, 9]] -= 32  # the same bytes as a writable uint8 ndarray


def main() -> None:
    buf = fp.Buffer.from_bytes(b"lifestyletransfer")
    capitalise(buf)
    print(bytes(buf).decode())
    assert bytes(buf) == b"LifeStyleTransfer"


if __name__ == "__main__":
    main()
