"""Training-time augmentation that keeps a meme a meme, and the letterbox it ends in.

What it never does: flip (mirrored captions are not what people post), crop (a caption cut off the top
or bottom is a different picture), or treat the classes differently (every image goes through the
same random degradations, so resolution and compression cannot tell a meme from a non-meme: the
dataset's Memotion memes are all 128 px JPEGs). The letterbox is the one classifier.preprocess uses,
except that the content may be a little smaller and sit anywhere inside the square; with scale 1 and
centred it is exactly `preprocess.to_tensor`.
"""

from __future__ import annotations

import io
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from PIL import Image, ImageEnhance

from classifier.model import CheckpointMeta
from classifier.preprocess import letterbox_geometry, resized

# As in classifier.preprocess, for the degradation (the letterbox uses its resize itself).
_RESAMPLE = Image.Resampling.BILINEAR
_REDUCING_GAP = 3.0


@dataclass(frozen=True)
class Augmentation:
    content_scale: tuple[float, float] = (0.8, 1.0)  # longest side, as a share of the input size
    degrade_chance: float = 0.5  # downscale and back up: every class alike
    degrade_scale: tuple[float, float] = (0.3, 0.9)
    jpeg_chance: float = 0.5
    jpeg_quality: tuple[int, int] = (25, 95)
    colour_chance: float = 0.8
    colour: float = 0.2  # brightness, contrast and saturation factors in [1 - colour, 1 + colour]
    gray_chance: float = 0.05
    # Low resolution, balanced between the classes: every Memotion meme is a 128 px picture, so at an
    # input above 128 px "blurry" would mean "meme". Pictures from other sources are brought down to a
    # longest side in `lowres_side` (and back up) often enough that each label has the same share of
    # low-resolution pictures, `lowres_share` at least (see `lowres_chances`).
    lowres_sources: tuple[str, ...] = ()
    lowres_side: tuple[int, int] = (64, 128)
    lowres_share: float = 0.0


def lowres_chances(aug: Augmentation, sources_by_label: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """Per label, the chance that a picture not from `lowres_sources` is brought to low resolution, so
    that natively low-resolution pictures plus degraded ones are the same share of every label."""
    native = {
        label: sum(s in aug.lowres_sources for s in sources) / max(1, len(sources))
        for label, sources in sources_by_label.items()
    }
    top = max(native.values(), default=0.0)
    target = top + (1.0 - top) * aug.lowres_share
    return {label: (target - n) / (1.0 - n) if n < 1.0 else 0.0 for label, n in native.items()}


def to_low_resolution(img: Image.Image, rng: random.Random, side: tuple[int, int]) -> Image.Image:
    """The picture as if it had been a `side`-px one (longest side), at its own size again."""
    factor = rng.uniform(*side) / max(img.width, img.height)
    if factor >= 1.0:
        return img
    small = (max(1, round(img.width * factor)), max(1, round(img.height * factor)))
    return img.resize(small, _RESAMPLE, reducing_gap=_REDUCING_GAP).resize(img.size, _RESAMPLE)


def augment(
    img: Image.Image, rng: random.Random, aug: Augmentation, *, lowres_chance: float = 0.0
) -> Image.Image:
    """An RGB image with random degradation, compression and colour changes (never flipped)."""
    out = img
    if rng.random() < lowres_chance:
        out = to_low_resolution(out, rng, aug.lowres_side)
    elif rng.random() < aug.degrade_chance:
        factor = rng.uniform(*aug.degrade_scale)
        small = (max(1, round(out.width * factor)), max(1, round(out.height * factor)))
        out = out.resize(small, _RESAMPLE, reducing_gap=_REDUCING_GAP).resize(out.size, _RESAMPLE)
    if rng.random() < aug.jpeg_chance:
        buffer = io.BytesIO()
        out.save(buffer, "JPEG", quality=rng.randint(*aug.jpeg_quality))
        out = Image.open(buffer).convert("RGB")
    if rng.random() < aug.colour_chance:
        for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
            out = enhancer(out).enhance(rng.uniform(1 - aug.colour, 1 + aug.colour))
    if rng.random() < aug.gray_chance:
        out = out.convert("L").convert("RGB")
    return out


def random_letterbox(
    img: Image.Image, meta: CheckpointMeta, rng: random.Random, aug: Augmentation
) -> torch.Tensor:
    """Letterbox with the content scaled by a random share and placed at a random spot (fully inside)."""
    return letterbox(img, meta, scale=rng.uniform(*aug.content_scale), fx=rng.random(), fy=rng.random())


def letterbox(
    img: Image.Image, meta: CheckpointMeta, *, scale: float = 1.0, fx: float = 0.5, fy: float = 0.5
) -> torch.Tensor:
    """A normalised [3, S, S] tensor: the image's longest side scaled to `scale * S`, placed at
    (fx, fy) of the free room (0.5, 0.5 = centred), the rest zero (the mean colour after normalising)."""
    size = meta.input_size
    box = letterbox_geometry(img.width, img.height, max(1, round(size * min(scale, 1.0))))
    left, top = int((size - box.width) * fx), int((size - box.height) * fy)
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    pixels = torch.from_numpy(resized(rgb, (box.width, box.height))).permute(2, 0, 1).float().div_(255.0)
    mean = torch.tensor(meta.mean).view(3, 1, 1)
    std = torch.tensor(meta.std).view(3, 1, 1)
    out = torch.zeros(3, size, size)
    out[:, top : top + box.height, left : left + box.width] = (pixels - mean) / std
    return out
