"""One tiny fake source tree and one dataset built from it per session (a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.training import charts
from classifier.training.dataset import Manifest, build_dataset
from classifier.training.plan import SynthCounts
from tests.training.fakesource import make_source

SMALL = SynthCounts(
    macros_per_memegen=2,
    macros_per_blank=1,
    photo_macros=6,
    caption_bars=10,
    multi_panels=6,
    charts=3 if charts.available() else 0,  # matplotlib is the optional `train` extra
    documents=6,
    posters=6,
    webpages=4,
    app_screens=3,
)


def build_small(source: Path, out: Path, *, seed: int = 0) -> Manifest:
    # chromium=None: tests never start a browser; web pages are Pillow mock-ups.
    return build_dataset(source, out, seed=seed, counts=SMALL, chromium=None)


@pytest.fixture(scope="session")
def fake_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_source(tmp_path_factory.mktemp("datasets"))


@pytest.fixture(scope="session")
def built(fake_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    return build_small(fake_source, tmp_path_factory.mktemp("dataset"))
