"""Charts rendered with matplotlib (bar, line, area, scatter, pie, histogram, box, heatmap, dashboards).

Hard negatives with titles, axis labels, legends and value labels in many style sheets. matplotlib
is the optional `train` extra; `available()` says whether it is installed. The object-oriented API
(Figure + Agg canvas) is used, never pyplot, so no global figure state leaks between charts.
"""

from __future__ import annotations

import importlib.util
import io
import random
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from classifier.training import captions

STYLES = (
    "default", "ggplot", "bmh", "fivethirtyeight", "seaborn-v0_8-whitegrid", "seaborn-v0_8-darkgrid",
    "seaborn-v0_8-pastel", "Solarize_Light2", "tableau-colorblind10", "grayscale", "dark_background",
    "classic", "seaborn-v0_8-talk", "fast",
)  # fmt: skip
CATEGORIES = (
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    ("North", "South", "East", "West", "Central"),
    ("Germany", "France", "Spain", "Italy", "Poland", "Sweden", "Japan", "Brazil"),
    ("Q1", "Q2", "Q3", "Q4"),
    ("Chrome", "Firefox", "Safari", "Edge", "Other"),
    ("Product A", "Product B", "Product C", "Product D"),
)
METRICS = (
    "Revenue ($M)", "Users (thousands)", "Temperature (°C)", "Response time (ms)", "Share (%)",
    "Count", "Score", "Rainfall (mm)", "Accuracy", "Sales", "Population", "Latency p95 (s)",
)  # fmt: skip


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _series(rng: np.random.Generator, n: int) -> np.ndarray:
    kind = rng.integers(3)
    if kind == 0:
        return np.cumsum(rng.normal(0, 1, n)) + rng.uniform(5, 50)
    if kind == 1:
        return rng.uniform(1, 100, n)
    return np.linspace(rng.uniform(0, 10), rng.uniform(10, 100), n) + rng.normal(0, 3, n)


def _labels(ax: Any, rng: random.Random) -> None:
    if rng.random() < 0.85:
        ax.set_title(captions.title(rng), fontsize=rng.uniform(9, 16))
    if rng.random() < 0.8:
        ax.set_ylabel(rng.choice(METRICS))
        ax.set_xlabel(rng.choice(("Month", "Year", "Region", "Time (s)", "Category", "Day")))


def _bars(ax: Any, rng: random.Random, g: np.random.Generator) -> None:
    cats = rng.choice(CATEGORIES)
    x = np.arange(len(cats))
    if rng.random() < 0.25:  # horizontal, one series
        bars = ax.barh(x, g.uniform(5, 100, len(cats)))
        ax.set_yticks(x, cats)
        if rng.random() < 0.4:
            ax.bar_label(bars, fmt="%.0f", fontsize=7)
        return
    groups = rng.choice((1, 1, 2, 3))
    width = 0.8 / groups
    stacked = groups > 1 and rng.random() < 0.4
    bottom = np.zeros(len(cats))
    for i in range(groups):
        values = g.uniform(5, 100, len(cats))
        name = captions.title(rng, (1, 2))
        if stacked:
            bars = ax.bar(x, values, bottom=bottom, label=name)
            bottom += values
        else:
            bars = ax.bar(x + i * width - 0.4 + width / 2, values, width, label=name)
        if rng.random() < 0.3:
            ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(x, cats, rotation=rng.choice((0, 0, 30, 45)))
    if groups > 1:
        ax.legend()


def _lines(ax: Any, rng: random.Random, g: np.random.Generator) -> None:
    n = int(g.integers(8, 60))
    x = np.arange(n)
    for _ in range(rng.randint(1, 4)):
        y = _series(g, n)
        if rng.random() < 0.25:
            ax.fill_between(x, y, alpha=0.4, label=captions.title(rng, (1, 2)))
        else:
            ax.plot(x, y, marker=rng.choice(("", "", "o", "s", ".")), label=captions.title(rng, (1, 2)))
    if rng.random() < 0.7:
        ax.legend(loc=rng.choice(("best", "upper left", "lower right")))
    ax.grid(rng.random() < 0.6)


def _scatter(ax: Any, rng: random.Random, g: np.random.Generator) -> None:
    for _ in range(rng.randint(1, 3)):
        n = int(g.integers(20, 300))
        x = g.normal(g.uniform(0, 10), g.uniform(0.5, 3), n)
        y = x * g.uniform(-2, 2) + g.normal(0, g.uniform(0.5, 5), n)
        ax.scatter(x, y, s=g.uniform(5, 40), alpha=0.7, label=captions.title(rng, (1, 2)))
    if rng.random() < 0.6:
        ax.legend()


def _pie(ax: Any, rng: random.Random, g: np.random.Generator) -> None:
    cats = rng.choice(CATEGORIES)[: rng.randint(3, 6)]
    donut = {"width": 0.4} if rng.random() < 0.4 else None
    ax.pie(g.uniform(5, 50, len(cats)), labels=cats, autopct="%1.0f%%", wedgeprops=donut)
    ax.set_title(captions.title(rng))


def _hist_or_box(ax: Any, rng: random.Random, g: np.random.Generator) -> None:
    data = [g.normal(g.uniform(0, 10), g.uniform(0.5, 3), 300) for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.5:
        ax.hist(data, bins=int(g.integers(8, 40)), stacked=rng.random() < 0.3)
    else:
        ax.boxplot(data)


def _heatmap(ax: Any, rng: random.Random, g: np.random.Generator) -> None:
    rows, cols = int(g.integers(4, 12)), int(g.integers(4, 12))
    image = ax.imshow(
        g.uniform(0, 1, (rows, cols)), cmap=rng.choice(("viridis", "magma", "coolwarm", "Blues"))
    )
    ax.figure.colorbar(image, ax=ax)
    if rng.random() < 0.5 and rows * cols <= 64:
        for (r, c), v in np.ndenumerate(g.uniform(0, 1, (rows, cols))):
            ax.text(c, r, f"{v:.1f}", ha="center", va="center", fontsize=6)


PLOTS: dict[str, Callable[[Any, random.Random, np.random.Generator], None]] = {
    "bar": _bars, "line": _lines, "scatter": _scatter, "pie": _pie, "hist": _hist_or_box,
    "heatmap": _heatmap,
}  # fmt: skip


def render_chart(rng: random.Random) -> tuple[Image.Image, str]:
    """One chart (or a 2-4 chart dashboard) as an RGB image, and its type."""
    from matplotlib import style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    g = np.random.default_rng(rng.getrandbits(64))
    kind = rng.choice((*PLOTS, "dashboard"))
    panels = (
        [rng.choice(tuple(PLOTS)) for _ in range(rng.choice((2, 3, 4)))] if kind == "dashboard" else [kind]
    )
    names = [s for s in STYLES if s in style.available or s == "default"]
    with style.context(rng.choice(names)):
        figure = Figure(
            figsize=rng.choice(((6.4, 4.8), (8, 4.5), (5, 5), (4.5, 6), (10, 5))), dpi=rng.randint(70, 100)
        )
        FigureCanvasAgg(figure)
        layout = (1, len(panels)) if len(panels) <= 2 else (2, 2)
        for index, plot in enumerate(panels, 1):
            ax = figure.add_subplot(*layout, index)
            PLOTS[plot](ax, rng, g)
            if plot != "pie":
                _labels(ax, rng)
        if kind == "dashboard" and rng.random() < 0.7:
            figure.suptitle(captions.title(rng), fontsize=rng.uniform(12, 18))
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"), kind
