"""scripts/collect_wild_probe.py keeps large, distinct images outside excluded paths and lists them."""

from __future__ import annotations

import csv
import importlib.util
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wild() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "collect_wild_probe", REPO / "scripts" / "collect_wild_probe.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered first: dataclasses look their module up by name while the class is being built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def noise_png(path: Path, size: tuple[int, int], seed: int) -> Path:
    # Noise does not compress, so the file is as large as its pixel count says.
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = random.Random(seed).randbytes(size[0] * size[1] * 3)
    Image.frombytes("RGB", size, pixels).save(path)
    return path


def test_keeps_large_distinct_images_and_lists_them(wild: ModuleType, tmp_path: Path) -> None:
    docs, excluded = tmp_path / "docs", tmp_path / "docs" / "shared"
    screenshot = noise_png(docs / "tool" / "doc_img" / "settings.png", (400, 300), seed=1)
    (docs / "tool" / "doc_img" / "settings-copy.png").write_bytes(screenshot.read_bytes())
    noise_png(docs / "bench" / "scatter-plot.png", (300, 300), seed=2)
    noise_png(docs / "tool" / "tiny.png", (64, 64), seed=3)
    noise_png(docs / "tool" / "project-logo.png", (300, 300), seed=4)
    noise_png(docs / "icons" / "big.png", (300, 300), seed=5)
    noise_png(excluded / "meme.png", (300, 300), seed=6)
    out = tmp_path / "wild"

    kept = wild.collect([wild.Location("docs", docs)], out, excluded=[excluded])

    assert [k.file for k in kept] == ["docs-bench-scatter-plot.png", "docs-tool-settings-copy.png"]
    assert sorted(p.name for p in (out / "not_meme").iterdir()) == [k.file for k in kept]
    assert (out / "not_meme" / "docs-tool-settings-copy.png").read_bytes() == screenshot.read_bytes()
    assert not (out / "meme").exists()
    with (out / "sources.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["file"], r["kind"], r["width"], r["height"]) for r in rows] == [
        ("docs-bench-scatter-plot.png", "chart", "300", "300"),
        ("docs-tool-settings-copy.png", "screenshot", "400", "300"),
    ]
    assert rows[1]["original_path"] == (docs / "tool" / "doc_img" / "settings-copy.png").as_posix()
    # A second run replaces the first: same listing, no stale copies.
    assert [k.file for k in wild.collect([wild.Location("docs", docs)], out, excluded=[excluded])] == [
        k.file for k in kept
    ]


def test_caps_each_location_then_takes_turns(wild: ModuleType, tmp_path: Path) -> None:
    for i in range(3):
        noise_png(tmp_path / "a" / f"a{i}.png", (200, 200), seed=10 + i)
        noise_png(tmp_path / "b" / f"b{i}.png", (200, 200), seed=20 + i)
    locations = [wild.Location("a", tmp_path / "a"), wild.Location("b", tmp_path / "b")]
    rules = wild.Rules(per_location=2, cap=3)

    kept = wild.collect(locations, tmp_path / "wild", excluded=[], rules=rules)

    assert [k.file for k in kept] == ["a-a0.png", "a-a1.png", "b-b0.png"]


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/usr/share/doc/nodejs/contributing/doc_img/compare-boxplot.png", "chart"),
        ("/usr/share/doc/nodejs/contributing/doc_img/youtube-stream-share.png", "screenshot"),
        ("/usr/share/doc/python3-pip/html/topics/deps.png", "diagram"),
        ("/venv/site-packages/matplotlib/mpl-data/sample_data/grace_hopper.jpg", "photo"),
        ("/somewhere/picture.png", "other"),
    ],
)
def test_kind_is_guessed_from_the_path(wild: ModuleType, path: str, kind: str) -> None:
    assert wild.guess_kind(Path(path)) == kind
