"""One size-and-degradation rule for every stored image, whatever its class, so that resolution,
squareness, JPEG artefacts and colour mode cannot tell a meme from a non-meme.

Why: every Memotion meme is a 128x128 square (non-square originals were squashed), while the
non-memes are 240-640 px and keep their aspect ratio. So every image is resized to the same
longest side (128 by default, Memotion's own size: nothing gets upscaled, nothing is sharper than
a meme), a shared fraction of images of every class is squashed to a square and, symmetrically,
a shared fraction of square images (Memotion's included) is stretched to a common photo aspect
ratio; then the same random blur (downscale and back up), grayscale chance and JPEG quality range
apply to all. Resampling is bilinear with a reducing gap of 3, as in classifier.preprocess.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

from PIL import Image

from classifier.preprocess import to_rgb

_RESAMPLE = Image.Resampling.BILINEAR
_REDUCING_GAP = 3.0
# Aspect ratios (width / height) of ordinary pictures, given to square images in the "keep aspect"
# branch; 1.0 is included because some pictures really are square.
COMMON_ASPECTS = (4 / 3, 3 / 4, 3 / 2, 2 / 3, 16 / 9, 5 / 4, 4 / 5, 1.0)


@dataclass(frozen=True)
class SizeRule:
    """How images are stored; recorded in summary.json so training can match it."""

    image_size: int = 128
    square_fraction: float = 0.5
    jpeg_quality: tuple[int, int] = (60, 95)
    blur_chance: float = 0.35
    blur_scale: tuple[float, float] = (0.5, 0.85)
    gray_chance: float = 0.03

    def target_size(self, size: tuple[int, int], rng: random.Random) -> tuple[int, int]:
        """(width, height) with the longest side = image_size, squashed to square or not."""
        s = self.image_size
        if rng.random() < self.square_fraction:
            return s, s
        width, height = size
        aspect = width / max(1, height)
        if abs(aspect - 1.0) < 0.02:  # square sources get an ordinary aspect ratio, like the rest
            aspect = rng.choice(COMMON_ASPECTS)
        if aspect >= 1.0:
            return s, max(1, round(s / aspect))
        return max(1, round(s * aspect)), s


def normalise(img: Image.Image, rule: SizeRule, rng: random.Random) -> Image.Image:
    """RGB, resized by the rule, randomly blurred or grayed; the JPEG step is in `encode_jpeg`."""
    rgb = to_rgb(img)
    out = rgb.resize(rule.target_size(rgb.size, rng), _RESAMPLE, reducing_gap=_REDUCING_GAP)
    if rng.random() < rule.blur_chance:
        factor = rng.uniform(*rule.blur_scale)
        small = (max(1, round(out.width * factor)), max(1, round(out.height * factor)))
        out = out.resize(small, _RESAMPLE).resize(out.size, _RESAMPLE)
    if rng.random() < rule.gray_chance:
        out = out.convert("L").convert("RGB")
    return out


def encode_jpeg(img: Image.Image, rule: SizeRule, rng: random.Random) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=rng.randint(*rule.jpeg_quality))
    return buffer.getvalue()


def item_rng(seed: int, key: str, purpose: str = "") -> random.Random:
    """A private RNG per item and purpose, so results never depend on processing order or workers."""
    return random.Random(f"{seed}:{purpose}:{key}")
