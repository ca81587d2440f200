"""Real image bytes for tests, good and hostile, made with Pillow (plus one hand-crafted PNG header)."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

RGB = tuple[int, int, int]
RED: RGB = (220, 20, 20)
GREEN: RGB = (20, 200, 20)
BLUE: RGB = (20, 20, 220)
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)


def encode(img: Image.Image, fmt: str = "PNG", **params: object) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def jpeg_bytes(w: int = 64, h: int = 48, color: RGB = RED, *, quality: int = 90) -> bytes:
    return encode(Image.new("RGB", (w, h), color), "JPEG", quality=quality)


def png_bytes(w: int = 64, h: int = 48, color: RGB = RED) -> bytes:
    return encode(Image.new("RGB", (w, h), color))


def noisy_photo_jpeg(w: int = 320, h: int = 240, *, seed: int = 0) -> bytes:
    """A photo-like JPEG (smooth colour field, shapes, grain); each seed gives different bytes."""
    rng = np.random.default_rng(seed)
    img = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize(
        (w, h), Image.Resampling.BICUBIC
    )
    draw = ImageDraw.Draw(img)
    for _ in range(4):
        x, y = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
        draw.ellipse((x, y, x + w // 3, y + h // 3), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    pixels = np.clip(np.asarray(img, dtype=np.float32) + rng.normal(0, 6, (h, w, 3)), 0, 255)
    return encode(Image.fromarray(pixels.astype(np.uint8)), "JPEG", quality=85)


def photo_with_caption(
    w: int = 200,
    h: int = 100,
    *,
    band: int = 12,
    band_color: RGB = BLACK,
    fill: RGB = WHITE,
    fmt: str = "PNG",
) -> bytes:
    """A light image with a caption-like dark band across the very top `band` rows."""
    img = Image.new("RGB", (w, h), fill)
    ImageDraw.Draw(img).rectangle((0, 0, w - 1, band - 1), fill=band_color)
    return encode(img, fmt)


def cmyk_jpeg(w: int = 32, h: int = 32, cmyk: tuple[int, int, int, int] = (0, 255, 255, 0)) -> bytes:
    """A CMYK JPEG; the default ink (no cyan, full magenta and yellow) is red."""
    return encode(Image.new("CMYK", (w, h), cmyk), "JPEG", quality=95)


def png16(w: int = 16, h: int = 16, value: int = 32768) -> bytes:
    """A 16-bit greyscale PNG of one level (0..65535); 32768 is mid-grey."""
    return encode(Image.fromarray(np.full((h, w), value, dtype=np.uint16)))


def palette_rgba_png(w: int = 20, h: int = 10, color: RGB = RED) -> bytes:
    """A palette PNG with a transparency entry: left half fully transparent, right half `color`."""
    img = Image.new("P", (w, h), 0)
    img.putpalette([0, 0, 0, *color] + [0] * (256 - 2) * 3)
    ImageDraw.Draw(img).rectangle((w // 2, 0, w - 1, h - 1), fill=1)
    return encode(img, transparency=0)


def rgba_png(w: int = 20, h: int = 10, color: tuple[int, int, int, int] = (*RED, 0)) -> bytes:
    return encode(Image.new("RGBA", (w, h), color))


def la_png(w: int = 20, h: int = 10, color: tuple[int, int] = (0, 0)) -> bytes:
    """Greyscale with alpha; the default is black, fully transparent."""
    return encode(Image.new("LA", (w, h), color))


def mode1_png(w: int = 16, h: int = 16, *, white: bool = True) -> bytes:
    return encode(Image.new("1", (w, h), 1 if white else 0))


def animated_gif(frames: Sequence[RGB] | int = (RED, GREEN, BLUE), size: tuple[int, int] = (32, 32)) -> bytes:
    """An animated GIF with one flat colour per frame (an int gives that many distinct greys)."""
    colors = [(i * 40 % 256,) * 3 for i in range(frames)] if isinstance(frames, int) else list(frames)
    images = [Image.new("RGB", size, c) for c in colors]
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=80, loop=0)


def noisy_animated_gif(frames: int = 3, size: tuple[int, int] = (64, 64)) -> bytes:
    """An animated GIF of random-noise frames: every frame carries kilobytes of data (for truncation)."""
    rng = np.random.default_rng(0)
    images = [
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).quantize(64)
        for _ in range(frames)
    ]
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=80)


def animated_webp(frames: Sequence[RGB] = (RED, GREEN, BLUE), size: tuple[int, int] = (32, 32)) -> bytes:
    images = [Image.new("RGB", size, c) for c in frames]
    return encode(images[0], "WEBP", save_all=True, append_images=images[1:], duration=80, lossless=True)


def exif_rotated_jpeg(w: int = 40, h: int = 20, orientation: int = 6) -> bytes:
    """A landscape JPEG whose EXIF says to rotate it (6: 90 degrees clockwise, so it shows h x w)."""
    img = Image.new("RGB", (w, h), RED)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(img, "JPEG", exif=exif.tobytes())


def truncated_jpeg() -> bytes:
    data = noisy_photo_jpeg(256, 256, seed=1)
    return data[: len(data) // 2]


def text_file() -> bytes:
    return b"Hello! This is a text file, not a picture.\n" * 10


def bomb_png(width: int = 50000, height: int = 50000) -> bytes:
    """A small, real PNG whose IHDR claims `width` x `height` RGB pixels (a decompression bomb header)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    idat = zlib.compress(b"\x00" * (1 + 3 * min(width, 1000)) * 4)  # a few rows of real, all-black data
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def heic_bytes(w: int = 32, h: int = 32, color: RGB = RED) -> bytes:
    """A HEIC image (needs pillow-heif with an encoder)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    return encode(Image.new("RGB", (w, h), color), "HEIF", quality=90)


def _gif_image_block(data: bytes) -> bytes:
    """The first image block (descriptor, local palette if any, LZW data) of a GIF made by Pillow."""
    pos = 13 + (3 * 2 ** ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while data[pos] == 0x21:  # extensions: introducer, label, sub-blocks up to an empty one
        pos += 2
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    assert data[pos] == 0x2C, "no image descriptor"
    start, packed = pos, data[pos + 9]
    pos += 10 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0) + 1  # + LZW minimum code size
    while data[pos]:
        pos += data[pos] + 1
    return data[start : pos + 1]


def growing_gif(
    header: tuple[int, int] = (10, 10), later: tuple[int, int] = (600, 600), frames: int = 1
) -> bytes:
    """A GIF whose header and first frame are `header` in size, followed by `frames` frames of size
    `later`: tiny in bytes (each big frame is one flat colour), huge once decoded. Its later frames
    are spliced in by hand, since Pillow only writes frames that fit the header."""
    first = encode(Image.new("P", header, 1), "GIF")
    big = _gif_image_block(encode(Image.new("P", later, 2), "GIF"))
    return first[:-1] + big * frames + b"\x3b"  # drop the first file's trailer, add one at the end
