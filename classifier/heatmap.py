"""Drawing a Grad-CAM heatmap over its image, with a colour legend (blue = weak, red = strong influence)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from classifier.assets import BOLD_FONT

ALPHA = 0.45  # enough colour to read the map, enough photo left to see what it points at
BAND_BG = (255, 255, 255)
INK = (20, 20, 20)


def jet(values: np.ndarray) -> np.ndarray:
    """0..1 values [H, W] -> uint8 RGB [H, W, 3]: blue, cyan, green, yellow, red (the classic 'jet')."""
    v = np.clip(values, 0.0, 1.0)[..., None]
    peaks = np.array([3.0, 2.0, 1.0])  # red peaks at 0.75 and stays, green at 0.5, blue at 0.25
    rgb = np.clip(1.5 - np.abs(4.0 * v - peaks), 0.0, 1.0)
    return np.round(rgb * 255.0).astype(np.uint8)


def overlay(image: Image.Image, heat: np.ndarray, alpha: float = ALPHA) -> Image.Image:
    if heat.shape != (image.height, image.width):
        raise ValueError(f"heatmap {heat.shape} does not match the image {image.size[::-1]}")
    base = np.asarray(image.convert("RGB"), dtype=np.float32)
    mixed = (1.0 - alpha) * base + alpha * jet(heat).astype(np.float32)
    return Image.fromarray(np.round(mixed).astype(np.uint8))


def render_explanation(image: Image.Image, heat: np.ndarray, label: str, confidence: float) -> Image.Image:
    """The overlay with a legend band underneath: the verdict, then a weak-to-strong colour bar."""
    picture = overlay(image, heat)
    width, height = picture.size
    band = max(64, round(width * 0.13))
    canvas = Image.new("RGB", (width, height + band), BAND_BG)
    canvas.paste(picture, (0, 0))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.truetype(str(BOLD_FONT), max(12, band // 4))
    pad = band // 8
    title = f"{label.replace('_', ' ')} ({confidence:.0%}) - what drove the verdict"
    draw.text((pad, height + pad), title, font=font, fill=INK)
    bar_box = (pad, height + band // 2 + pad // 2, width - pad, height + band - pad)
    _legend(canvas, font, bar_box)
    return canvas


def _legend(canvas: Image.Image, font: ImageFont.FreeTypeFont, box: tuple[int, int, int, int]) -> None:
    """'weak', a jet colour bar, 'strong', in one row inside `box` (left, top, right, bottom)."""
    left, top, right, bottom = box
    draw = ImageDraw.Draw(canvas)
    weak, strong = "weak", "strong"
    middle = (top + bottom) // 2
    draw.text((left, middle), weak, font=font, fill=INK, anchor="lm")
    draw.text((right, middle), strong, font=font, fill=INK, anchor="rm")
    gap = round(font.size) // 2
    bar_left = left + round(draw.textlength(weak, font=font)) + gap
    bar_right = right - round(draw.textlength(strong, font=font)) - gap
    if bar_right - bar_left < 8:
        return  # too narrow for a bar; the overlay still speaks for itself
    ramp = jet(np.linspace(0.0, 1.0, bar_right - bar_left)[None, :])
    bar = Image.fromarray(np.repeat(ramp, bottom - top, axis=0))
    canvas.paste(bar, (bar_left, top))
    draw.rectangle((bar_left, top, bar_right - 1, bottom - 1), outline=INK)
