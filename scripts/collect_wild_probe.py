"""Collect a "wild probe": real not-meme images found on this machine, outside ../shared/datasets.

The probe is for evaluation only, never for training: screenshots, charts, diagrams and photos that
ship with installed software, i.e. images made by other people for other purposes, which is where a
meme model trained on ../shared/datasets tends to fail (charts, diagrams, app screenshots, posters).

    nice -n 10 .venv/bin/python scripts/collect_wild_probe.py --out data/wild

Searched (fixed, documented locations; see `default_locations`): /usr/share/doc (nodejs doc_img
screenshots and plots, valgrind screenshots, pip's deps.png, libxslt diagrams), /usr/share/info
(GnuPG diagrams), one Rust toolchain's HTML docs (stable preferred), the running interpreter's
site-packages (matplotlib sample photo, networkx/sympy test baselines), ~/.pyenv's top level (README
screenshots), /usr/lib/google-cloud-sdk and /usr/lib/node_modules (bundled docs) and
/usr/share/backgrounds when present. /usr/share/pixmaps is not searched: it holds icons only.

Kept: PNG/JPEG/GIF/WebP files of at least 4 kB with both sides >= 200 px, not named like a logo or
icon, not in an icons folder, not a byte-identical copy of one already kept (sha256). The byte floor is
4 kB, not more, because palette diagrams and plots are often 4-15 kB; the side floor drops favicons.
Pruned: .git, __pycache__, icons folders, the Rust book's legacy editions (old copies of book/img),
and anything whose real path lies under /work/shared, /farm (a copy of the shared datasets), /tmp,
/proc, /sys, this project's data/ or the output folder. Each location gives at most 40 images, taken
round-robin across locations up to --cap (150), so one folder cannot dominate.

Writes OUT/not_meme/<location>-<path parts>.<ext> (byte-for-byte copies) and OUT/sources.csv (file,
original_path, kind, location, sha256, width, height) in file order. `kind` is a guess from a few
regexes over the path and name (`KIND_RULES`), not from looking at the image. No memes are collected:
none exist on the machine outside ../shared and this project's own renders, so OUT/meme/ is not made.
The copies are not committed (data/ is git-ignored): their licences vary.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import re
import shutil
import sys
import sysconfig
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

REPO = Path(__file__).resolve().parent.parent
SOURCES = "sources.csv"
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})
PRUNED_DIRS = frozenset({".git", "__pycache__", "icons", "first-edition", "second-edition", "2018-edition"})
SKIPPED_NAME = re.compile(r"logo|icon", re.IGNORECASE)
# Logos whose file names do not say so (checked by eye).
SKIPPED_FILES = frozenset({"full-white-stripe.jpg", "requests-sidebar.png"})
# First match wins, over the lower-cased absolute path.
KIND_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "diagram",
        re.compile(
            r"diagram|/deps\.png$|architecture|overview|memory-map|register|/crates\.png$"
            r"|/libxslt1-dev/|/networkx/drawing/"
        ),
    ),
    ("chart", re.compile(r"plot(ting)?[./]|chart|-over-time|-unit-time")),
    ("photo", re.compile(r"\.jpe?g$|-pic\.\w+$")),
    ("screenshot", re.compile(r"/rust/html/|/doc_img/|terminal|/valgrind/|/ext/ss|install_local")),
)
# Path parts that say nothing about the image, left out of output names.
BORING_PARTS = frozenset(
    {"assets", "baseline", "doc", "doc_img", "docs", "ext", "html", "images", "img", "mpl-data"}
    | {"platform", "root", "sample_data", "static", "_static", "tests", "third_party"}
)


@dataclass(frozen=True)
class Location:
    tag: str
    root: Path
    recursive: bool = True


@dataclass(frozen=True)
class Rules:
    min_side: int = 200
    min_bytes: int = 4_000
    per_location: int = 40
    cap: int = 150


@dataclass(frozen=True)
class Found:
    location: str
    path: Path
    sha256: str
    width: int
    height: int


@dataclass(frozen=True)
class Kept:
    file: str
    found: Found
    kind: str


def default_locations(home: Path, site_packages: Path) -> list[Location]:
    # One toolchain only: they ship the same docs. Stable first, then by name.
    toolchains = sorted(
        (home / ".rustup/toolchains").glob("*"), key=lambda p: (p.name[:6] != "stable", p.name)
    )
    rust = [Location("rustdoc", t / "share/doc/rust/html") for t in toolchains[:1]]
    return [
        Location("debian-doc", Path("/usr/share/doc")),
        Location("debian-info", Path("/usr/share/info")),
        *rust,
        Location("site-packages", site_packages),
        Location("pyenv", home / ".pyenv", recursive=False),
        Location("gcloud-sdk", Path("/usr/lib/google-cloud-sdk")),
        Location("node-modules", Path("/usr/lib/node_modules")),
        Location("backgrounds", Path("/usr/share/backgrounds")),
    ]


def default_excluded() -> list[Path]:
    return [Path(p) for p in ("/work/shared", "/farm", "/tmp", "/proc", "/sys")] + [REPO / "data"]


def guess_kind(path: Path) -> str:
    text = path.as_posix().lower()
    return next((kind for kind, rule in KIND_RULES if rule.search(text)), "other")


def _is_under(path: Path, roots: Sequence[Path]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def _image_files(location: Location, excluded: Sequence[Path]) -> Iterator[Path]:
    if not location.root.is_dir():
        return
    for folder, dirs, files in os.walk(location.root):
        dirs[:] = sorted(d for d in dirs if d.lower() not in PRUNED_DIRS) if location.recursive else []
        for name in sorted(files):
            path = Path(folder) / name
            if path.suffix.lower() in IMAGE_SUFFIXES and not _is_under(path.resolve(), excluded):
                yield path


def _size_if_wanted(path: Path, rules: Rules) -> tuple[int, int] | None:
    if SKIPPED_NAME.search(path.name) or path.name in SKIPPED_FILES:
        return None
    if not path.is_file() or path.stat().st_size < rules.min_bytes:
        return None
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError):
        return None
    return (width, height) if min(width, height) >= rules.min_side else None


def find_images(locations: Sequence[Location], excluded: Sequence[Path], rules: Rules) -> list[list[Found]]:
    """Per location, the wanted images in path order; a file seen before (by sha256) is left out."""
    seen: set[str] = set()
    per_location: list[list[Found]] = []
    for location in locations:
        found: list[Found] = []
        for path in _image_files(location, excluded):
            if len(found) >= rules.per_location:
                break
            size = _size_if_wanted(path, rules)
            if size is None:
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest not in seen:
                seen.add(digest)
                found.append(Found(location.tag, path, digest, *size))
        per_location.append(found)
    return per_location


def round_robin(per_location: Sequence[Sequence[Found]], cap: int) -> list[Found]:
    longest = max((len(found) for found in per_location), default=0)
    interleaved = [found[i] for i in range(longest) for found in per_location if i < len(found)]
    return interleaved[:cap]


def output_name(found: Found, root: Path, taken: set[str]) -> str:
    parts = [p for p in found.path.relative_to(root).parts if p.lower() not in BORING_PARTS]
    stem = "-".join([found.location, *parts[-3:]])
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem)
    name, counter = stem, 2
    while name in taken:
        base, dot, ext = stem.rpartition(".")
        name, counter = f"{base}-{counter}{dot}{ext}", counter + 1
    taken.add(name)
    return name


def _fresh_output(out: Path) -> Path:
    images = out / "not_meme"
    if images.exists():
        if not (out / SOURCES).exists():
            raise FileExistsError(f"{images} exists but holds no {SOURCES}: not a previous probe")
        shutil.rmtree(images)
    images.mkdir(parents=True)
    return images


def write_probe(chosen: Sequence[Found], roots: dict[str, Path], out: Path) -> list[Kept]:
    images = _fresh_output(out)
    taken: set[str] = set()
    kept = [Kept(output_name(f, roots[f.location], taken), f, guess_kind(f.path)) for f in chosen]
    kept.sort(key=lambda k: k.file)
    for item in kept:
        shutil.copyfile(item.found.path, images / item.file)
    with (out / SOURCES).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "original_path", "kind", "location", "sha256", "width", "height"])
        for k in kept:
            f = k.found
            writer.writerow([k.file, f.path.as_posix(), k.kind, f.location, f.sha256, f.width, f.height])
    return kept


def collect(
    locations: Sequence[Location], out: Path, *, excluded: Sequence[Path], rules: Rules = Rules()
) -> list[Kept]:
    """Find, cap, copy and list the probe images; returns what was written, in file order."""
    excluded = [p.resolve() for p in [*excluded, out]]
    chosen = round_robin(find_images(locations, excluded, rules), rules.cap)
    return write_probe(chosen, {loc.tag: loc.root for loc in locations}, out)


def summary(kept: Sequence[Kept]) -> str:
    kinds = Counter(k.kind for k in kept)
    places = Counter(k.found.location for k in kept)
    lines = [f"{len(kept)} images (kind guessed from path/name)"]
    lines += [f"  {kind:<11} {n}" for kind, n in sorted(kinds.items())]
    lines += ["by location:"] + [f"  {place:<14} {n}" for place, n in sorted(places.items())]
    for location in sorted(places):
        by_kind = Counter(k.kind for k in kept if k.found.location == location)
        lines.append(f"  {location}: " + ", ".join(f"{kind} {n}" for kind, n in sorted(by_kind.items())))
    lines.append("meme/: not created (no real memes on this machine outside ../shared)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Collect the wild probe (see the module docstring).")
    parser.add_argument("--out", type=Path, required=True, help="output folder, e.g. data/wild")
    parser.add_argument("--cap", type=int, default=Rules.cap, help="most images in all")
    parser.add_argument("--per-location", type=int, default=Rules.per_location)
    args = parser.parse_args(argv)
    site_packages = Path(sysconfig.get_paths()["purelib"])
    locations = default_locations(Path.home(), site_packages)
    rules = Rules(cap=args.cap, per_location=args.per_location)
    kept = collect(locations, args.out, excluded=default_excluded(), rules=rules)
    print(f"wrote {args.out / 'not_meme'} and {args.out / SOURCES}")
    print(summary(kept))
    return 0


if __name__ == "__main__":
    sys.exit(main())
