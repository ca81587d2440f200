"""Face finding with OpenCV's Haar cascade (the frontal-face model shipped in `assets/`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from classifier.assets import FACE_CASCADE
from classifier.errors import CheckpointError

# Detection runs on a copy at most this large: Haar cost grows with pixels, and a face too small to
# survive this downscale is too small to read an expression from anyway.
DETECT_MAX_SIDE = 1024
DETECT_MIN_FACE = 20  # px at detection scale; smaller finds are mostly texture noise


@dataclass(frozen=True)
class Face:
    """A face box in the original image's pixels."""

    x: int
    y: int
    width: int
    height: int

    @property
    def area(self) -> int:
        return self.width * self.height

    @property
    def side(self) -> int:
        return min(self.width, self.height)

    def padded(self, fraction: float, bounds: tuple[int, int]) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) grown by `fraction` of the size on each side, clipped to bounds."""
        dx, dy = round(self.width * fraction), round(self.height * fraction)
        return (
            max(0, self.x - dx),
            max(0, self.y - dy),
            min(bounds[0], self.x + self.width + dx),
            min(bounds[1], self.y + self.height + dy),
        )


class FaceDetector:
    """Finds frontal faces in an RGB image, largest first."""

    def __init__(self, cascade: Path = FACE_CASCADE, *, min_neighbors: int = 5) -> None:
        self._cascade = cv2.CascadeClassifier(str(cascade))
        if self._cascade.empty():
            raise CheckpointError(f"cannot load the face detector {cascade} (missing or not a cascade)")
        self._min_neighbors = min_neighbors
        self._lock = threading.Lock()  # a CascadeClassifier is not documented as thread-safe

    def find(self, img: Image.Image) -> list[Face]:
        scale = min(1.0, DETECT_MAX_SIDE / max(img.size))
        small = img if scale == 1.0 else img.resize((round(img.width * scale), round(img.height * scale)))
        gray = np.asarray(small.convert("L"), dtype=np.uint8)
        with self._lock:
            boxes = self._cascade.detectMultiScale(
                gray,
                scaleFactor=1.1,
                minNeighbors=self._min_neighbors,
                minSize=(DETECT_MIN_FACE, DETECT_MIN_FACE),
            )
        faces = [Face(*(round(int(v) / scale) for v in box)) for box in boxes]
        return sorted(faces, key=lambda f: f.area, reverse=True)
