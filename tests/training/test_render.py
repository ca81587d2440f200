"""Renderers: captions really drawn where the template says, caption bars, panels and hard negatives."""

from __future__ import annotations

import random

import numpy as np
import pytest
from PIL import Image

from classifier.training import charts, documents, posters, synth, webpages
from classifier.training.fonts import FontBook, fit_text, load_font, text_width
from classifier.training.memegen import CLASSIC_BOXES, TextBox
from classifier.training.normalise import SizeRule, normalise
from tests.training.fakesource import photo

FONTS = FontBook.discover()  # system fonts if any, else Pillow's built-in font: never proprietary ones


def _diff(a: Image.Image, b: Image.Image, box: tuple[int, int, int, int]) -> float:
    pa = np.asarray(a.crop(box).convert("L"), dtype=np.float32)
    pb = np.asarray(b.crop(box).convert("L"), dtype=np.float32)
    return float(np.abs(pa - pb).mean())


def test_macro_captions_are_drawn_inside_the_boxes() -> None:
    template = photo(1, (400, 300))
    texts = ("TOP TEXT HERE", "BOTTOM TEXT")
    out = synth.render_macro(template, CLASSIC_BOXES, texts, FONTS, random.Random(0), classic_font=True)
    assert out.size == template.size
    assert _diff(out, template, (0, 0, 400, 75)) > 8  # top box
    assert _diff(out, template, (0, 225, 400, 300)) > 8  # bottom box
    assert _diff(out, template, (0, 100, 400, 200)) < 1  # the picture between them is untouched


def test_config_boxes_place_the_text() -> None:
    template = photo(2, (400, 300))
    box = TextBox(anchor_x=0.5, anchor_y=0.4, scale_x=0.5, scale_y=0.2, color="black", style="none")
    out = synth.render_macro(template, [box], ["label"], FONTS, random.Random(0), classic_font=False)
    assert _diff(out, template, (200, 120, 400, 180)) > 5
    assert _diff(out, template, (0, 0, 200, 300)) < 1


def test_caption_bar_puts_text_above_the_whole_picture() -> None:
    picture = photo(3, (300, 200))
    out = synth.caption_bar(
        picture, "when the tests pass on the first try", FONTS, random.Random(1), width=300
    )
    bar = out.height - picture.height
    assert out.width == 300 and bar > 10
    below = np.asarray(out.crop((0, bar, 300, out.height)), dtype=np.int16)
    assert np.abs(below - np.asarray(picture, dtype=np.int16)).max() == 0  # the picture, uncovered
    strip = np.asarray(out.crop((0, 0, 300, bar)).convert("L"))
    assert strip.min() < 100 < strip.max()  # dark text on a light bar (or the other way round)


@pytest.mark.parametrize("seed", range(4))
def test_multi_panel_uses_every_panel(seed: int) -> None:
    panels = [photo(10 + i, (200, 150)) for i in range(4)]
    out = synth.multi_panel(panels, ["one", "two", "three", "four"], FONTS, random.Random(seed))
    assert out.width >= 300 and out.height >= 150


def test_fitted_text_never_breaks_words_when_a_smaller_size_fits() -> None:
    fitted = fit_text("SUMMER SALE", None, 200, 200, max_size=200)
    assert [w for line in fitted.lines for w in line.split()] == ["SUMMER", "SALE"]
    assert all(text_width(fitted.font, line) <= 200 for line in fitted.lines)


def test_hard_negatives_render_text_bearing_pictures() -> None:
    for seed in range(6):
        rng = random.Random(seed)
        for img in (
            documents.render_document(rng, FONTS)[0],
            posters.render_poster(rng, FONTS, photo(seed) if seed % 2 else None)[0],
            webpages.mock_page(rng, FONTS),
        ):
            assert img.mode == "RGB" and min(img.size) >= 100
            assert float(np.asarray(img.convert("L"), dtype=np.float32).std()) > 5  # not blank


def test_charts_render_when_matplotlib_is_installed() -> None:
    pytest.importorskip("matplotlib")
    kinds = {charts.render_chart(random.Random(seed))[1] for seed in range(8)}
    assert len(kinds) > 2


def test_size_rule_is_the_same_for_any_picture() -> None:
    rule = SizeRule(image_size=128)
    for size in ((128, 128), (640, 400), (300, 600), (1000, 1000)):
        out = normalise(Image.new("L", size, 128), rule, random.Random(str(size)))
        assert out.mode == "RGB" and max(out.size) == 128


def test_pillow_default_font_stands_in_when_there_are_no_font_files() -> None:
    no_fonts = FontBook()
    assert no_fonts.macro(random.Random(0)) is None
    assert text_width(load_font(None, 20), "abc") > 0
    out = synth.caption_bar(photo(4), "still drawn", no_fonts, random.Random(0), width=200)
    assert out.height > 150
