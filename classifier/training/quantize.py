"""`memebot quantize`: a checkpoint with per-channel int8 conv/linear weights (classifier/int8.py), about
a quarter of the size, dequantised to float32 when loaded, and how often its verdicts agree with the
full-precision model's on a labelled split (the ship target is >= 99.5%).

Both models are compared in float32 on the same decoded images, so any disagreement is the
quantisation's alone.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import safetensors.torch
from torch import nn

from classifier.int8 import dequantise_int8, quantise_state_dict
from classifier.model import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_FORMAT_VERSION,
    CheckpointMeta,
    InferenceModel,
    build_model,
    checkpoint_paths,
    load_checkpoint,
    select_device,
)
from classifier.training.data import DataSpec, Sample, load_samples
from classifier.training.evaluate import score_samples, select_split

AGREEMENT_TARGET = 0.995
SCHEME = "int8 per output channel, symmetric (max |w| / 127), float32 scales; biases and batch norm float32"


@dataclass(frozen=True)
class QuantizeResult:
    path: Path  # the int8 weights file
    float_bytes: int
    int8_bytes: int
    agreement: dict[str, Any] | None

    @property
    def ratio(self) -> float:
        return self.float_bytes / self.int8_bytes


def save_int8_checkpoint(model: nn.Module, meta: CheckpointMeta, path: Path) -> Path:
    """Like classifier.model.save_checkpoint, in the "int8" weight format; returns the weights path."""
    weights_path, meta_path = checkpoint_paths(path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = quantise_state_dict(model.state_dict())
    header = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_FORMAT_VERSION, "weights": "int8"}
    fields = {f.name: getattr(meta, f.name) for f in dataclasses.fields(meta)}
    body = {**header, **fields, "extra": dict(meta.extra)}
    # Temporary names renamed into place: a crash never leaves half a checkpoint.
    tmp_weights = weights_path.with_name(f".{weights_path.name}.{os.getpid()}.tmp")
    tmp_meta = meta_path.with_name(f".{meta_path.name}.{os.getpid()}.tmp")
    safetensors.torch.save_file(tensors, str(tmp_weights), metadata={"format": CHECKPOINT_FORMAT})
    tmp_meta.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp_weights, weights_path)
    os.replace(tmp_meta, meta_path)
    return weights_path


def dequantised_copy(model: nn.Module, meta: CheckpointMeta) -> nn.Module:
    """The model exactly as an int8 checkpoint of it loads: weights rounded to int8 and back."""
    copy = build_model(meta.arch, len(meta.classes))
    copy.load_state_dict(dequantise_int8(quantise_state_dict(model.state_dict())))
    return copy.eval()


def verdict_agreement(
    full: InferenceModel, small: InferenceModel, samples: Sequence[Sample], *, batch_size: int, workers: int
) -> dict[str, Any]:
    """Share of images given the same verdict by both models, and the largest change of P(meme)."""
    a, b = score_samples([full, small], samples, batch_size=batch_size, workers=workers)
    readable = ~(np.isnan(a) | np.isnan(b))
    same = (a[readable] >= 0.5) == (b[readable] >= 0.5)
    differ = [
        {"origin": s.origin, "full": round(float(x), 5), "int8": round(float(y), 5)}
        for s, x, y, ok in zip(samples, a, b, readable, strict=True)
        if ok and (x >= 0.5) != (y >= 0.5)
    ]
    return {
        "images": int(readable.sum()),
        "agreement": float(same.mean()) if len(same) else 1.0,
        "target": AGREEMENT_TARGET,
        "max_abs_diff_p_meme": float(np.abs(a[readable] - b[readable]).max(initial=0.0)),
        "disagreements": differ[:50],
    }


def quantize_checkpoint(
    checkpoint: Path,
    out: Path,
    *,
    check: Sequence[DataSpec] = (),
    split: str = "test",
    device: str = "cpu",
    batch_size: int = 64,
    workers: int = 0,
) -> QuantizeResult:
    """Write the int8 checkpoint to `out` and, given `check` data, measure verdict agreement on `split`."""
    model, meta = load_checkpoint(checkpoint)
    agreement = None
    if check:
        samples = select_split(load_samples(check), split)
        dev = select_device(device)
        full = InferenceModel(copy.deepcopy(model), meta, dev, precision="fp32")  # model is saved below
        small = InferenceModel(dequantised_copy(model, meta), meta, dev, precision="fp32")
        agreement = verdict_agreement(full, small, samples, batch_size=batch_size, workers=workers)
        agreement["split"] = split
    summary = {"scheme": SCHEME, "source_model_version": meta.model_version, "agreement": agreement}
    if agreement is not None:
        summary["agreement"] = {k: v for k, v in agreement.items() if k != "disagreements"}
    int8_meta = dataclasses.replace(meta, extra={**meta.extra, "quantization": summary})
    path = save_int8_checkpoint(model.cpu(), int8_meta, out)
    result = QuantizeResult(
        path, checkpoint_paths(checkpoint)[0].stat().st_size, path.stat().st_size, agreement
    )
    report = {"checkpoint": str(checkpoint), "out": str(path), "float_bytes": result.float_bytes}
    report |= {
        "int8_bytes": result.int8_bytes,
        "ratio": round(result.ratio, 3),
        **summary,
        "agreement": agreement,
    }
    (path.parent / "quantize.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return result
