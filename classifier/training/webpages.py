"""Web and documentation pages as images: local HTML rendered by headless Chromium, or Pillow mock-ups.

Chromium renders HTML already on the machine (Debian package docs, Node/npm docs, Rust docs, ...)
at desktop and phone window sizes, light or forced-dark. Without Chromium, `mock_page` draws a
page-like layout (header, navigation, sidebar, headings, paragraphs, buttons, cards, chat bubbles)
with Pillow, so the dataset still has web-page negatives.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from classifier.training import captions
from classifier.training.fonts import FontBook, line_height, load_font, wrap

HTML_ROOTS = (
    Path("/usr/share/doc"),
    Path("/usr/share/gtk-doc"),
    Path("/usr/lib/node_modules/npm/docs"),
    Path("/usr/lib/google-cloud-sdk"),
    Path.home() / ".rustup/toolchains",
)
# Pages that navigate away (to the network, which headless Chromium here cannot reach) render
# Chromium's "This site can't be reached" page instead of themselves.
_REDIRECT = re.compile(
    rb"http-equiv=[\"']?refresh|location\.replace\s*\(|location(?:\.href)?\s*=[^=]", re.IGNORECASE
)
WINDOWS = ((1280, 800), (1024, 768), (1440, 900), (800, 1000), (390, 844), (412, 915))
_MIN_BYTES, _MAX_BYTES = 3_000, 1_500_000  # skip redirect stubs and huge single-page manuals
_MAX_PER_COLLECTION = 2_000  # the Rust docs alone have 100,000 pages; walking them all takes long
_CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
    "--disable-extensions", "--mute-audio",
)  # fmt: skip


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def discover_html(roots: Iterable[Path] = HTML_ROOTS) -> list[tuple[str, Path]]:
    """(collection, file) for readable, non-trivial local HTML files, sorted for reproducible choices.

    A collection is a root's first-level folder (one package's docs, one toolchain's docs), so that
    choosing pages can spread over doc sets instead of drowning in the largest one.
    """
    found: list[tuple[str, Path]] = []
    for root in roots:
        if not root.is_dir():
            continue
        per_collection: dict[str, int] = {}
        for folder, dirs, files in os.walk(root):
            dirs.sort()  # a fixed walk order, so the per-collection cap keeps the same pages every time
            relative = Path(folder).relative_to(root).parts
            collection = str(root / relative[0]) if relative else str(root)
            if per_collection.get(collection, 0) >= _MAX_PER_COLLECTION:
                dirs.clear()
                continue
            for name in sorted(files):
                if not name.endswith((".html", ".htm")):
                    continue
                path = Path(folder) / name
                try:
                    size = path.stat().st_size
                except OSError:
                    continue
                if _MIN_BYTES <= size <= _MAX_BYTES:
                    found.append((collection, path))
                    per_collection[collection] = per_collection.get(collection, 0) + 1
    return sorted(found)


def renders_itself(page: Path, seen: set[str]) -> bool:
    """False for pages that redirect, cannot be read, or repeat a page already in `seen` (content hash)."""
    try:
        data = page.read_bytes()
    except OSError:
        return False
    digest = hashlib.sha1(data).hexdigest()
    if digest in seen or _REDIRECT.search(data[:65536]):
        return False
    seen.add(digest)
    return True


def choose_pages(
    pages: Sequence[tuple[str, Path]], count: int, rng: random.Random, keep: Callable[[Path], bool] = bool
) -> list[Path]:
    """`count` pages passing `keep`, round robin over collections and, within each, over folders."""
    tree: dict[str, dict[Path, list[Path]]] = {}
    for collection, page in pages:
        tree.setdefault(collection, {}).setdefault(page.parent, []).append(page)
    # Reversed, so that pop() (cheap) takes each collection's pages in round-robin order.
    queues = {name: _round_robin(folders, rng)[::-1] for name, folders in sorted(tree.items())}
    order = sorted(queues)
    rng.shuffle(order)
    chosen: list[Path] = []
    while len(chosen) < count and any(queues.values()):
        for name in order:
            while queues[name] and len(chosen) < count:
                page = queues[name].pop()
                if keep(page):
                    chosen.append(page)
                    break
    return chosen


def _round_robin(folders: dict[Path, list[Path]], rng: random.Random) -> list[Path]:
    """All pages of a collection, one folder after another in turn, so similar pages come last."""
    lists = [rng.sample(pages, len(pages)) for _, pages in sorted(folders.items())]
    rng.shuffle(lists)
    longest = max((len(x) for x in lists), default=0)
    return [x[i] for i in range(longest) for x in lists if i < len(x)]


def render_html(
    chromium: str, page: Path, rng: random.Random, *, timeout: float = 60.0
) -> Image.Image | None:
    """Screenshot of a local HTML page in a fresh headless Chromium; None when it fails or is blank."""
    width, height = rng.choice(WINDOWS)
    dark = ["--force-dark-mode", "--enable-features=WebContentsForceDark"] if rng.random() < 0.25 else []
    with tempfile.TemporaryDirectory(prefix="memebot-chromium-") as tmp:
        shot = Path(tmp) / "page.png"
        command = [
            chromium, *_CHROMIUM_FLAGS, *dark, f"--user-data-dir={tmp}/profile",
            f"--window-size={width},{height}", f"--screenshot={shot}", page.resolve().as_uri(),
        ]  # fmt: skip
        try:
            subprocess.run(command, capture_output=True, timeout=timeout, check=False)
            with Image.open(shot) as img:
                result = _trim_flat_bottom(img.convert("RGB"))
        except (OSError, subprocess.SubprocessError):
            return None
    return None if _blank(result) else result


def _trim_flat_bottom(img: Image.Image) -> Image.Image:
    """Cut a single-colour band off the bottom (short pages; headless Chromium's unpainted strip)."""
    rows = np.asarray(img.convert("L"), dtype=np.int16)
    varied = np.nonzero(rows.max(axis=1) - rows.min(axis=1) > 4)[0]
    bottom = int(varied[-1]) + 16 if len(varied) else img.height
    return img.crop((0, 0, img.width, min(img.height, max(bottom, img.height * 2 // 5))))


def _blank(img: Image.Image) -> bool:
    return float(np.asarray(img.convert("L"), dtype=np.float32).std()) < 6.0


THEMES = (  # page, text, header, accent
    ((255, 255, 255), (33, 37, 41), (33, 37, 41), (13, 110, 253)),
    ((250, 250, 250), (40, 40, 40), (30, 90, 160), (30, 90, 160)),
    ((24, 26, 27), (220, 220, 220), (40, 44, 52), (97, 175, 239)),
    ((255, 255, 255), (50, 50, 50), (0, 128, 96), (0, 128, 96)),
)


def mock_page(rng: random.Random, fonts: FontBook) -> Image.Image:
    """A Pillow-drawn web page or app screen: header with navigation, optional sidebar, content."""
    width, height = rng.choice(WINDOWS)
    page, ink, header, accent = rng.choice(THEMES)
    img = Image.new("RGB", (width, height), page)
    draw = ImageDraw.Draw(img)
    size = max(11, round(width * rng.uniform(0.012, 0.02))) if width > 600 else rng.randint(13, 17)
    font = load_font(fonts.pick(rng, fonts.sans()), size)
    bold = load_font(fonts.pick(rng, fonts.bold()), round(size * 1.2))
    bar = round(size * 3.2)
    draw.rectangle((0, 0, width, bar), fill=header)
    draw.text((size, bar // 3), captions.title(rng, (1, 2)), font=bold, fill="white")
    x = width // 3
    for _ in range(rng.randint(2, 5) if width > 600 else 0):
        label = captions.title(rng, (1, 1))
        draw.text((x, bar // 3), label, font=font, fill=(230, 230, 230))
        x += round(font.getlength(label)) + 2 * size
    left = size
    if width > 900 and rng.random() < 0.6:  # sidebar of links
        for i in range(height // (size * 2)):
            draw.text((size, bar + size + i * size * 2), captions.title(rng, (1, 3)), font=font, fill=accent)
        left = width // 4
    _content(draw, rng, fonts, (left, bar + size, width - size, height), ink, accent, size)
    return img


def _content(
    draw: ImageDraw.ImageDraw,
    rng: random.Random,
    fonts: FontBook,
    box: tuple[int, int, int, int],
    ink: tuple[int, int, int],
    accent: tuple[int, int, int],
    size: int,
) -> None:
    left, y, right, bottom = box
    font = load_font(fonts.pick(rng, fonts.sans()), size)
    while y < bottom:
        block = rng.choice(("heading", "text", "text", "button", "bubble"))
        if block == "heading":
            face = load_font(fonts.pick(rng, fonts.bold()), round(size * rng.uniform(1.4, 2.2)))
            draw.text((left, y), captions.title(rng), font=face, fill=ink)
            y += line_height(face) + size
        elif block == "button":
            label = captions.title(rng, (1, 2))
            w = round(font.getlength(label)) + 2 * size
            draw.rounded_rectangle((left, y, left + w, y + 2 * size), radius=size // 2, fill=accent)
            draw.text((left + size, y + size // 2), label, font=font, fill="white")
            y += 3 * size
        else:
            indent = rng.randint(0, (right - left) // 3) if block == "bubble" else 0
            lines = wrap(captions.paragraph(rng, (1, 3)), font, right - left - indent - 2 * size)
            if block == "bubble":
                h = len(lines) * line_height(font) * 5 // 4 + size
                draw.rounded_rectangle((left + indent, y, right, y + h), radius=size, fill=(225, 235, 250))
            for line in lines:
                draw.text(
                    (left + indent + size // 2, y + size // 2),
                    line,
                    font=font,
                    fill=(20, 20, 20) if block == "bubble" else ink,
                )
                y += line_height(font) * 5 // 4
            y += size * 2
