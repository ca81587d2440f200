"""The source folders of ../shared/datasets: what each one is, and which files belong together.

A "family" is a set of files that are variants of one original (the same paper's pages, one product
photographed five times, one app dialog in several states); families must stay inside one split,
as the datasets README asks ("split by source file family (sources.csv)").
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

MEME, NOT_MEME, TEMPLATE = "meme", "not_meme", "template"
LABELS = (MEME, NOT_MEME)
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"})


@dataclass(frozen=True)
class FolderSpec:
    name: str
    role: str  # meme, not_meme or template (a blank meme background: neither label)
    kind: str
    text_bearing: bool


FOLDERS = (
    FolderSpec("memotion", MEME, "meme", True),
    FolderSpec("memegen_templates", TEMPLATE, "template", False),
    FolderSpec("blank_templates", TEMPLATE, "template", False),
    FolderSpec("imagenet_sample", NOT_MEME, "photo", False),
    FolderSpec("clothing", NOT_MEME, "product", False),
    FolderSpec("receipts", NOT_MEME, "receipt", True),
    FolderSpec("screenshots", NOT_MEME, "screenshot", True),
    FolderSpec("charts", NOT_MEME, "chart", True),
    FolderSpec("documents", NOT_MEME, "document", True),
    FolderSpec("people", NOT_MEME, "people", False),
    FolderSpec("scenes", NOT_MEME, "photo", False),
    FolderSpec("grocery", NOT_MEME, "packaging", True),
    FolderSpec("memes_reddit", MEME, "meme", True),
    FolderSpec("memes_macros", MEME, "macro", True),
    FolderSpec("memes_spanish", MEME, "meme", True),
    FolderSpec("posters_covers", NOT_MEME, "poster", True),
    FolderSpec("photos_people_places", NOT_MEME, "people", False),
    FolderSpec("screens_slides", NOT_MEME, "screenshot", True),
)
# Ordinary photos: the backgrounds of caption-bar memes and of multi-panel memes.
PHOTO_FOLDERS = ("imagenet_sample", "scenes", "people", "photos_people_places")
# Folders gathered from several places: each file name's prefix names its place (`vhs_...`,
# `slides_emc_...`), and each place is a source of its own in reports and in the wild split.
MULTI_SOURCE_FOLDERS = frozenset(
    {
        "memes_reddit",
        "memes_macros",
        "memes_spanish",
        "posters_covers",
        "photos_people_places",
        "screens_slides",
    }
)
# The wild split: whole sources that never train, to measure the model on pictures from places it
# has not seen (docs/model.md). Posters and covers, photos of people and pets, phone screens and slides,
# memes from other communities and years than Memotion; the rest of each folder trains.
WILD_SOURCES = frozenset(
    {
        "memes_spanish/memedet",  # Spanish-language web memes, 2019-2020
        "memes_reddit/wholesome",  # r/wholesomememes
        "posters_covers/vhs",  # Spanish DVD/VHS covers
        "posters_covers/audiobook",  # audiobook covers
        "photos_people_places/memedet",  # people, parties, selfies, cars, landscapes
        "photos_people_places/stock",  # stock photos: pets, animals, sport, food, cities
        "photos_people_places/stock2",
        "screens_slides/app",  # Android app screenshots (phone screens)
        "screens_slides/slides_fhir",  # two of the five slide decks
        "screens_slides/slides_icap",
    }
)
# memegen templates first: where a blank template duplicates one, the one with a config is kept.
TEMPLATE_PRIORITY = ("memegen_templates", "blank_templates")


@dataclass(frozen=True)
class SourceItem:
    key: str  # "<folder>/<file name>", unique and stable: the item's id everywhere
    path: Path
    folder: str
    role: str
    kind: str
    text_bearing: bool
    family: str | None  # files sharing a family share a group
    source: str = ""  # the folder, or "<folder>/<prefix>" for MULTI_SOURCE_FOLDERS

    @property
    def wild(self) -> bool:
        return self.source in WILD_SOURCES


def scan_sources(source: Path) -> list[SourceItem]:
    """Every image of the known folders, in a fixed order; unknown folders are ignored."""
    items: list[SourceItem] = []
    for spec in FOLDERS:
        folder = source / spec.name
        if not folder.is_dir():
            continue
        repo_paths = _repo_paths(folder / "sources.csv")
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            family = family_of(spec.name, path.stem, repo_paths.get(path.name, ""))
            items.append(
                SourceItem(
                    key=f"{spec.name}/{path.name}",
                    path=path,
                    folder=spec.name,
                    role=spec.role,
                    kind=spec.kind,
                    text_bearing=spec.text_bearing,
                    family=f"{spec.name}:{family}" if family else None,
                    source=source_of(spec.name, path.stem),
                )
            )
    return items


def _repo_paths(sources_csv: Path) -> dict[str, str]:
    if not sources_csv.exists():
        return {}
    with sources_csv.open(encoding="utf-8", newline="") as handle:
        return {row["file"]: row.get("path", "") for row in csv.DictReader(handle)}


def source_of(folder: str, stem: str) -> str:
    """The folder, or for a folder of several places "<folder>/<prefix>" (slides: "slides_<deck>")."""
    if folder not in MULTI_SOURCE_FOLDERS:
        return folder
    tokens = stem.split("_")
    prefix = "_".join(tokens[:2]) if tokens[0] == "slides" and len(tokens) > 1 else tokens[0]
    return f"{folder}/{prefix}"


_TOKENS = re.compile(r"[_\-\s.]+")


def _leading_tokens(stem: str, count: int) -> str:
    tokens = [t for t in _TOKENS.split(stem) if t and not t.isdigit()]
    return "_".join(tokens[:count]).lower()


def family_of(folder: str, stem: str, repo_path: str) -> str | None:
    """The family of one file, from its name and its path in the original repository; None = alone."""
    prefix = stem.split("_", 1)[0]
    rest = stem.split("_", 1)[1] if "_" in stem else stem
    parent = repo_path.rsplit("/", 1)[0] if "/" in repo_path else ""
    if folder == "charts" and prefix == "vegalite":
        return f"vegalite:{_leading_tokens(rest, 2)}"  # variants of one example share a name stem
    if folder == "charts" or (folder == "documents" and prefix == "ocrd") or folder == "grocery":
        return parent or None  # one test-fixture folder, one scanned book, one product
    if folder == "documents" and prefix == "marmot":
        return rest.rsplit("_", 1)[0]  # pages of one paper
    if folder == "screenshots":
        original = repo_path.rsplit("/", 1)[-1].rsplit(".", 1)[0] or rest
        tokens = _leading_tokens(original, 2)  # one dialog or screen in several states
        return f"{prefix}:{tokens}" if tokens else None
    if folder == "screens_slides" and prefix in ("slides", "app"):
        return "_".join(stem.split("_")[:2])  # one deck's slides, one app's screens
    if folder == "people" and prefix == "fmask":
        return re.sub(r"_copy(_\d+)?$", "", stem)  # augmented copies of one face photo
    return None


def memotion_captions(source: Path) -> dict[str, str]:
    """Memotion file name -> its caption text (the corrected OCR, else the raw OCR)."""
    labels = source / "memotion" / "labels.csv"
    if not labels.exists():
        return {}
    with labels.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle)
        return {
            row["image_name"]: (row.get("text_corrected") or row.get("text_ocr") or "").strip()
            for row in rows
            if row.get("image_name")
        }
