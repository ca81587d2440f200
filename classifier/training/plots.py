"""PNG plots of an evaluation (ROC, precision-recall, confusion matrix, threshold sweep) and of a training
run (loss, accuracy and learning rate per step and epoch).

matplotlib's object API with the Agg canvas: nothing touches pyplot's global state or needs a display.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 110


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width: float = 5.0, height: float = 4.2, columns: int = 1) -> tuple[Figure, list[Axes]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width * columns, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, [figure.add_subplot(1, columns, i + 1) for i in range(columns)]


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, format="png")
    return path


def roc_plot(result: dict[str, Any], path: Path) -> Path:
    figure, (ax,) = _figure()
    curve, auc = result["curves"]["roc"], result["headline"]["roc_auc"]
    ax.plot(curve["fpr"], curve["tpr"], label=f"ROC-AUC {auc:.4f}" if auc is not None else "ROC")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set(xlabel="non-memes called memes (FPR)", ylabel="memes found (TPR)", title="ROC")
    ax.legend(loc="lower right")
    return _save(figure, path)


def pr_plot(result: dict[str, Any], path: Path) -> Path:
    figure, (ax,) = _figure()
    curve = result["curves"]["pr"]
    ax.step(curve["recall"], curve["precision"], where="post")
    ax.set(xlabel="recall", ylabel="precision", ylim=(0, 1.02), title="Precision-recall")
    ax.set_title(f"Precision-recall (AP {result['headline']['average_precision']:.4f})")
    return _save(figure, path)


def confusion_plot(result: dict[str, Any], path: Path) -> Path:
    c = result["headline"]["confusion"]
    matrix = np.array([[c["tp"], c["fn"]], [c["fp"], c["tn"]]])
    figure, (ax,) = _figure(4.2, 3.8)
    ax.imshow(matrix, cmap="Blues", vmin=0)  # shades relative to zero, so the text colour rule holds
    for (i, j), n in np.ndenumerate(matrix):
        colour = "white" if n > matrix.max() / 2 else "black"
        ax.text(j, i, str(n), ha="center", va="center", color=colour, fontsize=14)
    ax.set_xticks([0, 1], ["meme", "not_meme"])
    ax.set_yticks([0, 1], ["meme", "not_meme"])
    ax.set(xlabel="verdict", ylabel="true label", title="Confusion matrix (threshold 0.5)")
    return _save(figure, path)


def sweep_plot(result: dict[str, Any], path: Path) -> Path:
    rows = result["sweep"]
    t = [r["threshold"] for r in rows]
    figure, (ax,) = _figure(6.0)
    for key, label in (
        ("precision", "precision"),
        ("recall", "recall"),
        ("hard_negatives_called_meme", "text-bearing non-memes called memes"),
        ("memes_removed", "memes removed (memes-only channel)"),
    ):
        ax.plot(t, [r[key] for r in rows], marker=".", label=label)
    ax.set(xlabel="threshold", ylabel="share", title="Threshold sweep", ylim=(-0.02, 1.02))
    ax.legend(fontsize="small")
    return _save(figure, path)


def training_plot(history: dict[str, Any], path: Path) -> Path:
    """Per-step training loss (with a moving mean), per-epoch train/val loss and accuracy, learning rate."""
    steps = np.array(history.get("steps") or [[0, 0, np.nan, np.nan, 0]], dtype=float)
    epochs = history.get("epochs") or []
    figure, (loss_ax, acc_ax, lr_ax) = _figure(4.6, 3.8, columns=3)
    loss_ax.plot(steps[:, 1], steps[:, 2], alpha=0.3, label="train loss (step)")
    window = max(1, len(steps) // 50)
    smooth = np.convolve(steps[:, 2], np.ones(window) / window, mode="valid")
    loss_ax.plot(steps[window - 1 :, 1], smooth, label="train loss (mean)")
    for ax, key in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        for prefix in ("train", "val"):
            points = [(e["epoch"], e[f"{prefix}_{key}"]) for e in epochs if f"{prefix}_{key}" in e]
            if points:
                ax.plot(*zip(*points, strict=True), marker="o", label=f"{prefix} {key} (epoch)")
        ax.set(xlabel="epoch", ylabel=key)
        if ax.get_legend_handles_labels()[0]:  # nothing to name before the first epoch ends
            ax.legend(fontsize="small")
    lr_ax.plot(steps[:, 1], steps[:, 4])
    lr_ax.set(xlabel="epoch", ylabel="learning rate")
    figure.suptitle("Training")
    return _save(figure, path)


def draw_all(result: dict[str, Any], history: dict[str, Any] | None, out: Path) -> dict[str, str]:
    """{title: file name} of the plots written to `out` (none without matplotlib)."""
    if not available():
        return {}
    drawn = {
        "ROC": roc_plot(result, out / "roc.png"),
        "Precision-recall": pr_plot(result, out / "pr.png"),
        "Confusion matrix": confusion_plot(result, out / "confusion.png"),
        "Threshold sweep": sweep_plot(result, out / "sweep.png"),
    }
    if history is not None:
        drawn["Training curves"] = training_plot(history, out / "training.png")
    return {title: path.name for title, path in drawn.items()}
