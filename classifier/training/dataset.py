"""build_dataset: ../shared/datasets -> a grouped, split, size-normalised meme / not_meme dataset.

Steps: scan the source folders; hash every image; drop byte-identical and near-identical copies;
group near-duplicates, same-template memes and file families; split groups 80/10/10 stratified by
source; plan synthetic positives (captions on templates and photos) and hard negatives (charts,
documents, posters, web pages) per split from that split's material only; render everything through
one size rule; write manifest.csv, ambiguous.csv (blank templates: neither label), duplicates.csv
and summary.json. The same seed gives the same manifest.
"""

from __future__ import annotations

import csv
import dataclasses
import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from classifier.training import charts, webpages
from classifier.training.captions import clean_ocr
from classifier.training.fonts import FontBook
from classifier.training.grouping import (
    SPLITS,
    WILD,
    GroupingRule,
    HashedItem,
    assign_groups,
    assign_splits,
    dedupe,
    hash_item,
    label_conflicts,
    overlapping_wild,
)
from classifier.training.jobs import Job, RenderContext, init_worker, run_in_worker, run_job
from classifier.training.manifest import (
    MANIFEST_FILE,
    SUMMARY_FILE,
    ManifestRow,
    summarise,
    write_manifest,
    write_summary,
)
from classifier.training.normalise import SizeRule
from classifier.training.pageshots import webpage_jobs
from classifier.training.plan import (
    Placed,
    SynthCounts,
    by_split,
    copy_jobs,
    drawn_negatives,
    photo_pool,
    photo_positives,
    template_macros,
)
from classifier.training.sources import LABELS, TEMPLATE_PRIORITY, memotion_captions, scan_sources

Progress = Callable[[str], None]
T = TypeVar("T")
R = TypeVar("R")


class DatasetError(RuntimeError):
    """The dataset cannot be built as asked (missing source, missing optional dependency, ...)."""


@dataclass(frozen=True)
class Manifest:
    path: Path
    rows: list[ManifestRow]
    ambiguous: list[ManifestRow]
    duplicates: dict[str, str]
    summary: dict[str, Any]


def build_dataset(
    source: Path,
    out: Path,
    *,
    seed: int = 0,
    image_size: int = 128,
    counts: SynthCounts | None = None,
    grouping: GroupingRule | None = None,
    workers: int = 1,
    html_roots: Iterable[Path] = webpages.HTML_ROOTS,
    chromium: str | None = "auto",
    progress: Progress | None = None,
) -> Manifest:
    """Build the dataset under `out` (see the module docstring); `chromium=None` forces Pillow pages."""
    started = time.monotonic()
    out = Path(out).resolve()  # manifest paths are written relative to it
    counts, grouping = counts or SynthCounts(), grouping or GroupingRule()
    say = progress or (lambda _message: None)
    if counts.charts and not charts.available():
        raise DatasetError("charts need matplotlib: pip install 'memebot[train]' (or set charts=0)")
    items = scan_sources(source)
    if not items:
        raise DatasetError(f"{source}: none of the known dataset folders is there (see its README)")
    _prepare_out(out)
    say(f"hashing {len(items)} source images")
    hashed = _map(hash_item, items, workers)
    kept, dropped = dedupe(hashed, grouping)
    wild_overlap = overlapping_wild(kept, grouping)
    kept = [h for h in kept if h.item.key not in wild_overlap]
    placed = _place(kept, grouping, seed)
    wild = sum(p.split == WILD for p in placed)
    say(
        f"{len(dropped)} duplicates dropped, {len({p.group for p in placed})} groups; wild split "
        f"{wild} images, {len(wild_overlap)} left out of it as near-copies of other images"
    )
    size_rule = SizeRule(image_size=image_size)
    ctx = RenderContext(
        out=out, seed=seed, size_rule=size_rule, fonts=FontBook.discover(source / "memegen_fonts")
    )
    jobs = _plan(placed, counts, seed, source)
    browser = webpages.find_chromium() if chromium == "auto" else chromium
    page_jobs, renderer = webpage_jobs(counts.webpages, seed, list(html_roots), browser, out / "cache", say)
    jobs += page_jobs
    say(f"rendering {len(jobs)} images with {workers} worker(s)")
    rows = _map(run_in_worker, jobs, workers, init=ctx) if workers > 1 else [run_job(j, ctx) for j in jobs]
    labelled = [r for r in rows if r.label in LABELS]
    ambiguous = [r for r in rows if r.label not in LABELS]
    write_manifest(labelled, out / MANIFEST_FILE)
    write_manifest(ambiguous, out / "ambiguous.csv")
    dropped = {**dropped, **wild_overlap}
    _write_duplicates(dropped, out / "duplicates.csv")
    summary = summarise(labelled)
    summary.update(
        seed=seed,
        size_rule=dataclasses.asdict(size_rule),
        grouping=dataclasses.asdict(grouping),
        synth_counts=dataclasses.asdict(counts),
        webpage_renderer=renderer,
        ambiguous_templates=len(ambiguous),
        duplicates_dropped=len(dropped),
        wild_sources=sorted({p.item.source for p in placed if p.split == WILD}),
        wild_dropped_as_overlap=len(wild_overlap),
        label_conflicts=label_conflicts(kept, grouping),
        groups=len({r.group for r in labelled}),
        largest_group=max(Counter(r.group for r in labelled).values(), default=0),
        seconds=round(time.monotonic() - started, 1),
    )
    write_summary(summary, out / SUMMARY_FILE)
    return Manifest(out / MANIFEST_FILE, labelled, ambiguous, dropped, summary)


def _prepare_out(out: Path) -> None:
    """Refuse to write into a folder that is not empty and not a previous build; clear old images."""
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST_FILE).exists():
        raise DatasetError(f"{out} is not empty and holds no {MANIFEST_FILE}: choose an empty folder")
    if (out / "images").exists():
        shutil.rmtree(out / "images")
    out.mkdir(parents=True, exist_ok=True)


def _map(
    function: Callable[[T], R], values: Sequence[T], workers: int, init: RenderContext | None = None
) -> list[R]:
    if workers <= 1:
        return [function(v) for v in values]
    pool = (
        ProcessPoolExecutor(max_workers=workers, initializer=init_worker, initargs=(init,))
        if init is not None
        else ProcessPoolExecutor(max_workers=workers)
    )
    with pool:
        return list(pool.map(function, values, chunksize=32))


def _place(items: Sequence[HashedItem], grouping: GroupingRule, seed: int) -> list[Placed]:
    """Train/val/test by group for the sources that train; the wild sources' items go to WILD, grouped
    among themselves only (they were checked against the rest by `overlapping_wild`)."""
    wild = [h for h in items if h.item.wild]
    wild_groups = assign_groups(wild, grouping)
    kept = [h for h in items if not h.item.wild]
    groups = assign_groups(kept, grouping)
    members: dict[str, list[str]] = defaultdict(list)
    for h in kept:
        members[groups[h.item.key]].append(h.item.folder)
    split_of = assign_splits(members, seed=seed)
    return [Placed(h.item, split_of[groups[h.item.key]], groups[h.item.key]) for h in kept] + [
        Placed(h.item, WILD, f"{WILD}:{wild_groups[h.item.key]}") for h in wild
    ]


def _plan(placed: Sequence[Placed], counts: SynthCounts, seed: int, source: Path) -> list[Job]:
    templates = by_split(placed, TEMPLATE_PRIORITY)
    photos = photo_pool(placed)
    texts = memotion_captions(source)
    real: dict[str, list[str]] = {s: [] for s in SPLITS}
    for p in placed:
        caption = texts.get(p.item.path.name, "") if p.item.folder == "memotion" else ""
        if len(caption.split()) >= 2:
            real[p.split].append(clean_ocr(caption))
    all_templates = [p for s in SPLITS for p in templates[s]]
    return (
        copy_jobs(placed)
        + template_macros(all_templates, counts, real, seed)
        + photo_positives(photos, templates, counts, real, seed)
        + drawn_negatives(counts, photos, seed)
    )


def _write_duplicates(dropped: dict[str, str], path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("dropped", "kept"))
        writer.writerows(sorted(dropped.items()))
