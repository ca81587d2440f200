"""Planning: which images to copy and which to synthesize, in which split and group.

The rule that keeps splits honest: a synthetic image is made only from material of one split and
joins the group of its (first) source picture, so a template or photo never shows up in two splits,
whether bare or inside a meme. Captions taken from Memotion come from memes of the same split.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from classifier.training import captions
from classifier.training.grouping import SPLITS, WILD, split_quota
from classifier.training.jobs import Job
from classifier.training.memegen import read_template_config
from classifier.training.normalise import item_rng
from classifier.training.sources import MEME, NOT_MEME, PHOTO_FOLDERS, SourceItem


@dataclass(frozen=True)
class SynthCounts:
    """How many synthetic images to make (totals over all splits)."""

    macros_per_memegen: int = 6  # per memegen template, in its text boxes
    macros_per_blank: int = 2  # per blank template, classic top/bottom
    photo_macros: int = 400  # classic top/bottom captions on ordinary photos
    caption_bars: int = 1500
    multi_panels: int = 600
    charts: int = 1000
    documents: int = 1000
    posters: int = 700
    webpages: int = 300  # Chromium screenshots of local HTML (Pillow mock-ups without Chromium)
    app_screens: int = 150  # Pillow mock-ups of pages and chat screens

    def scaled(self, factor: float) -> SynthCounts:
        """Every count times `factor` (per-template counts too, rounded up so templates keep one)."""
        return SynthCounts(
            **{
                f.name: (math.ceil if f.name.startswith("macros_per") else round)(
                    getattr(self, f.name) * factor
                )
                for f in dataclasses.fields(self)
            }
        )


@dataclass(frozen=True)
class Placed:
    item: SourceItem
    split: str
    group: str


def _name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


def copy_jobs(placed: Sequence[Placed]) -> list[Job]:
    """Real images, stored after the shared size rule (the wild split's byte for byte, as people post
    them); templates go to 'ambiguous'."""
    jobs = []
    for p in placed:
        label = p.item.role if p.item.role in (MEME, NOT_MEME) else "ambiguous"
        stem = _name(Path(p.item.path).stem)
        jobs.append(
            Job(
                key=p.item.key,
                renderer="verbatim" if p.split == WILD else "copy",
                out=f"images/{p.split}/{label}/{p.item.folder}-{stem}.jpg",
                label=p.item.role,
                split=p.split,
                group=p.group,
                source=p.item.source or p.item.folder,
                kind=p.item.kind,
                text_bearing=p.item.text_bearing,
                inputs=(str(p.item.path),),
                note=p.item.key,
            )
        )
    return jobs


def _synth(
    key: str,
    renderer: str,
    kind: str,
    split: str,
    group: str,
    *,
    source: str = "",
    label: str = MEME,
    inputs: tuple[str, ...] = (),
    texts: tuple[str, ...] = (),
    options: tuple[str, ...] = (),
) -> Job:
    return Job(
        key=key,
        renderer=renderer,
        out=f"images/{split}/{label}/{_name(key)}.jpg",
        label=label,
        split=split,
        group=group,
        source=source or f"synth_{kind}",
        kind=kind,
        text_bearing=True,
        inputs=inputs,
        texts=texts,
        options=options,
    )


def _box_texts(rng: random.Random, n: int, examples: Sequence[str], real: Sequence[str]) -> tuple[str, ...]:
    """Texts for n boxes: the template's own examples (a third of the time), else made-up captions."""
    if examples and rng.random() < 0.35:
        return tuple((list(examples) + [""] * n)[:n])
    if n == 2:
        return captions.pick_pair(rng, real)
    short = (lambda: captions.macro_pair(rng)[0], lambda: rng.choice(captions.REACTIONS))
    return tuple(rng.choice(short)() for _ in range(n))


def template_macros(
    templates: Sequence[Placed], counts: SynthCounts, real: Mapping[str, Sequence[str]], seed: int
) -> list[Job]:
    """Captions in each memegen template's own boxes (or classic top/bottom), and on blank templates."""
    jobs = []
    for t in templates:
        config_path = t.item.path.with_suffix(".yml")
        memegen = config_path.exists()
        config = read_template_config(config_path)
        for k in range(counts.macros_per_memegen if memegen else counts.macros_per_blank):
            key = f"macro-{t.item.folder}-{t.item.path.stem}-{k}"
            rng = item_rng(seed, key, "plan")
            classic_boxes = not memegen or rng.random() < 0.2
            n_boxes = 2 if classic_boxes else len(config.boxes)
            texts = _box_texts(rng, n_boxes, () if classic_boxes else config.examples, real[t.split])
            options: tuple[str, ...] = ("classic_boxes",) if classic_boxes else ()
            if classic_boxes or rng.random() < 0.3:
                options += ("classic_font",)
            inputs = (str(t.item.path), str(config_path)) if memegen else (str(t.item.path),)
            jobs.append(
                _synth(key, "macro", "macro", t.split, t.group, inputs=inputs, texts=texts, options=options)
            )
    return jobs


def _quota(total: int, pools: Mapping[str, Sequence[Placed]]) -> dict[str, int]:
    """Spread `total` over splits in proportion to the material each split has."""
    weights = [len(pools[s]) for s in SPLITS]
    if not any(weights):
        return dict.fromkeys(SPLITS, 0)
    return split_quota(total, weights)


def _cycle(pool: Sequence[Placed], count: int, rng: random.Random) -> list[Placed]:
    """`count` items from pool, each used once before any is used twice."""
    out: list[Placed] = []
    while pool and len(out) < count:
        batch = list(pool)
        rng.shuffle(batch)
        out.extend(batch[: count - len(out)])
    return out


def photo_positives(
    photos: Mapping[str, Sequence[Placed]],
    templates: Mapping[str, Sequence[Placed]],
    counts: SynthCounts,
    real: Mapping[str, Sequence[str]],
    seed: int,
) -> list[Job]:
    """Macros on photos, caption bars (over photos or templates) and multi-panel memes, per split."""
    jobs: list[Job] = []
    for split in SPLITS:
        rng = item_rng(seed, split, "photo_positives")
        for i, p in enumerate(_cycle(photos[split], _quota(counts.photo_macros, photos)[split], rng)):
            key = f"photo_macro-{split}-{i:05d}"
            pair = captions.pick_pair(item_rng(seed, key, "plan"), real[split])
            options = ("classic_font",)
            source = "synth_photo_macro"
            photo = (str(p.item.path),)
            jobs.append(
                _synth(
                    key,
                    "macro",
                    "macro",
                    split,
                    p.group,
                    source=source,
                    inputs=photo,
                    texts=pair,
                    options=options,
                )
            )
        quota = _quota(counts.caption_bars, photos)[split]
        jobs += _caption_bars(split, photos[split], templates[split], quota, real[split], seed, rng)
        mixed = [*photos[split], *templates[split]]
        for i in range(_quota(counts.multi_panels, photos)[split] if mixed else 0):
            key = f"multi_panel-{split}-{i:05d}"
            krng = item_rng(seed, key, "plan")
            panels = [krng.choice(mixed) for _ in range(krng.choice((2, 2, 3, 4)))]
            paths = tuple(str(p.item.path) for p in panels)
            texts = tuple(captions.pick_bar(krng, real[split]) for _ in panels)
            jobs.append(
                _synth(key, "multi_panel", "multi_panel", split, panels[0].group, inputs=paths, texts=texts)
            )
    return jobs


def _caption_bars(
    split: str,
    photos: Sequence[Placed],
    templates: Sequence[Placed],
    quota: int,
    real: Sequence[str],
    seed: int,
    rng: random.Random,
) -> list[Job]:
    jobs = []
    bar_photos, bar_templates = _cycle(photos, quota, rng), _cycle(templates, quota, rng)
    for i in range(quota if bar_photos or bar_templates else 0):
        key = f"caption_bar-{split}-{i:05d}"
        krng = item_rng(seed, key, "plan")
        # Mostly ordinary photos (today's commonest meme), sometimes a template under the bar.
        use_template = bool(bar_templates) and (not bar_photos or krng.random() < 0.25)
        p = bar_templates[i] if use_template else bar_photos[i]
        text = (captions.pick_bar(krng, real),)
        jobs.append(
            _synth(key, "caption_bar", "caption_bar", split, p.group, inputs=(str(p.item.path),), texts=text)
        )
    return jobs


def drawn_negatives(counts: SynthCounts, photos: Mapping[str, Sequence[Placed]], seed: int) -> list[Job]:
    """Charts, documents, posters and app screens: each its own group unless it shows a photo."""
    jobs: list[Job] = []
    kinds = (
        ("chart", "chart", counts.charts),
        ("document", "document", counts.documents),
        ("poster", "poster", counts.posters),
        ("mock_page", "app_screen", counts.app_screens),
    )
    for renderer, name, total in kinds:
        kind = "webpage" if renderer == "mock_page" else renderer
        for split, quota in split_quota(total).items():
            for i in range(quota):
                key = f"{name}-{split}-{i:05d}"
                group, inputs = f"synth_{name}/{split}/{i:05d}", tuple[str, ...]()
                if renderer == "poster" and photos[split] and item_rng(seed, key, "plan").random() < 0.5:
                    photo = item_rng(seed, key, "photo").choice(photos[split])
                    group, inputs = photo.group, (str(photo.item.path),)
                source = f"synth_{name}"
                jobs.append(
                    _synth(key, renderer, kind, split, group, source=source, label=NOT_MEME, inputs=inputs)
                )
    return jobs


def by_split(placed: Sequence[Placed], folders: Sequence[str]) -> dict[str, list[Placed]]:
    return {s: [p for p in placed if p.split == s and p.item.folder in folders] for s in SPLITS}


def photo_pool(placed: Sequence[Placed]) -> dict[str, list[Placed]]:
    return by_split(placed, PHOTO_FOLDERS)
