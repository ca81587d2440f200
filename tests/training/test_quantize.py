"""int8 checkpoints: the weight format, the round trip through load_checkpoint, size, and agreement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from bot.cli import main
from classifier.errors import CheckpointError
from classifier.int8 import dequantise_int8, quantise_state_dict, quantise_tensor
from classifier.model import (
    CLASSES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    CheckpointMeta,
    build_model,
    load_checkpoint,
    save_checkpoint,
)
from classifier.training.quantize import save_int8_checkpoint
from tests.training.tinydata import make_tiny_data


def test_per_channel_rounding_error_is_at_most_half_a_step() -> None:
    torch.manual_seed(0)
    weight = torch.randn(8, 3, 3, 3) * torch.logspace(-3, 0, 8).view(8, 1, 1, 1)  # very different channels
    weight[5] = 0.0  # a zeroed channel (as in a switched-off residual branch) stays exactly zero
    q, scale = quantise_tensor(weight)
    assert q.dtype == torch.int8 and scale.shape == (8,) and int(q.abs().max()) == 127
    back = q.float() * scale.view(8, 1, 1, 1)
    assert torch.all((back - weight).abs() <= scale.view(8, 1, 1, 1) / 2 + 1e-7)
    assert torch.count_nonzero(back[5]) == 0


def test_only_conv_and_linear_weights_are_quantised() -> None:
    state = build_model("resnet18").state_dict()
    stored = quantise_state_dict(state)
    assert stored["conv1.weight"].dtype == torch.int8 and stored["fc.weight"].dtype == torch.int8
    assert stored["bn1.weight"].dtype == torch.float32 and stored["fc.bias"].dtype == torch.float32
    assert stored["bn1.num_batches_tracked"].dtype == torch.int64
    decoded = dequantise_int8(stored)
    assert decoded.keys() == state.keys()
    assert torch.allclose(decoded["layer1.0.conv1.weight"], state["layer1.0.conv1.weight"], atol=2e-3)


def test_int8_checkpoint_round_trip_is_four_times_smaller(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = build_model("resnet18").eval()
    meta = CheckpointMeta(CLASSES, 32, IMAGENET_MEAN, IMAGENET_STD, "r18-test", "resnet18", {"note": "x"})
    float_path = save_checkpoint(model, meta, tmp_path / "float")
    int8_path = save_int8_checkpoint(model, meta, tmp_path / "int8")
    assert float_path.stat().st_size / int8_path.stat().st_size > 3.8
    loaded, loaded_meta = load_checkpoint(tmp_path / "int8")
    assert loaded_meta == meta and json.loads((tmp_path / "int8/model.json").read_text())["weights"] == "int8"
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=0.05, rtol=0.05)


def test_mislabelled_int8_weights_are_refused(tmp_path: Path) -> None:
    meta = CheckpointMeta(CLASSES, 32, IMAGENET_MEAN, IMAGENET_STD, "v", "resnet18")
    save_checkpoint(build_model("resnet18"), meta, tmp_path)
    meta_path = tmp_path / "model.json"
    meta_path.write_text(meta_path.read_text().replace('"float32"', '"int8"'))
    with pytest.raises(CheckpointError, match="no int8 tensors"):
        load_checkpoint(tmp_path)


def test_quantize_command_reports_size_and_verdict_agreement(
    bright_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tiny = make_tiny_data(tmp_path / "data")
    out = tmp_path / "int8"
    argv = ["quantize", "--checkpoint", str(bright_checkpoint), "--out", str(out)]
    assert main([*argv, "--check-data", str(tiny.manifest), "--split", "all", "--workers", "0"]) == 0
    printed = capsys.readouterr().out
    assert "verdicts agree with the float32 model on 100.00% of 16 all images" in printed
    report = json.loads((out / "quantize.json").read_text())
    assert report["ratio"] > 3.9 and report["agreement"]["agreement"] == 1.0
    _model, meta = load_checkpoint(out)
    assert meta.model_version == "brightness-test" and meta.extra["quantization"]["agreement"]["images"] == 16
    assert meta.extra["quantization"]["source_model_version"] == "brightness-test"
