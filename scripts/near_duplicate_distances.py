"""How far apart are a meme's reposts, and how far a new caption on the same template, in pHash and dHash?

A moderator's label covers an image's near-duplicates: a repost that was re-encoded, resized or
cropped a little must be covered, the same template with another caption must not. This script
measures both on real templates (`memegen_templates/`, `blank_templates/` of ../shared/datasets):
each template gets two different captions (image-macro text, or a caption bar above it), and the
first one is reposted in the ways chat apps and people do. It prints the distance distributions and
the rule the bot uses (bot/moderation/labels.py), and writes them as JSON.

    .venv/bin/python scripts/near_duplicate_distances.py --datasets ../shared/datasets \
        --out docs/moderation/near-duplicates.json
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.meme_text import draw_caption, fit_text  # noqa: E402
from bot.moderation.labels import NEAR_DIFFERENCE, NEAR_PHASH, near_duplicate  # noqa: E402
from classifier.hashing import Fingerprint, hamming  # noqa: E402
from classifier.preprocess import DecodeLimits, fingerprint_of, make_thumbnail  # noqa: E402
from classifier.training.captions import bar_caption, macro_pair  # noqa: E402

Transform = Callable[[Image.Image], Image.Image]


def jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def scaled(img: Image.Image, factor: float) -> Image.Image:
    size = (max(16, round(img.width * factor)), max(16, round(img.height * factor)))
    return img.resize(size, Image.Resampling.LANCZOS)


def cropped(img: Image.Image, share: float) -> Image.Image:
    dx, dy = round(img.width * share), round(img.height * share)
    return img.crop((dx, dy, img.width - dx, img.height - dy))


REPOSTS: dict[str, Transform] = {
    "jpeg q40": lambda im: jpeg(im, 40),
    "half size, jpeg q75": lambda im: jpeg(scaled(im, 0.5), 75),
    "phone size 1080 px": lambda im: jpeg(scaled(im, 1080 / max(im.size)), 85),
    "telegram 320 px thumbnail": lambda im: jpeg(scaled(im, 320 / max(im.size)), 80),
    "crop 3% each side": lambda im: jpeg(cropped(im, 0.03), 85),
    "crop 6% each side": lambda im: jpeg(cropped(im, 0.06), 85),
    "grey": lambda im: jpeg(ImageOps.grayscale(im).convert("RGB"), 85),
    "brighter 15%": lambda im: jpeg(im.point(lambda v: min(255, round(v * 1.15))), 85),
}


def with_bar(img: Image.Image, text: str) -> Image.Image:
    """The caption-bar format: black text on a white band above the picture."""
    fitted = fit_text(text, img.width - 16, img.height)
    bar = fitted.height + 16
    out = Image.new("RGB", (img.width, img.height + bar), "white")
    out.paste(img.convert("RGB"), (0, bar))
    draw = ImageDraw.Draw(out)
    for i, line in enumerate(fitted.lines):
        draw.text((8, 8 + i * fitted.line_height), line, font=fitted.font, fill="black")
    return out


def caption_text(rng: random.Random, style: str) -> tuple[str, str]:
    if style == "bar":
        return bar_caption(rng), ""
    top, bottom = macro_pair(rng)
    return top or "WHEN YOU", bottom or "AND THEN"


def captioned(template: Image.Image, text: tuple[str, str], style: str) -> Image.Image:
    return with_bar(template, text[0]) if style == "bar" else draw_caption(template, *text)


LIMITS = DecodeLimits()


def encoded(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def labelled(img: Image.Image) -> Fingerprint:
    """The fingerprint a label gets: from the bot's stored copy (512 px, JPEG q90) of the post."""
    copy, _, _ = make_thumbnail(encoded(img), max_side=512, limits=LIMITS)
    return fingerprint_of(copy, limits=LIMITS)


def posted(img: Image.Image) -> Fingerprint:
    """The fingerprint a verdict carries: from the posted file as the classifier decodes it."""
    return fingerprint_of(encoded(img), limits=LIMITS)


def distances(label: Fingerprint, other: Fingerprint) -> tuple[int, float, bool]:
    return hamming(label.phash, other.phash), label.difference(other), near_duplicate(label, other)


def templates(datasets: Path, limit: int) -> list[Path]:
    found = sorted((datasets / "memegen_templates").glob("*.jpg")) + sorted(
        (datasets / "blank_templates").glob("*.jpg")
    )
    random.Random(0).shuffle(found)
    return found[:limit]


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {"n": len(values), "min": ordered[0], "p01": at(0.01), "p05": at(0.05), "median": at(0.5),
            "p95": at(0.95), "p99": at(0.99), "max": ordered[-1]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--templates", type=int, default=400)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rng = random.Random(1)
    pairs: dict[str, list[tuple[int, float, bool]]] = {"the post itself": []}
    pairs |= {name: [] for name in REPOSTS}
    pairs["another caption, same template"] = []
    pairs["unrelated memes"] = []
    previous: Image.Image | None = None
    for index, path in enumerate(templates(args.datasets, args.templates)):
        template = Image.open(path).convert("RGB")
        style = "bar" if index % 3 == 0 else "macro"
        text = caption_text(rng, style)
        other = caption_text(rng, style)
        while other == text:  # the same caption twice would be the same image
            other = caption_text(rng, style)
        first, second = captioned(template, text, style), captioned(template, other, style)
        label = labelled(first)
        pairs["the post itself"].append(distances(label, posted(first)))
        for name, repost in REPOSTS.items():
            pairs[name].append(distances(label, posted(repost(first))))
        pairs["another caption, same template"].append(distances(label, posted(second)))
        if previous is not None:
            pairs["unrelated memes"].append(distances(label, posted(previous)))
        previous = first
    report = {}
    print(f"rule: pHash distance <= {NEAR_PHASH} and fingerprint difference <= {NEAR_DIFFERENCE}")
    print(f"{'pair':34} {'pHash median/p99/max':>21} {'difference min/median/max':>27} {'covered':>8}")
    for name, found in pairs.items():
        ph, diff = summary([p for p, _, _ in found]), summary([d for _, d, _ in found])
        covered = sum(near for _, _, near in found) / len(found)
        report[name] = {"phash": ph, "difference": diff, "covered": covered}
        print(
            f"{name:34} {ph['median']:>8g}/{ph['p99']:>4g}/{ph['max']:>4g}      "
            f"{diff['min']:>9.2f}/{diff['median']:>5.2f}/{diff['max']:>5.2f}      {covered:>7.1%}"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        rule = {"phash": NEAR_PHASH, "difference": NEAR_DIFFERENCE}
        args.out.write_text(
            json.dumps({"rule": rule, "templates": args.templates, "pairs": report}, indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
