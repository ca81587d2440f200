"""/memeify's pipeline on real photos: face, expression, caption drawn; the bad cases answer clearly."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot.captions import CAPTIONS, pick_caption
from bot.errors import UserError
from bot.meme_text import MAX_BLOCK_SHARE, draw_caption, fit_text
from bot.memeify import MIN_FACE_PX, NO_FACE, Memeifier
from classifier import InvalidImage
from classifier.faces import FaceDetector
from tests.imaging.conftest import SHARED_MODELS, encode

PEOPLE = SHARED_MODELS.parent / "datasets" / "people"


@pytest.fixture(scope="module")
def memeifier() -> Memeifier:
    return Memeifier.load()


def white_text_share(img: Image.Image, rows: slice) -> float:
    band = np.asarray(img.convert("RGB"))[rows]
    return float((band == 255).all(axis=-1).mean())


def test_face_photo_becomes_a_captioned_meme(memeifier: Memeifier, face_photo: Image.Image) -> None:
    meme = memeifier.make(encode(face_photo, "JPEG"), random.Random(1))
    assert meme.expression.label == "happy" and meme.faces == 1
    assert meme.caption in CAPTIONS["happy"]
    assert meme.summary().startswith("😄 Looks happy (")
    assert max(meme.image.size) == 512  # small photos are enlarged so the text stays readable
    height = meme.image.height
    plain = face_photo.resize(meme.image.size)
    # Pure white pixels (the caption fill) in the top and bottom bands, which the photo has none of.
    assert white_text_share(plain, slice(0, height // 4)) < 0.001
    assert white_text_share(meme.image, slice(0, height // 4)) > 0.03
    assert white_text_share(meme.image, slice(3 * height // 4, height)) > 0.03
    with Image.open(io.BytesIO(meme.encode())) as png:
        assert png.format == "PNG" and png.size == meme.image.size


def test_same_seed_same_meme(memeifier: Memeifier, face_photo: Image.Image) -> None:
    data = encode(face_photo, "JPEG")
    first, again = memeifier.make(data, random.Random(7)), memeifier.make(data, random.Random(7))
    assert first.caption == again.caption and first.encode() == again.encode()
    captions = {pick_caption("happy", random.Random(seed)) for seed in range(12)}
    assert len(captions) > 1  # several captions per expression, picked at random


def test_several_faces_use_the_largest_and_say_so(memeifier: Memeifier, face_photo: Image.Image) -> None:
    group = Image.new("RGB", (400, 240))
    group.paste(face_photo, (0, 0))
    group.paste(face_photo.resize((160, 160)), (240, 40))
    faces = FaceDetector().find(group)
    assert len(faces) == 2 and faces[0].x < 200  # the bigger face is the left one
    meme = memeifier.make(encode(group), random.Random(0))
    assert meme.faces == 2
    assert "I found 2 faces and used the largest." in meme.summary()


def test_no_face_answers_clearly(memeifier: Memeifier) -> None:
    with pytest.raises(UserError) as caught:
        memeifier.make(encode(Image.new("RGB", (300, 200), (90, 140, 200))), random.Random(0))
    assert str(caught.value) == NO_FACE
    assert str(caught.value).startswith("I couldn't find a face in that photo.")


def test_tiny_face_answers_clearly(memeifier: Memeifier, face_photo: Image.Image) -> None:
    small = face_photo.resize((110, 110), Image.Resampling.LANCZOS)  # the face is ~34 px across
    faces = FaceDetector().find(small)
    assert faces and faces[0].side < MIN_FACE_PX
    with pytest.raises(UserError, match=r"too small for me to read \(\d+ px across; I need at least 40\)"):
        memeifier.make(encode(small), random.Random(0))


@pytest.mark.parametrize("data", [b"", b"GIF89a broken", b"\xff\xd8\xff\xe0 half a jpeg"])
def test_corrupt_files_are_refused(memeifier: Memeifier, data: bytes) -> None:
    with pytest.raises(InvalidImage):
        memeifier.make(data, random.Random(0))


def test_unknown_expression_falls_back_to_neutral_captions() -> None:
    assert pick_caption("bewildered", random.Random(0)) in CAPTIONS["neutral"]
    assert all(len(captions) >= 3 for captions in CAPTIONS.values())


def test_long_captions_wrap_and_shrink_to_fit() -> None:
    text = "WHEN THEY ASK IF I READ THE TERMS AND CONDITIONS BEFORE CLICKING I AGREE"
    fitted = fit_text(text, 300, 400)
    assert len(fitted.lines) > 1
    assert all(fitted.font.getlength(line) <= 300 for line in fitted.lines)
    assert fitted.height <= 400 * MAX_BLOCK_SHARE
    assert " ".join(fitted.lines) == text


def test_caption_only_on_top_leaves_the_bottom_alone() -> None:
    img = Image.new("RGB", (400, 300), (40, 90, 40))
    out = draw_caption(img, "top text", "")
    assert white_text_share(out, slice(0, 75)) > 0.02
    assert white_text_share(out, slice(225, 300)) == 0.0
    assert img.getpixel((200, 20)) == (40, 90, 40)  # the input is not drawn on


@pytest.mark.skipif(not PEOPLE.is_dir(), reason="../shared/datasets/people is not here (CI clone)")
def test_real_dataset_portraits_become_memes(memeifier: Memeifier) -> None:
    # Research photos: used here when present, never shipped.
    made = 0
    for path in sorted(PEOPLE.glob("fmask_n_*.jpg"))[:6]:
        try:
            meme = memeifier.make(Path(path).read_bytes(), random.Random(0))
        except UserError:
            continue  # no (or a tiny) frontal face in this one
        assert meme.caption in CAPTIONS[meme.expression.label]
        made += 1
    assert made >= 1
