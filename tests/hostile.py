"""The hostile corpus: files made to cost a decoder time or memory, or to break it, each small on disk.

`write_corpus(folder)` writes them all; tests run them through the service, the CLI and the console
(tests/test_hostile_corpus.py), and `scripts/limits_table.py` measures what each costs for the
"Limits" table in docs/architecture.md. Nothing here is committed as a file: it is all generated.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from tests import imagefactory as f


def _many_frames_webp() -> bytes:
    frames = [Image.new("RGB", (2000, 2000), (i * 3 % 256, 0, 0)) for i in range(60)]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=20, quality=10, method=0)
    return out.getvalue()


def _huge_file() -> bytes:
    return f.jpeg_bytes(64, 48) + os.urandom(21 * 1024 * 1024)  # a JPEG with 21 MB of junk after it


# name -> (what it is, how to make it)
CASES: dict[str, tuple[str, Callable[[], bytes]]] = {
    "gif-hidden-giant-frame": (
        "GIF, 10x10 header and first frame, then one 13000x13000 frame",
        lambda: f.growing_gif((10, 10), (13000, 13000)),
    ),
    "gif-40-frames-9000": (
        "GIF, 10x10 header, then 40 frames of 9000x9000",
        lambda: f.growing_gif((10, 10), (9000, 9000), 40),
    ),
    "gif-40-frames-6000": (
        "GIF, 3000x3000 header, then 40 frames of 6000x6000 (each under the pixel limit)",
        lambda: f.growing_gif((3000, 3000), (6000, 6000), 40),
    ),
    "gif-honest-6000": (
        "GIF, 6000x6000 header and 40 frames of 6000x6000: judged on the frames the budget allows",
        lambda: f.growing_gif((6000, 6000), (6000, 6000), 40),
    ),
    "webp-60-frames-2000": ("animated WebP, 60 frames of 2000x2000", _many_frames_webp),
    "png-bomb-header": ("PNG whose header claims 50000x50000", lambda: f.bomb_png(50000, 50000)),
    "truncated-jpeg": ("JPEG cut in half", f.truncated_jpeg),
    "text-as-jpg": ("a text file named .jpg", f.text_file),
    "empty-file": ("zero bytes", lambda: b""),
    "huge-file": ("21 MB file (JPEG with junk after it)", _huge_file),
}


def write_corpus(folder: Path, names: list[str] | None = None) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names or list(CASES):
        suffix = (
            ".webp"
            if name.startswith("webp")
            else ".png"
            if name.startswith("png")
            else ".gif"
            if name.startswith("gif")
            else ".jpg"
        )
        path = folder / f"{name}{suffix}"
        path.write_bytes(CASES[name][1]())
        paths[name] = path
    return paths
