"""Checkpoints (safetensors only, never pickle), device selection and batched inference."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import pytest
import torch

from classifier.errors import CheckpointError
from classifier.model import (
    CLASSES,
    InferenceModel,
    build_model,
    cpu_has_native_bf16,
    fold_batch_norms,
    load_checkpoint,
    resolve_precision,
    save_checkpoint,
    select_device,
)


def images(n: int = 2, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def link_weights(source: Path, target_dir: Path) -> Path:
    """A checkpoint dir sharing `source`'s 170 MB weights file; its JSON is ours to edit."""
    target_dir.mkdir()
    (target_dir / "model.safetensors").symlink_to(source / "model.safetensors")
    meta_path = target_dir / "model.json"
    meta_path.write_text((source / "model.json").read_text())
    return meta_path


def edit_json(path: Path, **changes: object) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def test_random_checkpoint_layout_and_metadata(random_ckpt: Path) -> None:
    assert random_ckpt.name == "model.safetensors"
    raw = json.loads(random_ckpt.with_suffix(".json").read_text())
    assert raw["format"] == "memebot-checkpoint" and raw["weights"] == "float32"
    assert raw["classes"] == list(CLASSES) and raw["input_size"] == 64 and raw["arch"] == "resnet101"
    assert raw["model_version"] == "random-test"


def test_round_trip_gives_identical_outputs(random_ckpt: Path, tmp_path: Path) -> None:
    module, meta = load_checkpoint(random_ckpt)
    weights = save_checkpoint(module, meta, tmp_path / "copy.safetensors")
    assert weights == tmp_path / "copy.safetensors" and (tmp_path / "copy.json").is_file()
    again, meta_again = load_checkpoint(weights)
    assert meta_again == meta
    x = images()
    with torch.inference_mode():
        assert torch.equal(module(x), again(x))


def test_save_into_a_directory(random_model: InferenceModel, tmp_path: Path) -> None:
    meta = dataclasses.replace(random_model.meta, arch="resnet18", extra={"val_accuracy": 0.5})
    weights = save_checkpoint(build_model("resnet18"), meta, tmp_path / "new" / "ckpt")
    assert weights == tmp_path / "new" / "ckpt" / "model.safetensors"
    assert sorted(p.name for p in weights.parent.iterdir()) == ["model.json", "model.safetensors"]
    assert load_checkpoint(tmp_path / "new" / "ckpt")[1] == meta


def test_load_accepts_the_directory_or_the_file(random_ckpt: Path) -> None:
    _, from_dir = load_checkpoint(random_ckpt.parent)
    _, from_file = load_checkpoint(random_ckpt)
    assert from_dir == from_file


def test_predict_returns_cpu_float_probabilities(random_model: InferenceModel) -> None:
    probs = random_model.predict(images(3))
    assert probs.shape == (3, 2) and probs.dtype == torch.float32 and probs.device.type == "cpu"
    assert torch.allclose(probs.sum(dim=1), torch.ones(3))
    random_model.warmup((1, 2))


def test_predict_rejects_the_wrong_shape(random_model: InferenceModel) -> None:
    with pytest.raises(ValueError, match=r"\[N, 3, S, S\]"):
        random_model.predict(torch.zeros(3, 64, 64))


def test_loading_never_calls_torch_load(random_ckpt: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("torch.load must never be called")

    monkeypatch.setattr(torch, "load", forbidden)
    load_checkpoint(random_ckpt)


def test_pt_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save(build_model("resnet18").state_dict(), path)
    with pytest.raises(CheckpointError, match="refusing to unpickle"):
        load_checkpoint(path)


@pytest.mark.parametrize("writer", ["torch.save", "pickle"])
def test_pickles_named_safetensors_are_refused(tmp_path: Path, writer: str) -> None:
    path = tmp_path / "model.safetensors"
    if writer == "torch.save":
        torch.save({"fc.weight": torch.zeros(2, 2)}, path)
    else:
        path.write_bytes(pickle.dumps({"fc.weight": [0.0]}, protocol=4))
    path.with_suffix(".json").write_text("{}")
    with pytest.raises(CheckpointError, match="refusing to unpickle"):
        load_checkpoint(path)


def test_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nowhere")


def test_missing_metadata(random_ckpt: Path, tmp_path: Path) -> None:
    link_weights(random_ckpt.parent, tmp_path / "ckpt").unlink()
    with pytest.raises(CheckpointError, match="metadata not found"):
        load_checkpoint(tmp_path / "ckpt")


def test_corrupt_weights(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes((40).to_bytes(8, "little") + b'{"a": {"dtype": "F32", garbage')
    path.with_suffix(".json").write_text("{}")
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_weights_that_do_not_fit_the_metadata(random_ckpt: Path, tmp_path: Path) -> None:
    meta_path = link_weights(random_ckpt.parent, tmp_path / "ckpt")
    edit_json(meta_path, classes=["meme", "not_meme", "cat"])
    with pytest.raises(CheckpointError, match=r"does not match.*fc\.weight"):
        load_checkpoint(tmp_path / "ckpt")


def test_wrong_arch_keys_are_reported(random_ckpt: Path, tmp_path: Path) -> None:
    meta_path = link_weights(random_ckpt.parent, tmp_path / "ckpt")
    edit_json(meta_path, arch="resnet50")
    with pytest.raises(CheckpointError, match=r"unexpected"):
        load_checkpoint(tmp_path / "ckpt")


def test_unknown_weight_format_is_refused_clearly(random_ckpt: Path, tmp_path: Path) -> None:
    meta_path = link_weights(random_ckpt.parent, tmp_path / "ckpt")
    edit_json(meta_path, weights="int4")
    with pytest.raises(CheckpointError, match="'int4'"):
        load_checkpoint(tmp_path / "ckpt")


def test_bad_metadata(random_ckpt: Path, tmp_path: Path) -> None:
    meta_path = link_weights(random_ckpt.parent, tmp_path / "ckpt")
    edit_json(meta_path, input_size="big")
    with pytest.raises(CheckpointError, match="input_size"):
        load_checkpoint(tmp_path / "ckpt")
    meta_path.write_text("not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(tmp_path / "ckpt")


def test_select_device() -> None:
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("banana", "tpu", "cuda:99"):
        with pytest.raises(ValueError, match="device"):
            select_device(bad)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_select_cuda_without_cuda_explains() -> None:
    with pytest.raises(ValueError, match="CUDA is not available"):
        select_device("cuda")


def cpuinfo_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


@pytest.mark.skipif(not Path("/proc/cpuinfo").exists(), reason="reads the CPU's flags from /proc/cpuinfo")
def test_native_bf16_is_read_from_the_cpu() -> None:
    native = bool(cpuinfo_flags() & {"avx512_bf16", "amx_tile", "amx_bf16"})
    assert cpu_has_native_bf16() == native


def test_precision(random_model: InferenceModel) -> None:
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == (torch.bfloat16 if cpu_has_native_bf16() else torch.float32)
    assert random_model.dtype == resolve_precision("auto", cpu)
    assert (
        resolve_precision("fp32", cpu) == torch.float32 and resolve_precision("bf16", cpu) == torch.bfloat16
    )
    with pytest.raises(ValueError, match="precision"):
        InferenceModel(build_model("resnet18"), random_model.meta, torch.device("cpu"), precision="fp8")


def test_build_model_has_two_outputs() -> None:
    model = build_model("resnet18", 2).eval()
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 2)
    with pytest.raises(ValueError, match="unknown arch"):
        build_model("vgg16")


@pytest.mark.parametrize("arch", ["resnet18", "resnet50"])  # basic blocks and bottlenecks
def test_folding_batch_norms_keeps_the_function(arch: str) -> None:
    model = build_model(arch, 2).eval()
    generator = torch.Generator().manual_seed(1)
    for norm in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):  # not the identity
        norm.running_mean.normal_(0, 0.5, generator=generator)
        norm.running_var.uniform_(0.5, 2.0, generator=generator)
        norm.weight.data.uniform_(0.5, 1.5, generator=generator)
        norm.bias.data.normal_(0, 0.2, generator=generator)
    x = images(2, 64)
    with torch.inference_mode():
        expected = model(x)
        folded = fold_batch_norms(model)
        assert torch.allclose(folded(x), expected, rtol=1e-4, atol=1e-4)
    assert folded is model and not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
