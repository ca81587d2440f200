"""Binary classification metrics in plain numpy: meme is the positive class, the score is P(meme).

An image is called a meme when its score is >= the threshold; at 0.5 that is the bot's own verdict
(argmax, a tie going to meme). Ratios with an empty denominator (precision with no meme calls, say)
are 0.0, and ROC-AUC is None when one class is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

SWEEP = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99)


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else 0.0


def at_threshold(is_meme: np.ndarray, score: np.ndarray, threshold: float = 0.5) -> dict[str, Any]:
    """Accuracy, precision, recall, F1, the confusion counts and the false-positive rate."""
    y, called = is_meme.astype(bool), score >= threshold
    tp, fp = int(np.sum(called & y)), int(np.sum(called & ~y))
    fn, tn = int(np.sum(~called & y)), int(np.sum(~called & ~y))
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return {
        "threshold": threshold,
        "accuracy": _ratio(tp + tn, len(y)),
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * precision * recall, precision + recall),
        "false_positive_rate": _ratio(fp, fp + tn),  # non-memes called memes
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
    }


def roc_auc(is_meme: np.ndarray, score: np.ndarray) -> float | None:
    """P(a random meme scores above a random non-meme), ties counting half (Mann-Whitney U)."""
    y = is_meme.astype(bool)
    positives, negatives = int(y.sum()), int((~y).sum())
    if not positives or not negatives:
        return None
    ranks = _average_ranks(score)
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    ranks = np.empty(len(values))
    start = 0
    for end in [*(np.flatnonzero(np.diff(sorted_values)) + 1).tolist(), len(values)]:
        ranks[order[start:end]] = (start + 1 + end) / 2
        start = end
    return ranks


def _cumulative(is_meme: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true positives, false positives, threshold) at each distinct score, highest first."""
    order = np.argsort(-score, kind="stable")
    s, y = score[order], is_meme.astype(bool)[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each run of equal scores
    tps = np.cumsum(y)[last]
    return tps, (last + 1) - tps, s[last]


def roc_curve(is_meme: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rates, true positive rates, thresholds), starting at (0, 0) for threshold inf."""
    tps, fps, thresholds = _cumulative(is_meme, score)
    positives, negatives = max(1, int(is_meme.sum())), max(1, int((~is_meme.astype(bool)).sum()))
    return np.r_[0.0, fps / negatives], np.r_[0.0, tps / positives], np.r_[np.inf, thresholds]


def pr_curve(is_meme: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, thresholds), starting at precision 1, recall 0."""
    tps, fps, thresholds = _cumulative(is_meme, score)
    positives = max(1, int(is_meme.sum()))
    return np.r_[1.0, tps / (tps + fps)], np.r_[0.0, tps / positives], np.r_[np.inf, thresholds]


def average_precision(is_meme: np.ndarray, score: np.ndarray) -> float:
    """Area under the precision-recall steps: sum of (recall gained) x (precision there)."""
    precision, recall, _ = pr_curve(is_meme, score)
    return float(np.sum(np.diff(recall) * precision[1:]))


def sweep(
    is_meme: np.ndarray, score: np.ndarray, hard: np.ndarray, thresholds: Sequence[float] = SWEEP
) -> list[dict[str, Any]]:
    """Per threshold t: the meme-call metrics at t, the share of text-bearing non-memes called memes,
    and what a memes-only channel with threshold t would remove (a not_meme verdict with P >= t)."""
    y = is_meme.astype(bool)
    rows = []
    for t in thresholds:
        row = at_threshold(y, score, t)
        removed = (1.0 - score) >= t
        row["hard_negatives_called_meme"] = _ratio(int(np.sum(hard & (score >= t))), int(hard.sum()))
        row["memes_removed"] = _ratio(int(np.sum(removed & y)), int(y.sum()))
        row["non_memes_removed"] = _ratio(int(np.sum(removed & ~y)), int((~y).sum()))
        rows.append(row)
    return rows


def breakdown(
    groups: Sequence[str], is_meme: np.ndarray, score: np.ndarray, hard: np.ndarray | None = None
) -> dict[str, dict[str, Any]]:
    """Per group (source, kind, ...): images, memes, accuracy, share called memes, mean score, and
    the text-bearing non-memes (`hard`) among them with the share of those called memes."""
    names = np.asarray(groups)
    hard = np.zeros(len(names), dtype=bool) if hard is None else hard.astype(bool)
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(groups)):
        mask = names == name
        y, s, h = is_meme[mask].astype(bool), score[mask], hard[mask]
        called = s >= 0.5
        out[name] = {
            "images": int(mask.sum()),
            "memes": int(y.sum()),
            "accuracy": _ratio(int(np.sum(called == y)), int(mask.sum())),
            "called_meme": _ratio(int(called.sum()), int(mask.sum())),
            "mean_score": float(s.mean()) if len(s) else 0.0,
            "hard_negatives": int(h.sum()),
            "hard_negatives_called_meme": _ratio(int(np.sum(called & h)), int(h.sum())),
        }
    return out
