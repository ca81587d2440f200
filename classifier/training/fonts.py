"""Font discovery and fitting text into boxes, shared by every renderer (memes, documents, posters).

Fonts come from the dataset's `memegen_fonts/` (proprietary ones such as Impact are used only to
render training images, never copied into the project) and from the system font folders. When no
font file exists at all, Pillow's built-in scalable default font stands in, so tests run anywhere.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import ImageDraw, ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
SYSTEM_FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
FONT_SUFFIXES = (".ttf", ".otf")
# memegen's font names (config `font:`) -> file stems in memegen_fonts/.
MEMEGEN_FONTS = {
    "thick": "TitilliumWeb-Black",
    "thin": "TitilliumWeb-SemiBold",
    "comic": "Kalam-Regular",
    "impact": "Impact",
    "notosans": "NotoSans-Bold",
    "hebrew": "NotoSansHebrew-Bold",
}
_SKIP = ("Math", "Hebrew", "Symbol", "Emoji")  # fonts without a usable Latin alphabet look


@dataclass(frozen=True)
class FontBook:
    """Every usable font file, sorted so that choices made with a seeded RNG are reproducible."""

    files: tuple[Path, ...] = ()
    by_stem: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def discover(cls, *dirs: Path) -> FontBook:
        found: dict[str, Path] = {}
        for folder in (*dirs, *SYSTEM_FONT_DIRS):
            if folder.is_dir():
                for path in sorted(folder.rglob("*")):
                    if path.suffix.lower() in FONT_SUFFIXES and not any(s in path.stem for s in _SKIP):
                        found.setdefault(path.stem, path)
        files = tuple(found[stem] for stem in sorted(found))
        return cls(files=files, by_stem=dict(found))

    def memegen(self, name: str) -> Path | None:
        return self.by_stem.get(MEMEGEN_FONTS.get(name, MEMEGEN_FONTS["thick"]))

    def bold(self) -> tuple[Path, ...]:
        return tuple(p for p in self.files if any(w in p.stem for w in ("Bold", "Black", "Impact")))

    def heavy_sans(self) -> tuple[Path, ...]:
        """Upright heavy sans faces: what meme lettering falls back to when Impact is not chosen."""
        slanted = ("Italic", "Oblique", "Serif", "Mono", "Kalam")
        return tuple(p for p in self.bold() if not any(w in p.stem for w in slanted))

    def sans(self) -> tuple[Path, ...]:
        return tuple(p for p in self.files if not any(w in p.stem for w in ("Serif", "Mono", "Kalam")))

    def pick(self, rng: random.Random, choices: Sequence[Path] = ()) -> Path | None:
        pool = tuple(choices) or self.files
        return rng.choice(pool) if pool else None

    def macro(self, rng: random.Random) -> Path | None:
        """Image-macro lettering: Impact most of the time, as on the real thing, else a heavy sans."""
        impact = self.by_stem.get("Impact")
        if impact is not None and rng.random() < 0.6:
            return impact
        return self.pick(rng, self.heavy_sans())


@functools.lru_cache(maxsize=512)
def load_font(path: Path | None, size: int) -> Font:
    size = max(6, int(size))
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(str(path), size=size)


def text_width(font: Font, text: str) -> float:
    return float(font.getlength(text))


def line_height(font: Font) -> int:
    top, bottom = font.getbbox("ÁgjpqyH|")[1::2]
    return int(bottom - top) + 1


def wrap(text: str, font: Font, max_width: float) -> list[str]:
    """Greedy word wrap; a word wider than the box is split by characters rather than overflowing."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}".strip()
            if text_width(font, candidate) <= max_width or not current:
                current = candidate
            else:
                lines.append(current)
                current = word
            while text_width(font, current) > max_width and len(current) > 1:
                cut = max(1, int(len(current) * max_width / max(1.0, text_width(font, current))))
                lines.append(current[:cut])
                current = current[cut:]
        lines.append(current)
    return lines


@dataclass(frozen=True)
class FittedText:
    font: Font
    lines: list[str]
    line_height: int
    spacing: int

    @property
    def height(self) -> int:
        return len(self.lines) * self.line_height + (len(self.lines) - 1) * self.spacing


def fit_text(text: str, path: Path | None, width: float, height: float, *, max_size: int) -> FittedText:
    """The largest font size (binary search) at which `text`, wrapped, fits in width x height."""
    low, high = 6, max(6, max_size)
    best = _layout(text, path, low, width)
    while low <= high:
        mid = (low + high) // 2
        fitted = _layout(text, path, mid, width)
        # A size at which some word must be broken mid-word does not fit (unless nothing else does).
        words_fit = all(text_width(fitted.font, word) <= width for word in text.split())
        fits = words_fit and fitted.height <= height
        if fits:
            best, low = fitted, mid + 1
        else:
            high = mid - 1
    return best


def _layout(text: str, path: Path | None, size: int, width: float) -> FittedText:
    font = load_font(path, size)
    return FittedText(font, wrap(text, font, width), line_height(font), max(1, size // 8))


def draw_fitted(
    draw: ImageDraw.ImageDraw,
    fitted: FittedText,
    box: tuple[float, float, float, float],
    *,
    fill: str | tuple[int, ...],
    align: str = "center",
    valign: str = "middle",
    stroke: int = 0,
    stroke_fill: str | tuple[int, ...] = "black",
) -> None:
    """Draw wrapped lines inside box (x, y, w, h), aligned horizontally and vertically."""
    x, y, w, h = box
    top = {"top": y, "bottom": y + h - fitted.height}.get(valign, y + (h - fitted.height) / 2)
    for i, text in enumerate(fitted.lines):
        line_w = text_width(fitted.font, text)
        left = {"left": x, "right": x + w - line_w}.get(align, x + (w - line_w) / 2)
        # Offset by the font's own top bearing so the glyphs, not the em box, sit where we asked.
        offset = fitted.font.getbbox("ÁH")[1]
        pos = (left, top + i * (fitted.line_height + fitted.spacing) - offset)
        draw.text(pos, text, font=fitted.font, fill=fill, stroke_width=stroke, stroke_fill=stroke_fill)
