"""Classic meme captions: large white capitals with a black outline, top and bottom, fitted to width."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from classifier.assets import BOLD_FONT

FILL = (255, 255, 255)
OUTLINE = (0, 0, 0)
MAX_BLOCK_SHARE = 0.28  # each caption block may take this much of the height, so the face stays visible
LINE_SPACING = 1.05
MIN_FONT_PX = 10


@dataclass(frozen=True)
class FittedText:
    font: ImageFont.FreeTypeFont
    lines: tuple[str, ...]
    line_height: int

    @property
    def height(self) -> int:
        return self.line_height * len(self.lines)


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str] | None:
    """Greedy word wrap to `width` pixels; None when a single word is wider than that."""
    lines: list[str] = []
    for word in text.split():
        if font.getlength(word) > width:
            return None
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def fit_text(text: str, width: int, height: int, font_path: Path = BOLD_FONT) -> FittedText:
    """The largest font (at most an eighth of the image height) whose wrapped `text` fits the width and
    takes at most MAX_BLOCK_SHARE of the height; the smallest size when nothing fits."""
    size = max(MIN_FONT_PX, round(min(height / 8, width / 6)))
    while True:
        font = ImageFont.truetype(str(font_path), size)
        lines = wrap(text, font, width)
        line_height = round(size * LINE_SPACING)
        fits = lines is not None and line_height * len(lines) <= height * MAX_BLOCK_SHARE
        if fits or size <= MIN_FONT_PX:
            return FittedText(font, tuple(lines or [text]), line_height)
        size = max(MIN_FONT_PX, int(size * 0.9))


def draw_caption(img: Image.Image, top: str, bottom: str, font_path: Path = BOLD_FONT) -> Image.Image:
    """A copy of `img` with `top` and `bottom` drawn as meme text (either may be empty)."""
    out = img.convert("RGB")
    draw = ImageDraw.Draw(out)
    margin = max(4, round(min(out.size) * 0.03))
    width = out.width - 2 * margin
    for text, at_top in ((top, True), (bottom, False)):
        if not text.strip():
            continue
        fitted = fit_text(text.upper(), width, out.height, font_path)
        y = margin if at_top else out.height - margin - fitted.height
        stroke = max(1, fitted.font.size // 12)
        for line in fitted.lines:
            draw.text(
                (out.width / 2, y),
                line,
                font=fitted.font,
                fill=FILL,
                stroke_width=stroke,
                stroke_fill=OUTLINE,
                anchor="ma",  # horizontally centred, top at the ascender line
            )
            y += fitted.line_height
    return out
