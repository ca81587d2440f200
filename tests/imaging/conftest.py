"""Fixtures for the imaging features: a real face photo, the shared model files when present."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from classifier.explain import Explainer

DATA = Path(__file__).parent / "data"
# CI clones have no ../shared; tests that need the original Keras file skip there.
SHARED_MODELS = Path(__file__).resolve().parents[2].parent / "shared" / "models"
KERAS_MODEL = SHARED_MODELS / "emotion_model.hdf5"
FACE_PHOTO = DATA / "astronaut.jpg"  # public domain (NASA); see data/README.md


def encode(img: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


@pytest.fixture(scope="session")
def face_photo() -> Image.Image:
    with Image.open(FACE_PHOTO) as img:
        return img.convert("RGB")


@pytest.fixture(scope="session")
def explainer(bright_checkpoint: Path) -> Explainer:
    """Grad-CAM over the brightness ResNet101 (bright = meme): the heat must follow the light."""
    return Explainer.from_checkpoint(bright_checkpoint, device="cpu")


@pytest.fixture(scope="session")
def keras_model() -> Path:
    if not KERAS_MODEL.is_file():
        pytest.skip("../shared/models/emotion_model.hdf5 is not here (CI clone)")
    pytest.importorskip("h5py")
    return KERAS_MODEL
