"""Where training starts: random weights, torchvision's ImageNet weights, or a local safetensors file.

A local file is either a memebot checkpoint (fine-tuning the shipped model on corrections, say) or a
torchvision-compatible ResNet state_dict in safetensors; its 1000-class ImageNet head, if any, is
replaced. Pickled files (.pt, .pth, ...) are refused, as everywhere in memebot: they can run code.
"""

from __future__ import annotations

import json
from pathlib import Path

import safetensors
import safetensors.torch
import torch
import torchvision
from torch import nn

from classifier.errors import CheckpointError
from classifier.model import CHECKPOINT_FORMAT, CLASSES, build_model, checkpoint_paths, load_checkpoint


class InitError(ValueError):
    """The starting weights asked for cannot be had."""


def initial_model(init: str, arch: str) -> nn.Module:
    """A ResNet of `arch` with a 2-class head, initialised as `init` says (scratch, imagenet or a path)."""
    if init == "scratch":
        return zero_init_residuals(build_model(arch, len(CLASSES)))
    if init == "imagenet":
        return imagenet_model(arch)
    return _from_file(Path(init), arch)


def zero_init_residuals(model: nn.Module) -> nn.Module:
    """Zero each residual block's last batch-norm scale, so every block starts as the identity: a deep
    ResNet trained from scratch then starts as a shallow one and trains faster and more stably
    (Goyal et al. 2017, "Accurate, Large Minibatch SGD"; torchvision's `zero_init_residual`)."""
    for block in model.modules():
        if isinstance(block, torchvision.models.resnet.Bottleneck):
            nn.init.zeros_(block.bn3.weight)
        elif isinstance(block, torchvision.models.resnet.BasicBlock):
            nn.init.zeros_(block.bn2.weight)
    return model


def imagenet_model(arch: str) -> nn.Module:
    """torchvision's ImageNet weights (IMAGENET1K_V2 where the arch has them): downloaded once into the
    torch hub cache, so this needs the internet the first time."""
    weights_enum = torchvision.models.get_model_weights(arch)
    weights = getattr(weights_enum, "IMAGENET1K_V2", None) or weights_enum.IMAGENET1K_V1
    try:
        state = weights.get_state_dict(progress=False, check_hash=True)
    except (OSError, RuntimeError) as error:  # URLError is an OSError
        raise InitError(
            f"could not get torchvision's {arch} {weights.name} ImageNet weights ({error}). "
            f"--init imagenet downloads them into {torch.hub.get_dir()} and needs the internet once; "
            "offline, train with --init scratch, or --init FILE.safetensors with a local copy"
        ) from error
    model: torchvision.models.ResNet = getattr(torchvision.models, arch)(weights=None)
    model.load_state_dict(state)
    model.fc = nn.Linear(model.fc.in_features, len(CLASSES))
    return model


def _from_file(path: Path, arch: str) -> nn.Module:
    if not path.exists():
        raise InitError(f"--init {path}: no such file; use scratch, imagenet or a .safetensors file")
    try:
        weights_path, meta_path = checkpoint_paths(path)  # refuses pickle suffixes
    except CheckpointError as error:
        raise InitError(str(error)) from error
    if _is_memebot_checkpoint(meta_path):
        model, meta = load_checkpoint(path)
        if meta.arch != arch or tuple(meta.classes) != CLASSES:
            raise InitError(
                f"{path} is a {meta.arch} with classes {meta.classes}; training a {arch} on {CLASSES}"
            )
        return model.train()
    try:
        state = safetensors.torch.load_file(str(weights_path), device="cpu")
    except (safetensors.SafetensorError, OSError, ValueError) as error:
        raise InitError(f"{weights_path}: not a safetensors file (pickles are refused): {error}") from error
    return _with_state(state, arch, weights_path)


def _is_memebot_checkpoint(meta_path: Path) -> bool:
    try:
        return json.loads(meta_path.read_text(encoding="utf-8")).get("format") == CHECKPOINT_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _with_state(state: dict[str, torch.Tensor], arch: str, path: Path) -> nn.Module:
    model = build_model(arch, len(CLASSES))
    expected = model.state_dict()
    # A different head (ImageNet's 1000 classes) is dropped; the body must match exactly.
    head = {
        k
        for k, v in state.items()
        if k.startswith("fc.") and (k not in expected or v.shape != expected[k].shape)
    }
    body = {k: v for k, v in state.items() if k not in head}
    result = model.load_state_dict(body, strict=False)
    body_missing = [k for k in result.missing_keys if not k.startswith("fc.")]
    if body_missing or result.unexpected_keys:
        raise InitError(
            f"{path} is not a torchvision {arch} state_dict: {len(body_missing)} missing key(s) "
            f"{body_missing[:3]}, {len(result.unexpected_keys)} unexpected {result.unexpected_keys[:3]}"
        )
    return model
