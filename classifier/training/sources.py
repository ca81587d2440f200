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
)
# Ordinary photos: the backgrounds of caption-bar memes and of multi-panel memes.
PHOTO_FOLDERS = ("imagenet_sample", "scenes", "people")
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
                )
            )
    return items


def _repo_paths(sources_csv: Path) -> dict[str, str]:
    if not sources_csv.exists():
        return {}
    with sources_csv.open(encoding="utf-8", newline="") as handle:
        return {row["file"]: row.get("path", "") for row in csv.DictReader(handle)}


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
