"""Fixtures for classifier tests: one random-weight checkpoint per session and models loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.model import (
    CLASSES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    CheckpointMeta,
    InferenceModel,
    random_checkpoint,
)

# 64 px keeps ResNet101 on a 2-core CPU at a few milliseconds per image.
TEST_META = CheckpointMeta(CLASSES, 64, IMAGENET_MEAN, IMAGENET_STD, "test")


@pytest.fixture(scope="session")
def random_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight ResNet101 checkpoint at 64 px, written once per test session."""
    return random_checkpoint(
        tmp_path_factory.mktemp("random-ckpt"), input_size=64, model_version="random-test"
    )


@pytest.fixture(scope="session")
def random_model(random_ckpt: Path) -> InferenceModel:
    return InferenceModel.from_checkpoint(random_ckpt, device="cpu")


@pytest.fixture(scope="session")
def bright_model(bright_checkpoint: Path) -> InferenceModel:
    """The shared brightness checkpoint (tests/conftest.py): bright images are memes, dark ones not."""
    return InferenceModel.from_checkpoint(bright_checkpoint, device="cpu")
