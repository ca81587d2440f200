"""Synthetic meme positives: captions rendered onto templates and photos.

Three styles, as seen in chats: the image macro (outlined capitals in the template's text boxes, or
classic top/bottom), the caption bar (a white bar of sentence-case text above an ordinary picture,
today's commonest meme), and multi-panel memes (stacked or gridded panels, or Drake-style rows with
text beside each picture).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from PIL import Image, ImageColor, ImageDraw

from classifier.training.fonts import FontBook, draw_fitted, fit_text
from classifier.training.memegen import TextBox

WHITE = (255, 255, 255)
BLACK = (0, 0, 0)


def _styled(text: str, style: str, rng: random.Random) -> str:
    if style == "upper" or (style == "default" and rng.random() < 0.7):
        return text.upper()
    if style == "lower":
        return text.lower()
    return text


def _is_light(color: str) -> bool:
    try:
        r, g, b = ImageColor.getrgb(color)[:3]
    except ValueError:
        return True
    return 0.299 * r + 0.587 * g + 0.114 * b > 128


def _valign(box: TextBox) -> str:
    if box.anchor_y + box.scale_y >= 0.75:
        return "bottom"
    return "top" if box.anchor_y <= 0.1 else "middle"


def render_macro(
    background: Image.Image,
    boxes: Sequence[TextBox],
    texts: Sequence[str],
    fonts: FontBook,
    rng: random.Random,
    *,
    classic_font: bool,
) -> Image.Image:
    """Captions drawn into the template's boxes; `classic_font` uses Impact-style lettering throughout."""
    img = background.convert("RGB")
    width, height = img.size
    for box, raw in zip(boxes, texts, strict=False):
        text = _styled(raw, box.style, rng).strip()
        if not text:
            continue
        font = fonts.macro(rng) if classic_font else (fonts.memegen(box.font) or fonts.macro(rng))
        color = box.color if rng.random() < 0.9 else rng.choice(("white", "yellow", "black"))
        w, h = box.scale_x * width, box.scale_y * height
        fitted = fit_text(text, font, w, h, max_size=max(8, int(min(h, height / 6))))
        light = _is_light(color)
        stroke = max(1, round(fitted.line_height / 14)) if light or rng.random() < 0.5 else 0
        layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
        draw_fitted(
            ImageDraw.Draw(layer),
            fitted,
            (box.anchor_x * width, box.anchor_y * height, w, h),
            fill=color,
            align=box.align if box.align in ("left", "right") else "center",
            valign=_valign(box),
            stroke=stroke,
            stroke_fill="black" if light else "white",
        )
        if abs(box.angle) > 0.5:
            centre = ((box.anchor_x + box.scale_x / 2) * width, (box.anchor_y + box.scale_y / 2) * height)
            layer = layer.rotate(box.angle, resample=Image.Resampling.BICUBIC, center=centre)
        img = Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")
    return img


def _fit_width(img: Image.Image, width: int) -> Image.Image:
    height = max(1, round(img.height * width / img.width))
    return img.convert("RGB").resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)


def caption_bar(
    picture: Image.Image, text: str, fonts: FontBook, rng: random.Random, *, width: int | None = None
) -> Image.Image:
    """A bar of text above the picture: black on white mostly, sometimes white on black."""
    width = width or rng.randint(420, 720)
    photo = _fit_width(picture, width)
    dark = rng.random() < 0.12
    background, ink = (BLACK, WHITE) if dark else ((250, 250, 250) if rng.random() < 0.2 else WHITE, BLACK)
    pad = round(width * rng.uniform(0.025, 0.05))
    size = round(width * rng.uniform(0.045, 0.075))
    font = fonts.pick(rng, fonts.sans())
    fitted = fit_text(text, font, width - 2 * pad, size * 6, max_size=size)
    bar_h = fitted.height + 2 * pad
    out = Image.new("RGB", (width, bar_h + photo.height), background)
    draw_fitted(
        ImageDraw.Draw(out),
        fitted,
        (pad, pad, width - 2 * pad, fitted.height),
        fill=ink,
        align="left" if rng.random() < 0.6 else "center",
        valign="top",
    )
    out.paste(photo, (0, bar_h))
    return out


def _panel_with_macro(panel: Image.Image, text: str, fonts: FontBook, rng: random.Random) -> Image.Image:
    box = TextBox(anchor_x=0.03, anchor_y=0.68, scale_x=0.94, scale_y=0.3, style="upper")
    return render_macro(panel, [box], [text], fonts, rng, classic_font=True)


def multi_panel(
    panels: Sequence[Image.Image], texts: Sequence[str], fonts: FontBook, rng: random.Random
) -> Image.Image:
    """2-4 pictures with one caption each, laid out as a stack, a 2x2 grid, or Drake-style rows."""
    layout = rng.choice(("stack", "stack_bars", "rows", "grid") if len(panels) == 4 else ("stack", "rows"))
    width = rng.randint(360, 600)
    if layout == "grid":
        cell = width // 2
        tiles = [
            _panel_with_macro(p.resize((cell, cell)), t, fonts, rng)
            for p, t in zip(panels, texts, strict=False)
        ]
        out = Image.new("RGB", (cell * 2, cell * 2), WHITE)
        for i, tile in enumerate(tiles):
            out.paste(tile, ((i % 2) * cell, (i // 2) * cell))
        return out
    if layout == "rows":
        return _rows(panels, texts, fonts, rng, width)
    if layout == "stack_bars":
        tiles = [caption_bar(p, t, fonts, rng, width=width) for p, t in zip(panels, texts, strict=False)]
    else:
        tiles = [
            _panel_with_macro(_fit_width(p, width), t, fonts, rng)
            for p, t in zip(panels, texts, strict=False)
        ]
    return _stack(tiles, gap=rng.choice((0, 0, 4, 8)))


def _rows(
    panels: Sequence[Image.Image], texts: Sequence[str], fonts: FontBook, rng: random.Random, width: int
) -> Image.Image:
    """Drake-style: picture on the left, its text on white on the right, one row per panel."""
    cell = width // 2
    font = fonts.pick(rng, fonts.sans())
    out = Image.new("RGB", (width, cell * len(panels)), WHITE)
    draw = ImageDraw.Draw(out)
    for i, (panel, text) in enumerate(zip(panels, texts, strict=False)):
        out.paste(panel.convert("RGB").resize((cell, cell)), (0, i * cell))
        pad = cell // 10
        fitted = fit_text(text, font, cell - 2 * pad, cell - 2 * pad, max_size=cell // 6)
        draw_fitted(draw, fitted, (cell + pad, i * cell + pad, cell - 2 * pad, cell - 2 * pad), fill=BLACK)
    return out


def _stack(tiles: Sequence[Image.Image], *, gap: int) -> Image.Image:
    width = max(t.width for t in tiles)
    out = Image.new("RGB", (width, sum(t.height for t in tiles) + gap * (len(tiles) - 1)), WHITE)
    top = 0
    for tile in tiles:
        out.paste(tile, (0, top))
        top += tile.height + gap
    return out
