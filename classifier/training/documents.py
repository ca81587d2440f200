"""Text documents rendered with Pillow: articles, lists, tables, letters, code, forms and slides.

Hard negatives: pages full of text in many fonts and sizes. Some are cropped to a region so the
text is as large as a meme caption, some look scanned (gray, tilted, noisy), because the model must
learn that text alone does not make a meme.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from classifier.training import captions
from classifier.training.fonts import FontBook, draw_fitted, fit_text, line_height, load_font, wrap

PAPERS = ((255, 255, 255), (255, 255, 255), (252, 250, 242), (246, 246, 246), (255, 253, 231))
INKS = ((20, 20, 20), (0, 0, 0), (60, 60, 60), (20, 30, 80))
CODE_THEMES = (  # background, text, keyword, string, comment
    ((255, 255, 255), (30, 30, 30), (0, 0, 200), (160, 30, 30), (0, 128, 0)),
    ((40, 42, 54), (248, 248, 242), (255, 121, 198), (241, 250, 140), (98, 114, 164)),
    ((30, 30, 30), (212, 212, 212), (86, 156, 214), (206, 145, 120), (106, 153, 85)),
    ((253, 246, 227), (101, 123, 131), (133, 153, 0), (42, 161, 152), (147, 161, 161)),
)
KEYWORDS = ("def", "return", "if", "for", "class", "import", "while", "const", "let", "fn", "else")


class Page:
    """A blank page with a writing cursor: renderers add blocks from the top down."""

    def __init__(self, rng: random.Random, fonts: FontBook, size: tuple[int, int]) -> None:
        self.rng, self.fonts = rng, fonts
        self.image = Image.new("RGB", size, rng.choice(PAPERS))
        self.draw = ImageDraw.Draw(self.image)
        self.margin = round(size[0] * rng.uniform(0.06, 0.12))
        self.y = self.margin
        self.ink = rng.choice(INKS)
        self.body_font = fonts.pick(rng)
        self.body_size = round(size[0] * rng.uniform(0.016, 0.03))

    @property
    def width(self) -> int:
        return self.image.width - 2 * self.margin

    def full(self) -> bool:
        return self.y > self.image.height - self.margin

    def text(self, text: str, *, size: int | None = None, font: Path | None = None, indent: int = 0) -> None:
        face = load_font(font or self.body_font, size or self.body_size)
        height = line_height(face)
        for line in wrap(text, face, self.width - indent):
            self.draw.text((self.margin + indent, self.y), line, font=face, fill=self.ink)
            self.y += round(height * 1.3)
        self.y += height // 2

    def heading(self, text: str, scale: float = 1.6) -> None:
        self.text(text, size=round(self.body_size * scale), font=self.fonts.pick(self.rng, self.fonts.bold()))


def _article(page: Page) -> None:
    rng = page.rng
    page.heading(captions.title(rng), scale=rng.uniform(1.8, 2.6))
    while not page.full():
        if rng.random() < 0.3:
            page.heading(captions.title(rng), scale=rng.uniform(1.2, 1.6))
        page.text(captions.paragraph(rng))


def _list(page: Page) -> None:
    rng = page.rng
    page.heading(captions.title(rng))
    numbered = rng.random() < 0.5
    for number in range(1, 40):
        if page.full():
            break
        bullet = f"{number}." if numbered else rng.choice(("•", "-", "*", "o"))
        page.text(f"{bullet} {captions.sentence(rng, (3, 12))}", indent=page.body_size)


def _table(page: Page) -> None:
    rng = page.rng
    page.heading(captions.title(rng))
    columns = rng.randint(3, 6)
    col_w = page.width / columns
    row_h = round(page.body_size * 1.8)
    font = load_font(page.body_font, page.body_size)
    header = [captions.title(rng, (1, 2)) for _ in range(columns)]
    for row in range(60):
        top = page.y + row * row_h
        if top + row_h > page.image.height - page.margin:
            break
        if row == 0:
            page.draw.rectangle(
                (page.margin, top, page.margin + page.width, top + row_h), fill=(225, 230, 240)
            )
        for col in range(columns):
            cell = header[col] if row == 0 else _cell(rng, col)
            page.draw.text((page.margin + col * col_w + 4, top + 4), cell, font=font, fill=page.ink)
        page.draw.line(
            (page.margin, top + row_h, page.margin + page.width, top + row_h), fill=(150, 150, 150)
        )
    page.y = page.image.height


def _cell(rng: random.Random, col: int) -> str:
    if col == 0:
        return captions.title(rng, (1, 2))
    return rng.choice((f"{rng.uniform(0, 999):.2f}", f"{rng.randint(0, 99999):,}", f"{rng.randint(0, 100)}%"))


def _letter(page: Page) -> None:
    rng = page.rng
    for line in (captions.title(rng, (2, 3)), f"{rng.randint(1, 999)} {captions.title(rng, (1, 2))} Street"):
        page.text(line)
    page.text(f"{rng.randint(1, 28)} {rng.choice(('March', 'June', 'October'))} {rng.randint(1990, 2025)}")
    page.text(f"Dear {captions.title(rng, (1, 2))},")
    for _ in range(rng.randint(2, 4)):
        page.text(captions.paragraph(rng, (2, 4)))
    page.text("Sincerely,")
    page.text(
        captions.title(rng, (2, 2)), size=page.body_size * 2, font=page.fonts.by_stem.get("Kalam-Regular")
    )


def _code(page: Page) -> None:
    rng = page.rng
    background, text, keyword, string, comment = rng.choice(CODE_THEMES)
    page.draw.rectangle((0, 0, *page.image.size), fill=background)
    mono = [p for p in page.fonts.files if "Mono" in p.stem]
    font = load_font(rng.choice(mono) if mono else None, page.body_size)
    height = round(line_height(font) * 1.35)
    indent = 0
    for number in range(1, 200):
        y = page.margin + (number - 1) * height
        if y > page.image.height - page.margin:
            break
        page.draw.text((page.margin // 2, y), f"{number:>3}", font=font, fill=comment)
        indent = max(0, min(4, indent + rng.choice((-1, 0, 0, 1))))
        x = page.margin * 1.5 + indent * page.body_size * 2
        for token, colour in _code_tokens(rng, text, keyword, string, comment):
            page.draw.text((x, y), token, font=font, fill=colour)
            x += font.getlength(token + " ")
    page.y = page.image.height


def _code_tokens(
    rng: random.Random, *colours: tuple[int, int, int]
) -> list[tuple[str, tuple[int, int, int]]]:
    text, keyword, string, comment = colours
    if rng.random() < 0.12:
        return [("# " + captions.sentence(rng, (3, 8)), comment)]
    tokens = [(rng.choice(KEYWORDS), keyword)] if rng.random() < 0.5 else []
    tokens += [(f"{rng.choice(captions.NOUNS)}_{rng.choice(captions.NOUNS)}", text), ("=", text)]
    tokens.append(
        (f'"{rng.choice(captions.WORDS)}"', string) if rng.random() < 0.4 else (f"{rng.randint(0, 99)}", text)
    )
    return tokens


def _form(page: Page) -> None:
    rng = page.rng
    page.heading(captions.title(rng).upper())
    while not page.full():
        label = captions.title(rng, (1, 3)) + ":"
        font = load_font(page.body_font, page.body_size)
        page.draw.text((page.margin, page.y), label, font=font, fill=page.ink)
        x0 = page.margin + font.getlength(label) + 10
        if rng.random() < 0.3:
            page.draw.rectangle((x0, page.y, x0 + page.body_size, page.y + page.body_size), outline=page.ink)
        else:
            bottom = page.y + page.body_size
            page.draw.line((x0, bottom, page.margin + page.width, bottom), fill=page.ink)
        page.y += round(page.body_size * rng.uniform(2.0, 3.0))


def _slide(page: Page) -> None:
    rng = page.rng
    band = tuple(rng.randint(0, 160) for _ in range(3))
    page.draw.rectangle((0, 0, page.image.width, page.image.height // 5), fill=band)
    band_h = page.image.height // 5 - 10
    title = captions.title(rng)
    font = page.fonts.pick(rng, page.fonts.bold())
    fitted = fit_text(title, font, page.width, band_h, max_size=page.image.height // 10)
    draw_fitted(page.draw, fitted, (page.margin, 5, page.width, band_h), fill="white", align="left")
    page.y = page.image.height // 5 + page.margin // 2
    page.body_size = round(page.body_size * 1.6)
    for _ in range(rng.randint(3, 6)):
        page.text("• " + captions.sentence(rng, (3, 9)))


LAYOUTS: dict[str, Callable[[Page], None]] = {
    "article": _article, "list": _list, "table": _table, "letter": _letter,
    "code": _code, "form": _form, "slide": _slide,
}  # fmt: skip


def render_document(rng: random.Random, fonts: FontBook) -> tuple[Image.Image, str]:
    """One document image and its layout name."""
    layout = rng.choice(tuple(LAYOUTS))
    size = (
        (1280, 720)
        if layout == "slide"
        else rng.choice(((850, 1100), (800, 1130), (1000, 1000), (1100, 850)))
    )
    page = Page(rng, fonts, size)
    LAYOUTS[layout](page)
    img = page.image
    if rng.random() < 0.35:  # a region at readable size, as in a screenshot of part of a page
        img = _crop(img, rng)
    if rng.random() < 0.25:
        img = _scanned(img, rng)
    return img, layout


def _crop(img: Image.Image, rng: random.Random) -> Image.Image:
    scale = rng.uniform(0.35, 0.7)
    w, h = round(img.width * scale), round(img.height * scale * rng.uniform(0.6, 1.2))
    h = min(h, img.height)
    x, y = rng.randint(0, img.width - w), rng.randint(0, img.height - h)
    return img.crop((x, y, x + w, y + h))


def _scanned(img: Image.Image, rng: random.Random) -> Image.Image:
    gray = img.convert("L").rotate(rng.uniform(-2.5, 2.5), expand=True, fillcolor=rng.randint(120, 230))
    pixels = np.asarray(gray, dtype=np.float32)
    noise = np.random.default_rng(rng.getrandbits(32)).normal(0, rng.uniform(3, 12), pixels.shape)
    out = Image.fromarray(np.clip(pixels * rng.uniform(0.85, 1.0) + noise, 0, 255).astype(np.uint8))
    return out.filter(ImageFilter.GaussianBlur(rng.uniform(0, 0.8))).convert("RGB")
