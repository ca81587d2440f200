"""The training recipe (what `memebot train` does, recorded in every checkpoint it writes) and the
pieces of it that are plain functions: the learning-rate schedule, weight-decay groups, val metrics."""

from __future__ import annotations

import dataclasses
import datetime
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from classifier.model import CLASSES
from classifier.training import metrics
from classifier.training.augment import Augmentation
from classifier.training.data import Sample


@dataclass(frozen=True)
class Recipe:
    arch: str = "resnet101"
    init: str = "scratch"  # scratch | imagenet | a local .safetensors file or memebot checkpoint
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.05
    input_size: int = 128  # the dataset stores images at 128 px: a larger input would only upsample
    seed: int = 0
    augmentation: Augmentation = field(default_factory=Augmentation)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Recipe:
        aug: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in raw.get("augmentation", {}).items()
        }
        return cls(**{**raw, "augmentation": Augmentation(**aug)})


def lr_at(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warm-up over `warmup` steps, then half a cosine down to zero at `total`."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * 0.5 * (1.0 + math.cos(math.pi * progress))


def validation_metrics(samples: list[Sample], probs: np.ndarray) -> dict[str, Any]:
    """Loss (NLL of the mean frame probabilities), accuracy, F1, ROC-AUC and the hard-negative rate."""
    is_meme = np.array([s.label == CLASSES[0] for s in samples])
    readable = ~np.isnan(probs[:, 0])
    y, p = is_meme[readable], probs[readable]
    truth = np.where(y, p[:, 0], p[:, 1])
    at_half = metrics.at_threshold(y, p[:, 0])
    hard = np.array([s.label != CLASSES[0] and s.text_bearing for s in samples])[readable]
    return {
        "loss": float(np.mean(-np.log(np.clip(truth, 1e-7, 1.0)))) if len(truth) else 0.0,
        "accuracy": at_half["accuracy"],
        "f1": at_half["f1"],
        "roc_auc": metrics.roc_auc(y, p[:, 0]),
        "hard_negatives_called_meme": float(np.mean(p[hard, 0] >= 0.5)) if hard.any() else 0.0,
        "images": int(readable.sum()),
    }


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Decay conv and linear weights only: decaying biases and batch-norm scales just hurts."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    rest = [p for p in model.parameters() if p.ndim < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def default_version(recipe: Recipe) -> str:
    return f"memebot-{recipe.arch}-{datetime.date.today():%Y%m%d}"
