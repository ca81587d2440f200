"""`memebot calibrate`: fit a checkpoint's temperature and write it into its model.json."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from classifier.model import CLASSES, InferenceModel, checkpoint_paths, select_device
from classifier.training import calibration
from classifier.training.data import DataSpec, load_samples
from classifier.training.evaluate import score_samples, select_split

THRESHOLD = 0.8  # the memes-only default, whose meaning calibration is for


def calibrate_checkpoint(
    checkpoint: Path,
    specs: Sequence[DataSpec],
    out: Path,
    *,
    fit_split: str = "val",
    report: Sequence[str] = ("test",),
    device: str = "cpu",
    batch_size: int = 64,
    workers: int = 0,
) -> dict[str, Any]:
    model = InferenceModel.from_checkpoint(checkpoint, select_device(device), "fp32")
    old = model.meta.temperature
    samples = load_samples(specs)
    scored: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split in dict.fromkeys([fit_split, *report]):
        chosen = select_split(samples, split)
        (p_meme,) = score_samples([model], chosen, batch_size=batch_size, workers=workers)
        readable = ~np.isnan(p_meme)
        is_meme = np.array([s.label == CLASSES[0] for s in chosen])[readable]
        scored[split] = (calibration.logits(p_meme[readable], old), is_meme)
    z, is_meme = scored[fit_split]
    temperature = calibration.fit_temperature(z, is_meme)
    out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "temperature": temperature,
        "previous_temperature": old,
        "fit_split": fit_split,
        "fit_images": len(z),
        "splits": {},
    }
    for split, (z_split, truth) in scored.items():
        row = {}
        for name, t in (("before", 1.0), ("after", temperature)):
            p = calibration.with_temperature(z_split, t)
            row[name] = calibration.reliability(p, truth) | {
                f"at_{THRESHOLD}": calibration.acted_on(p, truth, THRESHOLD),
                "nll": calibration.nll(z_split, truth, t),
            }
        result["splits"][split] = row
        calibration.reliability_plot(
            row["before"], row["after"], f"Reliability, {split} split", out / f"reliability-{split}.png"
        )
    (out / "calibration.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    _write_temperature(checkpoint, temperature)
    return result


def _write_temperature(checkpoint: Path, temperature: float) -> None:
    """Into model.json in place (atomically); the weights are untouched."""
    _, meta_path = checkpoint_paths(checkpoint)
    raw = json.loads(meta_path.read_text(encoding="utf-8"))
    raw["temperature"] = round(temperature, 6)
    tmp = meta_path.with_name(f".{meta_path.name}.tmp")
    tmp.write_text(json.dumps(raw, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(meta_path)
