"""Render jobs: one stored image each, self-contained, so they run in any order on any worker.

A job names its renderer, its inputs (image files, captions) and where it goes; every random choice
inside comes from an RNG seeded by (seed, job key), so a job renders the same wherever it runs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from classifier.preprocess import to_rgb
from classifier.training import charts, documents, posters, synth, webpages
from classifier.training.fonts import FontBook
from classifier.training.grouping import image_hashes
from classifier.training.hashing import hex64
from classifier.training.manifest import ManifestRow
from classifier.training.memegen import CLASSIC_BOXES, TextBox, read_template_config
from classifier.training.normalise import SizeRule, encode_jpeg, item_rng, normalise


@dataclass(frozen=True)
class Job:
    key: str  # unique; seeds the job's RNG
    renderer: str  # copy, verbatim, macro, caption_bar, multi_panel, chart, document, poster, mock_page
    out: str  # path relative to the dataset folder
    label: str
    split: str
    group: str
    source: str
    kind: str
    text_bearing: bool
    inputs: tuple[str, ...] = ()  # image (or template config) paths
    texts: tuple[str, ...] = ()
    options: tuple[str, ...] = field(default=())  # renderer flags, e.g. "classic_font", "classic_boxes"
    note: str = ""  # where the image came from, when its inputs do not say (e.g. a page's URL)

    @property
    def origin(self) -> str:
        if self.note:
            return self.note
        names = [f"{Path(p).parent.name}/{Path(p).name}" for p in self.inputs if not p.endswith(".yml")]
        return "+".join(names) or self.renderer


@dataclass(frozen=True)
class RenderContext:
    out: Path
    seed: int
    size_rule: SizeRule
    fonts: FontBook


def _open(path: str) -> Image.Image:
    with Image.open(path) as img:
        img.seek(0)
        return to_rgb(img)


def _render(job: Job, ctx: RenderContext, rng: random.Random) -> Image.Image:
    fonts = ctx.fonts
    if job.renderer == "copy":
        return _open(job.inputs[0])
    if job.renderer == "macro":
        background = _open(job.inputs[0])
        config_path = Path(job.inputs[1]) if len(job.inputs) > 1 else None
        boxes: tuple[TextBox, ...] = CLASSIC_BOXES
        if config_path is not None and "classic_boxes" not in job.options:
            boxes = read_template_config(config_path).boxes
        classic = "classic_font" in job.options
        return synth.render_macro(background, boxes, job.texts, fonts, rng, classic_font=classic)
    if job.renderer == "caption_bar":
        return synth.caption_bar(_open(job.inputs[0]), job.texts[0], fonts, rng)
    if job.renderer == "multi_panel":
        return synth.multi_panel([_open(p) for p in job.inputs], job.texts, fonts, rng)
    if job.renderer == "chart":
        return charts.render_chart(rng)[0]
    if job.renderer == "document":
        return documents.render_document(rng, fonts)[0]
    if job.renderer == "poster":
        return posters.render_poster(rng, fonts, _open(job.inputs[0]) if job.inputs else None)[0]
    if job.renderer == "mock_page":
        return webpages.mock_page(rng, fonts)
    raise ValueError(f"unknown renderer {job.renderer!r}")


def run_job(job: Job, ctx: RenderContext) -> ManifestRow:
    """Render, normalise (the shared size rule), store as JPEG and describe one image; "verbatim" jobs
    (the wild split: pictures as people post them) are stored byte for byte."""
    path = ctx.out / job.out
    path.parent.mkdir(parents=True, exist_ok=True)
    if job.renderer == "verbatim":
        source = Path(job.inputs[0])
        path = path.with_suffix(source.suffix.lower())
        path.write_bytes(source.read_bytes())
        stored = _open(job.inputs[0])
    else:
        img = _render(job, ctx, item_rng(ctx.seed, job.key, "render"))
        stored_rng = item_rng(ctx.seed, job.key, "store")
        stored = normalise(img, ctx.size_rule, stored_rng)
        path.write_bytes(encode_jpeg(stored, ctx.size_rule, stored_rng))
    d, p, _band = image_hashes(stored)
    return ManifestRow(
        path=path,
        label=job.label,
        split=job.split,
        group=job.group,
        source=job.source,
        kind=job.kind,
        text_bearing=job.text_bearing,
        width=stored.width,
        height=stored.height,
        phash=hex64(p),
        dhash=hex64(d),
        origin=job.origin,
    )


_WORKER_CONTEXT: RenderContext | None = None


def init_worker(ctx: RenderContext) -> None:
    """Process-pool initializer: the context (fonts, rule, paths) is sent once per worker."""
    global _WORKER_CONTEXT
    _WORKER_CONTEXT = ctx


def run_in_worker(job: Job) -> ManifestRow:
    if _WORKER_CONTEXT is None:
        raise RuntimeError("init_worker was not called in this process")
    return run_job(job, _WORKER_CONTEXT)
