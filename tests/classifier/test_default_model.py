"""The model that ships in classifier/models/default: small, int8, documented, and what a fresh
`memebot run` / `memebot classify` uses with no configuration at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import DEFAULT_CHECKPOINT
from classifier.model import load_checkpoint
from tests.modelfactory import meme_jpeg

ROOT = Path(__file__).resolve().parents[2]
ASTRONAUT = ROOT / "tests" / "imaging" / "data" / "astronaut.jpg"


def test_the_shipped_model_is_an_int8_resnet101_under_50_mb() -> None:
    weights = DEFAULT_CHECKPOINT / "model.safetensors"
    assert weights.stat().st_size < 50_000_000
    raw = json.loads((DEFAULT_CHECKPOINT / "model.json").read_text(encoding="utf-8"))
    assert raw["weights"] == "int8"
    model, meta = load_checkpoint(DEFAULT_CHECKPOINT)
    assert (meta.arch, meta.classes) == ("resnet101", ("meme", "not_meme"))
    assert sum(p.numel() for p in model.parameters()) > 40_000_000  # a ResNet101, not a stand-in
    training = meta.extra["training"]
    assert training["finished"] and training["wall_seconds"] > 0
    assert meta.extra["quantization"]["agreement"]["agreement"] >= 0.995
    assert meta.extra["hardware"]["name"]  # the model card says what trained it


def test_memebot_classify_uses_it_with_no_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", "--json", str(ASTRONAUT)]) == 0
    verdict = json.loads(capsys.readouterr().out)
    _model, meta = load_checkpoint(DEFAULT_CHECKPOINT)
    assert verdict["label"] in ("meme", "not_meme") and 0.5 <= verdict["confidence"] <= 1.0
    assert verdict["model_version"] == meta.model_version


def test_a_fresh_memebot_run_answers_with_it(tmp_path: Path) -> None:
    image = tmp_path / "posted.jpg"
    image.write_bytes(meme_jpeg())
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMEBOT_")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bot.py")],
        input=f"{image}\n/quit\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,  # the default database goes to ./data: here, not into the clone
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "Meme (" in result.stdout or "Not a meme (" in result.stdout
    assert (tmp_path / "data").is_dir()
