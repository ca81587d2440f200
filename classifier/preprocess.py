"""Safe image decoding and letterboxing into model tensors; pure functions run in a thread pool.

Rules, in order: the byte size is checked before anything; width x height is checked from the header
before any pixel data is decoded; only common photo/meme formats are opened (never EPS and friends,
which shell out to other programs); EXIF orientation is applied; every mode becomes RGB, transparent
parts composited over white (memes with transparency are usually drawn on white).

Animated images (GIF, WebP, APNG): up to `max_frames` frames are sampled, evenly spaced from the first
to the last frame, both included. The verdict for such an image is the mean of the per-frame class
probabilities. Because a GIF must decode every frame up to the one shown, only the first
`max_total_pixels / (width * height)` frames are eligible, and every frame decoded on the way counts
against that budget at its own size (see DecodeLimits).

Resizing letterboxes: the longest side is scaled to the model's input size and the rest is padded
with the normalisation mean (zeros after normalising), so top/bottom captions are never cropped.
The resize is bilinear and antialiased (Pillow's filter); see `resized` for who computes it.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import re
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from classifier.errors import InvalidImage
from classifier.hashing import Fingerprint, fingerprint
from classifier.model import CheckpointMeta

with contextlib.suppress(ImportError):  # HEIC/HEIF from phones; without pillow-heif those fail alone.
    import pillow_heif

    pillow_heif.register_heif_opener()

Image.init()
# Pillow warns of any frame over 89 megapixels as it seeks to it; decode_frames checks every frame
# against a stricter limit before decoding it, so the warning is only noise in the operator's log.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
# Only formats people actually post; HEIF/AVIF only when a plugin for them is installed.
ALLOWED_FORMATS = tuple(
    f for f in ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "HEIF", "AVIF") if f in Image.OPEN
)
# Formats whose extra frames are animation; MPO/TIFF/HEIF extra frames are previews, pages or depth.
ANIMATED_FORMATS = frozenset({"GIF", "WEBP", "PNG"})
MB = 1024 * 1024
NOT_AN_IMAGE = "That file is not an image I can read."
DAMAGED = "That image is damaged or incomplete, so I can't read it."
TOO_SLOW = "That animation takes too long to decode."
_RESAMPLE = Image.Resampling.BILINEAR
# Shrink by whole factors first (fast box reduce), then filter: close to exact resampling, much faster.
_REDUCING_GAP = 3.0
# torch's antialiased bilinear resize of uint8 images is Pillow's filter in vectorised code where the
# CPU has AVX2; elsewhere it runs plain C, and Pillow is the faster of the two (measured below).
VECTORISED_RESIZE = torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")
_EXIF_ORIENTATION = 0x0112
# Same table as ImageOps.exif_transpose, applied here so a broken EXIF block cannot reject an image.
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
WHITE = (255, 255, 255)


@dataclass(frozen=True)
class DecodeLimits:
    """What an uploaded image may cost us: file size, pixels per frame and per file, frames sampled,
    and decoding time.

    Every frame is checked before it is decoded, not only the header: a GIF's later frames may be far
    larger than its first (a 10x10 header, then a 13000x13000 frame). `max_total_pixels` budgets all
    the frames decoded for one file, those decoded only to reach a sampled one included (a GIF decodes
    every frame up to the one shown); `max_decode_s` stops decoding between frames.
    """

    max_bytes: int = 20 * MB
    max_pixels: int = 40_000_000
    max_frames: int = 4
    max_total_pixels: int = 80_000_000
    max_decode_s: float = 10.0


def decode_frames(data: bytes, limits: DecodeLimits, *, draft_size: int | None = None) -> list[Image.Image]:
    """Decode `data` into 1..max_frames upright RGB frames, or raise InvalidImage.

    `draft_size` (optional) is the longest side the caller needs: JPEGs are then decoded at the
    smallest DCT scale (1/2, 1/4 or 1/8) that keeps the longest side at least that long, which is
    several times faster than decoding every pixel and then throwing most away.
    """
    _check_byte_size(data, limits)
    started = time.monotonic()
    with _readable_image(limits):
        img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        _check_pixels(img.size, limits)
        if draft_size:
            img.draft("RGB", _fitting(img.size, draft_size))
        transpose = _orientation_transpose(img)
        wanted = frame_indices(img, limits)
        frames: list[Image.Image] = []
        decoded = 0
        # Frame by frame up to the last one sampled: seeking decodes the frames in between, so each
        # is checked (size, budget, time) before the seek that decodes it.
        for index in range(wanted[-1] + 1):
            try:
                if index:
                    img.seek(index)
                _check_pixels(img.size, limits)
                decoded += img.width * img.height
                if decoded > limits.max_total_pixels:
                    raise InvalidImage(_too_many_pixels(decoded, limits.max_total_pixels, frames=True))
                if index and time.monotonic() - started > limits.max_decode_s:
                    raise InvalidImage(TOO_SLOW)
                if index in wanted:
                    frame = to_rgb(img)
                    frames.append(frame.transpose(transpose) if transpose is not None else frame)
            except (EOFError, OSError):
                if not frames:
                    raise
                break  # fewer frames than promised, or a damaged tail: the frames so far still count
    return frames


# Past this many pixels a still picture that is not a JPEG (which decodes at a reduced DCT scale) is
# slow to decode: about 0.2 s for a 16-megapixel PNG on one core.
HEAVY_PIXELS = 16_000_000


def is_heavy(data: bytes) -> bool:
    """Whether decoding `data` may take long: a GIF (every frame up to the last sampled is decoded, and
    any of them may be larger than the header says), an animated WebP or PNG, or a big non-JPEG.
    From the first bytes and the header only, so it is cheap enough for the event loop."""
    if data[:4] == b"GIF8":
        return True
    if data[:4] == b"RIFF" and data[8:16] == b"WEBPVP8X":
        return bool(data[20] & 0x02) if len(data) > 20 else False  # the animation flag
    if data[:3] == b"\xff\xd8\xff":
        return False
    if data[:8] == b"\x89PNG\r\n\x1a\n" and b"acTL" in data[:4096]:
        return True
    try:
        with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as img:
            return img.width * img.height > HEAVY_PIXELS
    except Exception:  # unreadable: decode_frames will say why, quickly
        return False


def frame_indices(img: Image.Image, limits: DecodeLimits) -> list[int]:
    """Indices of the frames to sample: evenly spaced, first and last included (see module docs)."""
    animated = img.format in ANIMATED_FORMATS and getattr(img, "is_animated", False)
    if limits.max_frames <= 1 or not animated:
        return [0]
    width, height = img.size
    budget = max(1, limits.max_total_pixels // max(1, width * height))
    n = min(int(getattr(img, "n_frames", 1)), budget)
    if n <= limits.max_frames:
        return list(range(n))
    step = (n - 1) / (limits.max_frames - 1)
    return sorted({round(i * step) for i in range(limits.max_frames)})


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB: transparency over white, 16/32-bit and float scaled down to 8 bits."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return Image.fromarray(_to_uint8(np.asarray(img), img.mode)).convert("RGB")
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    if not has_alpha:
        return img.convert("RGB")
    rgba = img.convert("RGBA")
    background = Image.new("RGB", img.size, WHITE)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


@dataclass(frozen=True)
class Letterbox:
    """Where a letterboxed image's content sits inside the S x S model input."""

    left: int
    top: int
    width: int
    height: int


def letterbox_geometry(width: int, height: int, size: int) -> Letterbox:
    """The content box `to_tensor` uses: longest side scaled to `size`, centred, the rest padding."""
    scale = size / max(width, height)
    new_w, new_h = max(1, min(size, round(width * scale))), max(1, min(size, round(height * scale)))
    return Letterbox(left=(size - new_w) // 2, top=(size - new_h) // 2, width=new_w, height=new_h)


def to_tensor(img: Image.Image, meta: CheckpointMeta) -> torch.Tensor:
    """Letterbox an RGB image into a normalised [3, S, S] float tensor (padding is exactly zero)."""
    return torch.from_numpy(_letterboxed(img, meta))


def _letterboxed(img: Image.Image, meta: CheckpointMeta) -> np.ndarray:
    size = meta.input_size
    box = letterbox_geometry(img.width, img.height, size)
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    pixels = resized(rgb, (box.width, box.height))
    table = _normalised(meta.mean, meta.std)
    out = np.zeros((3, size, size), dtype=np.float32)
    content = out[:, box.top : box.top + box.height, box.left : box.left + box.width]
    for channel in range(3):
        content[channel] = table[channel][pixels[:, :, channel]]
    return out


def resized(rgb: Image.Image, size: tuple[int, int], *, vectorised: bool | None = None) -> np.ndarray:
    """An RGB image resized to `size`, bilinear and antialiased: a uint8 [height, width, 3] array.

    Pillow filters every pixel unless it shrinks an axis 6x or more; then it first shrinks by whole
    factors (its reducing gap: close to the exact result, much faster). `vectorised` (None:
    VECTORISED_RESIZE): where Pillow would filter every pixel, torch does instead. It is within one
    level of Pillow (0.4% of the values of a 640x480 photo differ, by 1) and about three times as
    fast on AVX2: 0.34 against 1.1 ms for that photo, 1.2 against 3.5 ms at 1280x960, when resizing
    was half of preprocessing's time and took CPU from the model on a small machine. Where Pillow
    shrinks by whole factors first it stays: a 4000x3000 picture took 8.2 ms against torch's 13.6,
    and torch needs the whole picture as an array (36 MiB more for that one). Without AVX2 torch
    took 2.3 ms for the 640x480 photo, so Pillow does it all. Swapping Pillow for torch flipped
    none of 4,000 verdicts of the shipped model on dataset images (largest change in P(meme):
    0.004). torch's uint8 kernel runs serially, so it starts no thread team in the preprocessing
    threads (see classifier/inference.py). (`/tmp` scripts, one thread each.)
    """
    shrink = max(rgb.width / size[0], rgb.height / size[1])
    if not (VECTORISED_RESIZE if vectorised is None else vectorised) or shrink >= 2 * _REDUCING_GAP:
        return np.asarray(rgb.resize(size, _RESAMPLE, reducing_gap=_REDUCING_GAP))
    # [1, 3, H, W] over the [H, W, 3] pixels is channels-last, the layout torch's uint8 kernel runs on.
    pixels = torch.from_numpy(np.array(rgb)).permute(2, 0, 1)[None]
    out = torch.nn.functional.interpolate(pixels, size=size[::-1], mode="bilinear", antialias=True)
    return out[0].permute(1, 2, 0).numpy()


@functools.cache
def _normalised(mean: tuple[float, float, float], std: tuple[float, float, float]) -> np.ndarray:
    """[3, 256] float32: each channel's normalised value of every 8-bit level, computed exactly as
    (level / 255 - mean) / std in float32; a lookup is several times faster than the arithmetic."""
    levels = np.arange(256, dtype=np.float32) / np.float32(255.0)
    return np.stack([(levels - np.float32(m)) / np.float32(s) for m, s in zip(mean, std, strict=True)])


def scaled_to_fit(img: Image.Image, *, min_side: int, max_side: int) -> Image.Image:
    """`img` with its longest side brought into [min_side, max_side] (for pictures sent back to users)."""
    longest = max(img.size)
    target = min(max(longest, min_side), max_side)
    if target == longest:
        return img
    size = (max(1, round(img.width * target / longest)), max(1, round(img.height * target / longest)))
    resample = Image.Resampling.BICUBIC if target > longest else _RESAMPLE  # bicubic: smoother upscale
    return img.resize(size, resample, reducing_gap=_REDUCING_GAP)


def preprocess(data: bytes, meta: CheckpointMeta, limits: DecodeLimits) -> torch.Tensor:
    """Image bytes -> [F, 3, S, S] model input, F = sampled frames (1 for a still image)."""
    return preprocess_with_fingerprint(data, meta, limits)[0]


def preprocess_with_fingerprint(
    data: bytes, meta: CheckpointMeta, limits: DecodeLimits
) -> tuple[torch.Tensor, Fingerprint]:
    """preprocess(), plus the first frame's fingerprint from the same decode (a few ms more)."""
    frames = decode_frames(data, limits, draft_size=meta.input_size * 2)
    # NumPy all the way, then one zero-copy torch.from_numpy: a torch op here (even torch.stack of one
    # frame) starts an OpenMP thread team in this preprocessing thread, and on a small CPU that team
    # spins against the inference thread's: one ResNet101 call at 128 px on 2 cores went from 55 to
    # 110 ms.
    return torch.from_numpy(np.stack([_letterboxed(frame, meta) for frame in frames])), fingerprint(frames[0])


def fingerprint_of(data: bytes, *, limits: DecodeLimits) -> Fingerprint:
    """The fingerprint of the first frame, decoded as preprocess() decodes it for a 224 px model."""
    first_only = DecodeLimits(max_bytes=limits.max_bytes, max_pixels=limits.max_pixels, max_frames=1)
    return fingerprint(decode_frames(data, first_only, draft_size=448)[0])


def make_thumbnail(data: bytes, *, max_side: int, limits: DecodeLimits) -> tuple[bytes, int, int]:
    """RGB JPEG (quality 90) of the first frame, longest side <= max_side (never upscaled)."""
    if max_side < 1:
        raise ValueError(f"max_side must be positive, got {max_side}")
    first_only = DecodeLimits(max_bytes=limits.max_bytes, max_pixels=limits.max_pixels, max_frames=1)
    img = decode_frames(data, first_only, draft_size=max_side)[0]
    img.thumbnail((max_side, max_side))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue(), img.width, img.height


def _fitting(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """`size` scaled down (never up) so its longest side is `longest`, rounded up."""
    width, height = size
    scale = min(1.0, longest / max(width, height, 1))
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def _check_byte_size(data: bytes, limits: DecodeLimits) -> None:
    if not data:
        raise InvalidImage("That is an empty file, not an image.")
    if len(data) > limits.max_bytes:
        raise InvalidImage(
            f"That image is too large ({len(data) / MB:.1f} MB; the limit is {limits.max_bytes / MB:g} MB)."
        )


def _check_pixels(size: tuple[int, int], limits: DecodeLimits) -> None:
    pixels = size[0] * size[1]
    if pixels > limits.max_pixels:
        raise InvalidImage(_too_many_pixels(pixels, limits.max_pixels))
    if pixels == 0:
        raise InvalidImage(DAMAGED)


def _too_many_pixels(pixels: int | None, limit: int, *, frames: bool = False) -> str:
    count = f"{pixels / 1e6:.1f} megapixels; " if pixels else ""
    what = "Its frames have" if frames else "That image has"
    return f"{what} too many pixels ({count}the limit is {limit / 1e6:g})."


@contextlib.contextmanager
def _readable_image(limits: DecodeLimits) -> Iterator[None]:
    """Turn whatever Pillow raises on hostile or broken input into an InvalidImage."""
    try:
        yield
    except InvalidImage:
        raise
    except Image.DecompressionBombError as e:
        # Pillow's own, looser bomb limit fired inside Image.open, before our check could see the size.
        found = re.search(r"\((\d+) pixels\)", str(e))
        pixels = int(found.group(1)) if found else None
        raise InvalidImage(_too_many_pixels(pixels, limits.max_pixels)) from e
    except UnidentifiedImageError as e:
        raise InvalidImage(NOT_AN_IMAGE) from e
    except MemoryError as e:
        raise InvalidImage("That image is too big to open.") from e
    # Pillow's decoders signal broken data with many exception types (OSError for truncation,
    # SyntaxError, ValueError, struct.error, IndexError, ...); none of them must reach the caller raw.
    except Exception as e:
        raise InvalidImage(DAMAGED) from e


def _orientation_transpose(img: Image.Image) -> Image.Transpose | None:
    try:
        orientation = img.getexif().get(_EXIF_ORIENTATION)
    except Exception:  # a malformed EXIF block only costs us the orientation, not the image
        return None
    return _ORIENTATION_TRANSPOSE.get(orientation) if isinstance(orientation, int) else None


def _to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Scale integer/float pixel data to 0..255 by its nominal range instead of clipping it."""
    data = values.astype(np.float64)
    if mode.startswith("I;16"):
        return np.round(data / 257.0).astype(np.uint8)
    low, high = float(data.min(initial=0.0)), float(data.max(initial=0.0))
    if mode == "F" and low >= 0.0 and high <= 1.0:
        scaled = data * 255.0
    elif low >= 0.0 and high <= 255.0:
        scaled = data
    elif low >= 0.0 and high <= 65535.0:  # 16-bit data that Pillow widened to mode I
        scaled = data / 257.0
    else:
        scaled = (data - low) * (255.0 / max(high - low, 1e-12))
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)
