"""Files that ship inside the package (models, detector, font) and where to find them; see README.md."""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent
EXPRESSION_WEIGHTS = ASSETS / "emotion_mini_xception.safetensors"
FACE_CASCADE = ASSETS / "haarcascade_frontalface_default.xml"
BOLD_FONT = ASSETS / "TitilliumWeb-Black.ttf"
