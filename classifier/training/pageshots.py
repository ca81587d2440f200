"""Web-page negatives: choose local HTML pages, screenshot them with Chromium (cached), group, split.

Pages are grouped by their folder (one doc set's pages share a look) and by the pHash of their
screenshot (the same page shipped by several packages, e.g. IDLE's help in every Python), then split
like everything else. Pages that fail to render become Pillow mock-ups in the same split.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from classifier.training import webpages
from classifier.training.grouping import GroupingRule, assign_groups, assign_splits, hash_item, split_quota
from classifier.training.jobs import Job
from classifier.training.normalise import item_rng
from classifier.training.sources import NOT_MEME, SourceItem

SOURCE = "synth_webpage"
_CHROMIUM_THREADS = 3  # each Chromium mostly waits; three at a time keep two cores busy
_RENDER_VERSION = 1  # bump when render_html changes, so old cached screenshots are not reused


def webpage_jobs(
    count: int,
    seed: int,
    roots: Sequence[Path],
    chromium: str | None,
    cache: Path,
    say: Callable[[str], None],
) -> tuple[list[Job], str]:
    """`count` web-page jobs and the renderer used ("chromium", "pillow" or "none")."""
    pages = webpages.discover_html(roots) if chromium and count else []
    if not pages or chromium is None:
        return mock_pages(count), "pillow" if count else "none"
    seen: set[str] = set()
    keep = functools.partial(webpages.renders_itself, seen=seen)
    chosen = webpages.choose_pages(pages, count, item_rng(seed, "webpages", "choose"), keep)
    say(f"rendering {len(chosen)} of {len(pages)} local HTML pages with {chromium}")
    cache.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=_CHROMIUM_THREADS) as pool:
        shots = list(pool.map(lambda page: _shoot(chromium, page, cache, seed), chosen))
    items = [
        SourceItem(str(page), shot, SOURCE, NOT_MEME, "webpage", True, str(page.parent))
        for page, shot in zip(chosen, shots, strict=True)
        if shot is not None
    ]
    groups = assign_groups([hash_item(item) for item in items], GroupingRule())
    failed = [page for page, shot in zip(chosen, shots, strict=True) if shot is None]
    groups.update({str(page): f"mock:{page}" for page in failed})
    split_of = assign_splits({g: [SOURCE] for g in set(groups.values())}, seed=seed)
    jobs = []
    for i, page in enumerate(chosen):
        group = groups[str(page)]
        shot = shots[i]
        renderer, inputs = ("copy", (str(shot),)) if shot is not None else ("mock_page", ())
        jobs.append(
            _job(f"webpage-{i:05d}", renderer, split_of[group], f"{SOURCE}/{group}", inputs, page.as_uri())
        )
    say(f"{len(chosen) - len(failed)} pages rendered, {len(failed)} failed (Pillow mock-ups instead)")
    return jobs, "chromium"


def _shoot(chromium: str, page: Path, cache: Path, seed: int) -> Path | None:
    """The cached screenshot of a page, or None.

    Window size and theme depend on the page's bytes (and the seed), so a page shipped in several
    places renders alike and its copies are grouped by their screenshots' hashes.
    """
    try:
        content = hashlib.sha1(page.read_bytes()).hexdigest()
    except OSError:
        return None
    # Named by everything that decides the picture, so a cached shot is always the one a fresh run makes.
    name = hashlib.sha1(f"{_RENDER_VERSION}:{page}:{content}".encode()).hexdigest()[:20]
    shot = cache / f"{seed}-{name}.png"
    if not shot.exists():
        img = webpages.render_html(chromium, page, item_rng(seed, content, "window"))
        if img is None:
            return None
        img.save(shot)
    return shot


def _job(key: str, renderer: str, split: str, group: str, inputs: tuple[str, ...], note: str) -> Job:
    return Job(
        key=key,
        renderer=renderer,
        out=f"images/{split}/{NOT_MEME}/{key}.jpg",
        label=NOT_MEME,
        split=split,
        group=group,
        source=SOURCE,
        kind="webpage",
        text_bearing=True,
        inputs=inputs,
        note=note if renderer == "copy" else "pillow mock-up",
    )


def mock_pages(count: int) -> list[Job]:
    """Pillow-drawn pages when Chromium is missing: each its own group."""
    return [
        _job(f"webpage-{split}-{i:05d}", "mock_page", split, f"{SOURCE}/{split}/{i:05d}", (), "")
        for split, quota in split_quota(count).items()
        for i in range(quota)
    ]
