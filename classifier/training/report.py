"""The evaluation report: report.md (headline, targets, confusion matrix, per-source and per-kind
tables, threshold sweep) next to the PNG plots it links (plots.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from classifier.training import plots

# Issue 3's targets on the test split: (metric, at least / at most, value).
TARGETS = (
    ("accuracy", ">=", 0.95),
    ("f1", ">=", 0.95),
    ("roc_auc", ">=", 0.98),
    ("hard_negatives_called_meme", "<=", 0.05),
)


def write_report(result: dict[str, Any], out: Path, history: dict[str, Any] | None = None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    images = plots.draw_all(result, history, out)
    path = out / "report.md"
    path.write_text(render_markdown(result, images), encoding="utf-8")
    return path


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def render_markdown(result: dict[str, Any], images: dict[str, str]) -> str:
    h = result["headline"]
    lines = [
        *_introduction(result),
        *_targets(h),
        "",
        *_confusion(h["confusion"]),
        "",
        *_breakdown("Per source", result["per_source"]),
        "",
        *_breakdown("Per kind", result["per_kind"]),
        "",
        *_sweep(result["sweep"]),
        "",
        *_images(images),
    ]
    return "\n".join(lines).rstrip() + "\n"


def _introduction(result: dict[str, Any]) -> list[str]:
    h, model, data = result["headline"], result.get("model", {}), result.get("data", {})
    row = (
        _pct(h["accuracy"]),
        _num(h["precision"]),
        _num(h["recall"]),
        _num(h["f1"]),
        _num(h["roc_auc"]),
        _num(h["average_precision"]),
        f"{_pct(h['hard_negatives_called_meme'])} of {h['hard_negatives']}",
    )
    header = (
        "accuracy",
        "precision",
        "recall",
        "F1",
        "ROC-AUC",
        "avg precision",
        "hard negatives called memes",
    )
    return [
        f"# Evaluation of {model.get('model_version', 'a checkpoint')}",
        "",
        f"Split `{data.get('split', '?')}` of {', '.join(data.get('data', [])) or 'the data given'}: "
        f"{result['images']} images, {result['unreadable']} unreadable. Model {model.get('arch', '?')} at "
        f"{model.get('input_size', '?')} px, {model.get('precision', '?')} on {model.get('device', '?')}; "
        "verdicts through the bot's own preprocessing, meme when P(meme) >= 0.5.",
        "",
        "## Headline",
        "",
        *_table(header, [row]),
        "",
    ]


def _targets(h: dict[str, Any]) -> list[str]:
    rows = []
    for name, direction, target in TARGETS:
        value = h.get(name)
        met = value is not None and (value >= target if direction == ">=" else value <= target)
        rows.append((name, f"{direction} {target:g}", _num(value), "met" if met else "**missed**"))
    return ["## Targets (issue 3)", "", *_table(("metric", "target", "value", ""), rows)]


def _confusion(c: dict[str, int]) -> list[str]:
    rows = [("meme", c["tp"], c["fn"]), ("not_meme", c["fp"], c["tn"])]
    return ["## Confusion matrix", "", *_table(("true \\ verdict", "meme", "not_meme"), rows)]


def _breakdown(title: str, groups: dict[str, dict[str, Any]]) -> list[str]:
    rows = [
        (
            name,
            g["images"],
            g["memes"],
            _pct(g["accuracy"]),
            _pct(g["called_meme"]),
            _num(g["mean_score"]),
            f"{_pct(g['hard_negatives_called_meme'])} of {g['hard_negatives']}"
            if g["hard_negatives"]
            else "",
        )
        for name, g in groups.items()
    ]
    header = ("group", "images", "memes", "accuracy", "called memes", "mean P(meme)", "text-bearing → meme")
    return [f"## {title}", "", *_table(header, rows)]


def _sweep(rows: list[dict[str, Any]]) -> list[str]:
    table = [
        (
            f"{r['threshold']:.2f}",
            _pct(r["accuracy"]),
            _num(r["precision"]),
            _num(r["recall"]),
            _num(r["f1"]),
            _pct(r["hard_negatives_called_meme"]),
            _pct(r["memes_removed"]),
            _pct(r["non_memes_removed"]),
        )
        for r in rows
    ]
    header = (
        "t",
        "accuracy",
        "precision",
        "recall",
        "F1",
        "hard neg. → meme",
        "memes removed",
        "non-memes removed",
    )
    note = (
        "Meme when P(meme) >= t; the last two columns are what a memes-only channel with threshold t "
        "removes (a not_meme verdict with confidence >= t)."
    )
    return ["## Threshold sweep", "", note, "", *_table(header, table)]


def _images(images: dict[str, str]) -> list[str]:
    if not images:
        return ["(No plots: install matplotlib, `pip install 'memebot[train]'`.)"]
    lines = ["## Plots", ""]
    for title, name in images.items():
        lines += [f"![{title}]({name})", ""]
    return lines
