"""A tiny stand-in for ../shared/datasets: the same folder layout, a few generated images per folder.

Planted on purpose: a re-encoded, slightly resized copy of a photo in another folder; two Memotion
memes made from one base picture with different captions; a blank template that is a resized copy
of a memegen template; a memegen template config with two text boxes and example captions.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from classifier.training.fonts import load_font

TEMPLATE_YML = """\
name: Test Template
source: https://example.com/a/very/long/url/that/goes/on
  and continues on a second line
keywords:
  -
text:
  - style: upper
    color: white
    font: thick
    anchor_x: 0.0
    anchor_y: 0.0
    angle: 0.0
    scale_x: 1.0
    scale_y: 0.25
    align: center
    start: 0.0
    stop: 1.0
  - style: upper
    color: white
    font: thick
    anchor_x: 0.0
    anchor_y: 0.75
    angle: 0.0
    scale_x: 1.0
    scale_y: 0.25
    align: center
    start: 0.0
    stop: 1.0
example:
  - top 'quoted' text
  - '- bottom text'
overlay:
  - center_x: 0.5
    center_y: 0.5
    scale: 0.25
"""


def photo(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A photo-like picture (smooth colour field, shapes, grain); each seed looks different."""
    rng = np.random.default_rng(seed)
    w, h = size
    img = Image.fromarray(rng.integers(0, 256, (3, 3, 3), dtype=np.uint8)).resize(
        (w, h), Image.Resampling.BICUBIC
    )
    draw = ImageDraw.Draw(img)
    for _ in range(5):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(w // 8, w // 2))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    pixels = np.asarray(img, dtype=np.float32) + rng.normal(0, 5, (h, w, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def captioned(base: Image.Image, top: str, bottom: str) -> Image.Image:
    img = base.copy()
    draw = ImageDraw.Draw(img)
    font = load_font(None, max(10, img.height // 10))
    for text, y in ((top, 2), (bottom, img.height - img.height // 8 - 4)):
        draw.text((4, y), text, font=font, fill="white", stroke_width=2, stroke_fill="black")
    return img


def save(img: Image.Image, path: Path, quality: int = 90) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.convert("RGB").save(path, "JPEG", quality=quality)


def reencoded(img: Image.Image, *, scale: float = 0.9, quality: int = 60) -> Image.Image:
    small = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


# Seeds are spread out per folder so no two planted pictures look alike by accident.
PHOTO_FOLDERS = {"imagenet_sample": 8, "scenes": 6, "people": 6, "clothing": 4, "grocery": 3}
TEXT_FOLDERS = {"receipts": 4, "screenshots": 4, "charts": 4, "documents": 4}


def make_source(root: Path) -> Path:
    """Write the fake dataset tree under root and return root."""
    seed = 1000
    for folder, count in {**PHOTO_FOLDERS, **TEXT_FOLDERS}.items():
        for i in range(count):
            seed += 1
            img = photo(seed, (300, 220) if i % 2 else (220, 300))
            if folder in TEXT_FOLDERS:
                img = captioned(img, f"{folder} {i} total 12.50", "thank you")
            if folder == "receipts":
                img = img.convert("L")
            save(img, root / folder / f"{folder[:5]}_{i}.jpg")
    # A re-encoded, 90% copy of a photo, filed in another folder: a near-duplicate across folders.
    save(reencoded(Image.open(root / "imagenet_sample" / "image_0.jpg")), root / "scenes" / "bsds_copy.jpg")
    _memotion(root / "memotion")
    _templates(root)
    _multi_source(root)
    return root


def _multi_source(root: Path) -> None:
    """Folders of several places each, some of them wild sources (sources.WILD_SOURCES): posters that
    train and covers that never do, memes that train and memes that never do; and a wild photo that is
    a re-encoded copy of a training photo, which must not count as wild."""
    captioned_places = (  # (seed, size, caption, file): posters and memes, each of two places
        (4000, (160, 240), ("THE FILM", "in cinemas"), "posters_covers/steam"),
        (4100, (160, 240), ("THE TAPE", "on vhs"), "posters_covers/vhs"),
        (4200, (224, 200), ("when code", "works"), "memes_reddit/progmemes"),
        (4300, (224, 200), ("wholesome", "love"), "memes_reddit/wholesome"),
    )
    for i in range(3):
        for seed, size, (top, bottom), stem in captioned_places:
            save(captioned(photo(seed + i, size), f"{top} {i}", bottom), root / f"{stem}_{i}.jpg")
        save(photo(4400 + i, (224, 168)), root / "photos_people_places" / f"stock_{i}.jpg")
    copy = reencoded(Image.open(root / "imagenet_sample" / "image_1.jpg"))
    save(copy, root / "photos_people_places" / "stock_copy.jpg")


def _memotion(folder: Path) -> None:
    rows = ["image_name,text_ocr,text_corrected,overall_sentiment"]
    for i in range(12):
        img = captioned(photo(2000 + i, (128, 128)), f"top text {i}", f"bottom {i}")
        save(img, folder / f"image_{i}.jpg")
        rows.append(f"image_{i}.jpg,TOP TEXT {i} BOTTOM,top text {i} bottom www.imgflip.com,positive")
    base = photo(2100, (128, 128))  # two memes on one base picture, different captions
    save(captioned(base, "ONE CAPTION", "FIRST MEME"), folder / "image_100.jpg")
    save(captioned(base, "ANOTHER ONE", "SECOND MEME"), folder / "image_101.jpg")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def _templates(root: Path) -> None:
    for i in range(4):
        img = photo(3000 + i, (400, 300))
        save(img, root / "memegen_templates" / f"tpl{i}.jpg")
        (root / "memegen_templates" / f"tpl{i}.yml").write_text(TEMPLATE_YML, encoding="utf-8")
    for i in range(5):
        save(photo(3100 + i, (300, 300)), root / "blank_templates" / f"Blank-{i}.jpg")
    # The same template as memegen's tpl0, at another size: must be deduplicated.
    copy = Image.open(root / "memegen_templates" / "tpl0.jpg").resize((280, 210))
    save(copy, root / "blank_templates" / "Same-As-Tpl0.jpg")
    (root / "memegen_fonts").mkdir(parents=True, exist_ok=True)
