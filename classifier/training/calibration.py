"""Calibrated confidence: one temperature for the logits, fitted on the validation split.

A softmax confidence of 97% from a network trained with label smoothing is not a 97% chance of being
right. Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks") divides the
logits by one number T fitted to minimise the validation split's negative log-likelihood: verdicts
do not change (the argmax is the same), only how sure they sound, which is what a memes-only
threshold acts on. `memebot calibrate` fits T, stores it in the checkpoint's JSON (CheckpointMeta
.temperature, applied by InferenceModel.predict) and reports the expected calibration error (ECE)
before and after on every split asked for, with reliability diagrams.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

EPS = 1e-7
BINS = 15


def logits(p_meme: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """The two-class logit difference behind P(meme), as the model computed it before dividing by
    `temperature` (the one the probabilities were made with)."""
    p = np.clip(p_meme, EPS, 1 - EPS)
    return (np.log(p) - np.log1p(-p)) * temperature


def with_temperature(z: np.ndarray, temperature: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z / temperature))


def nll(z: np.ndarray, is_meme: np.ndarray, temperature: float) -> float:
    p = np.clip(with_temperature(z, temperature), EPS, 1 - EPS)
    return float(-np.mean(np.where(is_meme, np.log(p), np.log(1 - p))))


def fit_temperature(z: np.ndarray, is_meme: np.ndarray, low: float = 0.05, high: float = 20.0) -> float:
    """The T in [low, high] minimising the NLL (golden-section search on log T; the NLL of a
    temperature-scaled logit is unimodal in log T)."""
    a, b = math.log(low), math.log(high)
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    for _ in range(80):
        if nll(z, is_meme, math.exp(c)) < nll(z, is_meme, math.exp(d)):
            b, d = d, c
            c = b - ratio * (b - a)
        else:
            a, c = c, d
            d = a + ratio * (b - a)
    return math.exp((a + b) / 2)


def reliability(p_meme: np.ndarray, is_meme: np.ndarray, bins: int = BINS) -> dict[str, Any]:
    """Confidence of the verdict (max of the two probabilities) against how often it was right, in
    equal-width bins from 0.5 to 1; ECE is the count-weighted mean gap."""
    confidence = np.maximum(p_meme, 1 - p_meme)
    right = (p_meme >= 0.5) == is_meme
    edges = np.linspace(0.5, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    rows = []
    ece = 0.0
    for b in range(bins):
        mask = index == b
        if not mask.any():
            continue
        conf, acc = float(confidence[mask].mean()), float(right[mask].mean())
        rows.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "images": int(mask.sum()),
                "confidence": conf,
                "accuracy": acc,
            }
        )
        ece += mask.mean() * abs(acc - conf)
    return {"ece": float(ece), "bins": rows, "images": len(p_meme)}


def acted_on(p_meme: np.ndarray, is_meme: np.ndarray, threshold: float) -> dict[str, float]:
    """What a memes-only chat at `threshold` acts on (not-meme verdicts at least that sure) and how
    much of it is a meme (wrongly acted on)."""
    acts = (1 - p_meme) >= threshold
    wrong = float((acts & is_meme).sum() / max(1, acts.sum()))
    return {
        "threshold": threshold,
        "acted_on": int(acts.sum()),
        "wrong_share_of_acted_on": wrong,
        "memes_acted_on": float((acts & is_meme).sum() / max(1, is_meme.sum())),
        "non_memes_acted_on": float((acts & ~is_meme).sum() / max(1, (~is_meme).sum())),
    }


def reliability_plot(before: dict[str, Any], after: dict[str, Any], title: str, path: Path) -> Path:
    from classifier.training.plots import _figure, _save

    figure, (ax,) = _figure()
    ax.plot([0.5, 1], [0.5, 1], linestyle=":", color="grey", label="perfect")
    for result, name in ((before, "before"), (after, "after")):
        xs = [r["confidence"] for r in result["bins"]]
        ys = [r["accuracy"] for r in result["bins"]]
        ax.plot(xs, ys, marker="o", label=f"{name}: ECE {result['ece']:.3f}")
    ax.set(
        xlabel="confidence of the verdict", ylabel="share right", xlim=(0.5, 1), ylim=(0, 1.02), title=title
    )
    ax.legend(loc="lower right")
    return _save(figure, path)
