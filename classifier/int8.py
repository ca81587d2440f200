"""Per-channel int8 weights with float scales: the "int8" weight format of memebot checkpoints.

Every conv and linear weight (a `.weight` tensor of 2 or more dimensions) is stored as int8 `q` plus a
float32 `<name>.scale` holding one scale per output channel, and read back as `q * scale`. Scales are
symmetric (max |w| of the channel / 127), so zero stays exactly zero. Biases and batch-norm tensors stay
float32: they are a fraction of a percent of the model and the most sensitive part of it.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from classifier.errors import CheckpointError

SCALE_SUFFIX = ".scale"
QMAX = 127


def is_quantisable(name: str, tensor: torch.Tensor) -> bool:
    """Conv and linear weights: the tensors that hold nearly all of a ResNet's bytes."""
    return name.endswith(".weight") and tensor.ndim >= 2 and tensor.is_floating_point()


def quantise_tensor(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(int8 tensor, float32 scale per output channel) with weight ~= q * scale."""
    flat = weight.detach().float().reshape(weight.shape[0], -1)
    peak = flat.abs().amax(dim=1)
    # A channel of zeros (pruned, or a zero-initialised residual branch) gets scale 1: q stays 0.
    scale = torch.where(peak > 0, peak / QMAX, torch.ones_like(peak))
    q = torch.round(flat / scale[:, None]).clamp_(-QMAX, QMAX).to(torch.int8)
    return q.reshape(weight.shape).contiguous(), scale.contiguous()


def quantise_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state_dict in the int8 format (see the module docstring), on the CPU."""
    out: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        cpu = tensor.detach().to("cpu")
        if is_quantisable(name, cpu):
            out[name], out[name + SCALE_SUFFIX] = quantise_tensor(cpu)
        else:
            out[name] = cpu.contiguous()
    return out


def dequantise_int8(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The float32 state_dict of an int8-format checkpoint (classifier.model.WEIGHT_DECODERS["int8"])."""
    scales = {name[: -len(SCALE_SUFFIX)]: t for name, t in tensors.items() if name.endswith(SCALE_SUFFIX)}
    if not scales or not any(t.dtype == torch.int8 for t in tensors.values()):
        raise CheckpointError(
            "weights stored as 'int8', but the file holds no int8 tensors with scales "
            "(corrupt or mislabelled)"
        )
    out: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        if name.endswith(SCALE_SUFFIX):
            continue
        scale = scales.get(name)
        if scale is None:
            out[name] = tensor
            continue
        if tensor.dtype != torch.int8 or scale.numel() != tensor.shape[0]:
            raise CheckpointError(f"int8 weight {name!r} does not match its scale (corrupt checkpoint)")
        shape = (tensor.shape[0],) + (1,) * (tensor.ndim - 1)
        out[name] = tensor.float() * scale.float().reshape(shape)
    return out
