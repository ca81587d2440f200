"""memegen template configs (`<id>.yml`): text boxes and example captions, read without a YAML library.

The configs use a tiny, regular subset of YAML (top-level keys, block lists of scalars or of flat
mappings, quoted or plain scalars), so a 60-line reader keeps PyYAML out of the test dependencies.
Unknown keys are ignored; only `text` and `example` are used.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*):\s*(.*)$")
_ITEM = re.compile(r"^(\s*)-(?:\s+(.*))?$")
_PAIR = re.compile(r"^([A-Za-z_][\w-]*):(?:\s+(.*))?$")


@dataclass(frozen=True)
class TextBox:
    """One caption box, all geometry as fractions of the image's width and height (memegen's model)."""

    anchor_x: float = 0.0
    anchor_y: float = 0.0
    scale_x: float = 1.0
    scale_y: float = 0.2
    angle: float = 0.0
    style: str = "upper"
    color: str = "white"
    font: str = "thick"
    align: str = "center"


@dataclass(frozen=True)
class TemplateConfig:
    boxes: tuple[TextBox, ...]
    examples: tuple[str, ...]


# The classic image macro: a caption along the top and one along the bottom.
CLASSIC_BOXES = (
    TextBox(anchor_x=0.02, anchor_y=0.01, scale_x=0.96, scale_y=0.24),
    TextBox(anchor_x=0.02, anchor_y=0.75, scale_x=0.96, scale_y=0.24),
)


def parse_scalar(raw: str) -> str:
    """A YAML flow scalar as used by memegen: 'single' ('' escapes '), "double" (JSON escapes), plain."""
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1].replace("''", "'")
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        try:
            return str(json.loads(raw))
        except ValueError:
            return raw[1:-1]
    return raw


def parse_blocks(text: str) -> dict[str, list[str | dict[str, str]]]:
    """Top-level key -> its block list (scalars or flat mappings); plain multi-line scalars are joined."""
    blocks: dict[str, list[str | dict[str, str]]] = {}
    current: list[str | dict[str, str]] | None = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        top = _TOP_KEY.match(line)
        if top:
            current = blocks.setdefault(top.group(1), [])
            if top.group(2):
                current.append(parse_scalar(top.group(2)))
            continue
        if current is None:
            continue
        _add_line(current, line)
    return blocks


def _add_line(items: list[str | dict[str, str]], line: str) -> None:
    item = _ITEM.match(line)
    if item:
        content = (item.group(2) or "").strip()
        pair = _PAIR.match(content)
        if pair and not content.startswith(("'", '"')):
            items.append({pair.group(1): parse_scalar(pair.group(2) or "")})
        else:
            items.append(parse_scalar(content))
        return
    pair = _PAIR.match(line.strip())
    if pair and items and isinstance(items[-1], dict):
        items[-1][pair.group(1)] = parse_scalar(pair.group(2) or "")
    elif items and isinstance(items[-1], str):  # a plain scalar continued on the next line
        items[-1] = f"{items[-1]} {line.strip()}".strip()


def _float(values: dict[str, str], key: str, default: float) -> float:
    try:
        return float(values.get(key, default))
    except ValueError:
        return default


def _box(values: dict[str, str]) -> TextBox:
    return TextBox(
        anchor_x=_float(values, "anchor_x", 0.0),
        anchor_y=_float(values, "anchor_y", 0.0),
        scale_x=_float(values, "scale_x", 1.0),
        scale_y=_float(values, "scale_y", 0.2),
        angle=_float(values, "angle", 0.0),
        style=values.get("style", "upper") or "upper",
        color=values.get("color", "white") or "white",
        font=values.get("font", "thick") or "thick",
        align=values.get("align", "center") or "center",
    )


def parse_template_config(text: str) -> TemplateConfig:
    blocks = parse_blocks(text)
    boxes = tuple(_box(item) for item in blocks.get("text", []) if isinstance(item, dict))
    examples = tuple(item for item in blocks.get("example", []) if isinstance(item, str))
    return TemplateConfig(boxes=boxes or CLASSIC_BOXES, examples=examples)


def read_template_config(path: Path) -> TemplateConfig:
    """The config next to a template image, or the classic top/bottom layout when there is none."""
    if not path.exists():
        return TemplateConfig(boxes=CLASSIC_BOXES, examples=())
    return parse_template_config(path.read_text(encoding="utf-8", errors="replace"))
