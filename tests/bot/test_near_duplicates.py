"""A moderator's label covers reposts of the image, never another caption on the same template."""

from __future__ import annotations

import io

from PIL import Image

from bot.meme_text import draw_caption
from bot.moderation.labels import near_duplicate
from classifier import DecodeLimits, make_thumbnail
from classifier.hashing import Fingerprint
from classifier.preprocess import fingerprint_of
from tests.imagefactory import encode, noisy_photo_jpeg

LIMITS = DecodeLimits()


def template(seed: int = 3) -> Image.Image:
    return Image.open(io.BytesIO(noisy_photo_jpeg(480, 360, seed=seed))).convert("RGB")


def looks(img: Image.Image, **save: object) -> Fingerprint:
    return fingerprint_of(encode(img, "JPEG", **save), limits=LIMITS)


def stored_copy(img: Image.Image) -> Fingerprint:
    copy, _, _ = make_thumbnail(encode(img, "JPEG", quality=90), max_side=512, limits=LIMITS)
    return fingerprint_of(copy, limits=LIMITS)


def test_reposts_are_near_duplicates_of_the_labelled_copy() -> None:
    meme = draw_caption(template(), "ONE DOES NOT SIMPLY", "WRITE TESTS FIRST")
    label = stored_copy(meme)
    half = meme.resize((meme.width // 2, meme.height // 2), Image.Resampling.LANCZOS)
    for repost in (looks(meme, quality=40), looks(half, quality=75), looks(meme.convert("L").convert("RGB"))):
        assert near_duplicate(label, repost)


def test_another_caption_on_the_same_template_is_a_different_image() -> None:
    base = template()
    label = stored_copy(draw_caption(base, "ONE DOES NOT SIMPLY", "WRITE TESTS FIRST"))
    other = looks(draw_caption(base, "ONE DOES NOT SIMPLY", "SHIP ON A FRIDAY"), quality=85)
    assert not near_duplicate(label, other)
    assert (label.phash ^ other.phash).bit_count() <= 12  # a pHash alone would have matched it


def test_unrelated_pictures_are_not_near_duplicates() -> None:
    assert not near_duplicate(stored_copy(template(1)), looks(template(2)))
