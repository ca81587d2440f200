"""Posters, flyers, signs and sale banners: big text over colour, a classic meme-detector false positive.

Deliberately unlike image macros: text sits on flat or gradient colour (or beside a photo, never
outlined over it), in several sizes and colours, with the small print (dates, venues, prices,
addresses) that real posters carry.
"""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw

from classifier.training import captions
from classifier.training.fonts import FontBook, draw_fitted, fit_text

EVENTS = (
    "Jazz Night",
    "Summer Festival",
    "Book Fair",
    "Farmers Market",
    "Open Day",
    "Charity Run",
    "Tech Meetup",
    "Yoga in the Park",
    "Film Club",
    "Art Exhibition",
    "Science Week",
    "Flea Market",
    "Choir Concert",
    "Coding Workshop",
    "Food Truck Friday",
    "Beach Cleanup",
    "Career Fair",
)
SIGNS = (
    "Closed for renovation",
    "Please keep this door closed",
    "No parking",
    "Wet floor",
    "Staff only",
    "Open 24 hours",
    "Now hiring",
    "Welcome",
    "Exit",
    "Push",
    "Back in 5 minutes",
    "Quiet please",
    "Fresh bread daily",
    "Sold out",
    "Lost cat",
    "Room for rent",
)
SALES = ("Summer sale", "Black Friday", "Clearance", "New arrivals", "Grand opening", "Limited offer")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "June", "July", "Aug", "Sept", "Oct", "Nov", "Dec")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

Colour = tuple[int, int, int]


def _colour(rng: random.Random) -> Colour:
    return (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))


def _contrast(colour: Colour, rng: random.Random) -> Colour:
    light = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2] > 140
    if rng.random() < 0.7:
        return (15, 15, 25) if light else (255, 255, 255)
    r, g, b = _colour(rng)
    return (r // 3, g // 3, b // 3) if light else (128 + r // 2, 128 + g // 2, 128 + b // 2)


def _background(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """Flat colour, or a vertical or horizontal two-colour gradient."""
    a, b = np.array(_colour(rng), np.float32), np.array(_colour(rng), np.float32)
    if rng.random() < 0.4:
        return Image.new("RGB", size, tuple(int(c) for c in a))
    width, height = size
    if rng.random() < 0.6:
        t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    else:
        t = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    ramp = np.broadcast_to(a * (1 - t) + b * t, (height, width, 3))
    return Image.fromarray(np.ascontiguousarray(ramp).astype(np.uint8))


def _shapes(img: Image.Image, rng: random.Random) -> None:
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(0, 6)):
        x, y = rng.randint(-100, img.width), rng.randint(-100, img.height)
        r = rng.randint(20, img.width // 3)
        shape = draw.ellipse if rng.random() < 0.6 else draw.rectangle
        shape((x, y, x + r, y + r), fill=_colour(rng))


def _small_print(rng: random.Random) -> list[str]:
    day, month = rng.randint(1, 28), rng.choice(MONTHS)
    lines = [
        f"{rng.choice(DAYS)} {day} {month} · {rng.randint(5, 11)}{rng.choice((':00', ':30'))} pm",
        f"{captions.title(rng, (1, 2))} Hall, {rng.randint(1, 200)} {captions.title(rng, (1, 1))} Road",
        rng.choice(
            (f"Tickets £{rng.randint(3, 40)}", "Free entry", "All welcome", f"Only ${rng.randint(5, 99)}")
        ),
        f"www.{rng.choice(captions.NOUNS)}{rng.choice(captions.NOUNS)}.{rng.choice(('org', 'com', 'net'))}",
    ]
    return lines[: rng.randint(1, len(lines))]


def _headline(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(("event", "sign", "sale"))
    if kind == "sign":
        return rng.choice(SIGNS), captions.sentence(rng, (3, 8)) if rng.random() < 0.5 else ""
    if kind == "sale":
        return rng.choice(SALES), f"{rng.choice((20, 30, 50, 70))}% off {rng.choice(captions.NOUNS)}"
    return rng.choice(EVENTS), captions.sentence(rng, (3, 8))


def _text_column(
    img: Image.Image, box: tuple[int, int, int, int], fonts: FontBook, rng: random.Random, ink: Colour
) -> None:
    """Headline, subtitle and small print stacked inside box, each fitted to its own band."""
    x, y, w, h = box
    head, sub = _headline(rng)
    head = head.upper() if rng.random() < 0.6 else head
    small_print = "\n".join(_small_print(rng))
    lines = ((head, 0.45, True), (sub, 0.2, False), (small_print, 0.3, False))
    draw = ImageDraw.Draw(img)
    align = rng.choice(("center", "left"))
    top = y
    for text, share, bold in lines:
        band = round(h * share)
        if text:
            font = fonts.pick(rng, fonts.bold() if bold else fonts.files)
            fitted = fit_text(text, font, w, band, max_size=max(8, band if bold else band // 3))
            colour = ink if bold or rng.random() < 0.7 else _contrast(ink, rng)
            draw_fitted(draw, fitted, (x, top, w, band), fill=colour, align=align, valign="top")
        top += band + round(h * 0.02)


def render_poster(rng: random.Random, fonts: FontBook, photo: Image.Image | None) -> tuple[Image.Image, str]:
    """A poster image and its layout: flat/gradient colour, or a photo beside (not under) the text."""
    size = rng.choice(((600, 850), (700, 700), (850, 600), (600, 900), (1000, 560)))
    img = _background(size, rng)
    if rng.random() < 0.5:
        _shapes(img, rng)
    width, height = size
    margin = round(min(size) * rng.uniform(0.06, 0.1))
    layout = "colour"
    text_box = (margin, margin, width - 2 * margin, height - 2 * margin)
    if photo is not None and rng.random() < 0.5:
        layout = "photo_panel"
        picture = photo.convert("RGB")
        if width >= height:  # photo on one side, text on the other
            half = width // 2
            photo_left = rng.random() < 0.5
            img.paste(picture.resize((half, height)), (0 if photo_left else half, 0))
            text_box = ((half if photo_left else 0) + margin, margin, half - 2 * margin, height - 2 * margin)
        else:  # photo on top, text below
            img.paste(picture.resize((width, height // 2)), (0, 0))
            text_box = (margin, height // 2 + margin, width - 2 * margin, height // 2 - 2 * margin)
    r, g, b = img.getpixel((text_box[0] + 2, text_box[1] + 2))[:3]  # type: ignore[index]
    ink = _contrast((r, g, b), rng)
    _text_column(img, text_box, fonts, rng, ink)
    return img, layout
