"""`memebot evaluate`: a checkpoint's verdicts on a labelled split, as the bot would give them.

Images go through classifier.preprocess.preprocess and InferenceModel.predict (the bot's own path,
animated frames averaged), in batches. Written to OUT: metrics.json (headline metrics at the bot's
threshold, ROC-AUC, average precision, confusion matrix, per-source and per-kind breakdowns, the
threshold sweep, ROC and PR curves), predictions.csv (one row per image, for error analysis),
report.md and PNG plots (report.py).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classifier.model import CLASSES, InferenceModel, select_device
from classifier.preprocess import DecodeLimits
from classifier.training import metrics
from classifier.training.data import DataError, DataSpec, Sample, load_samples, summarise
from classifier.training.loaders import EvalImages, eval_loader, per_image

ALL_SPLITS = "all"


def select_split(samples: Sequence[Sample], split: str) -> list[Sample]:
    chosen = [s for s in samples if split == ALL_SPLITS or s.split == split]
    if not chosen:
        raise DataError(f"no images in the {split!r} split of the data given")
    return chosen


def score_samples(
    models: Sequence[InferenceModel],
    samples: Sequence[Sample],
    *,
    batch_size: int = 64,
    workers: int = 0,
    limits: DecodeLimits | None = None,
) -> list[np.ndarray]:
    """P(meme) per sample for each model (NaN where unreadable); every image is decoded once."""
    meta = models[0].meta
    for model in models[1:]:
        if (model.meta.input_size, model.meta.mean, model.meta.std) != (meta.input_size, meta.mean, meta.std):
            raise ValueError("models compared on one pass must share input size and normalisation")
    loader = eval_loader(
        EvalImages(samples, meta, limits or DecodeLimits()), batch_size=batch_size, workers=workers
    )
    chunks: list[list[torch.Tensor]] = [[] for _ in models]
    for frames, counts, _labels in loader:
        for chunk, model in zip(chunks, models, strict=True):
            probs = model.predict(frames) if len(frames) else torch.zeros(0, len(CLASSES))
            chunk.append(per_image(probs, counts)[:, 0])
    return [torch.cat(chunk).numpy().astype(np.float64) for chunk in chunks]


def compute_metrics(samples: Sequence[Sample], scores: np.ndarray) -> dict[str, Any]:
    """Everything metrics.json holds about the predictions (see the module docstring)."""
    readable = ~np.isnan(scores)
    kept = [s for s, ok in zip(samples, readable, strict=True) if ok]
    y = np.array([s.label == CLASSES[0] for s in kept], dtype=bool)
    p = scores[readable]
    hard = np.array([s.label != CLASSES[0] and s.text_bearing for s in kept], dtype=bool)
    headline = metrics.at_threshold(y, p, 0.5)
    headline |= {"roc_auc": metrics.roc_auc(y, p), "average_precision": metrics.average_precision(y, p)}
    headline |= {"hard_negatives": int(hard.sum()), "hard_negatives_called_meme": _share(p[hard] >= 0.5)}
    fpr, tpr, _ = metrics.roc_curve(y, p)
    precision, recall, _ = metrics.pr_curve(y, p)
    return {
        "images": len(samples),
        "unreadable": int((~readable).sum()),
        "headline": headline,
        "per_source": metrics.breakdown([s.source for s in kept], y, p, hard),
        "per_kind": metrics.breakdown([s.kind for s in kept], y, p, hard),
        "sweep": metrics.sweep(y, p, hard),
        "curves": {
            "roc": {"fpr": _rounded(fpr), "tpr": _rounded(tpr)},
            "pr": {"precision": _rounded(precision), "recall": _rounded(recall)},
        },
    }


def _share(mask: np.ndarray) -> float:
    return float(mask.mean()) if len(mask) else 0.0


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 5) for v in values]


def evaluate(
    checkpoint: Path,
    specs: Sequence[DataSpec],
    out: Path,
    *,
    split: str = "test",
    run_dir: Path | None = None,
    device: str = "auto",
    precision: str = "auto",
    batch_size: int = 64,
    workers: int = 0,
) -> dict[str, Any]:
    """Score the checkpoint on `split` of the data and write metrics.json, predictions.csv and the report."""
    from classifier.training.report import write_report  # matplotlib: only once there is something to draw

    samples = select_split(load_samples(specs), split)
    model = InferenceModel.from_checkpoint(checkpoint, device=select_device(device), precision=precision)
    scores = score_samples([model], samples, batch_size=batch_size, workers=workers)[0]
    result = compute_metrics(samples, scores)
    result["model"] = {
        "checkpoint": str(checkpoint),
        "model_version": model.meta.model_version,
        "arch": model.meta.arch,
        "input_size": model.meta.input_size,
        "precision": str(model.dtype).removeprefix("torch."),
        "device": str(model.device),
    }
    result["data"] = {**summarise(samples, specs), "split": split}
    history = _read_history(run_dir) if run_dir is not None else None
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    write_predictions(out / "predictions.csv", samples, scores)
    write_report(result, out, history)
    return result


def _read_history(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "history.json" if run_dir.is_dir() else run_dir
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:
        raise DataError(f"--run {run_dir}: no readable history.json ({error})") from error


def write_predictions(path: Path, samples: Sequence[Sample], scores: np.ndarray) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("origin", "source", "kind", "text_bearing", "label", "p_meme", "verdict"))
        for sample, score in zip(samples, scores, strict=True):
            verdict = "unreadable" if np.isnan(score) else CLASSES[0] if score >= 0.5 else CLASSES[1]
            text = int(sample.text_bearing)
            writer.writerow(
                (sample.origin, sample.source, sample.kind, text, sample.label, f"{score:.5f}", verdict)
            )
