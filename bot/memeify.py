"""/memeify: find the largest face, read its expression, and caption the photo as a classic meme."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

from PIL import Image

from bot.captions import Caption, pick_caption
from bot.errors import UserError
from bot.meme_text import draw_caption
from classifier.expression import Expression, ExpressionReader
from classifier.faces import FaceDetector
from classifier.preprocess import DecodeLimits, decode_frames, scaled_to_fit

MIN_FACE_PX = 40  # below this the 64 px expression model reads mostly blur
FACE_MARGIN = 0.1  # the expression model was trained on crops a little wider than a Haar box
RENDER_MIN_SIDE = 512  # meme text must stay readable on small photos
RENDER_MAX_SIDE = 1024

NO_FACE = "I couldn't find a face in that photo. Try one with a clear, front-facing face."
TINY_FACE = (
    "The face in that photo is too small for me to read ({side} px across; I need at least {need}). "
    "Try a closer shot."
)
MOOD = {
    "angry": ("😠", "angry"),
    "disgust": ("🤢", "disgusted"),
    "fear": ("😨", "scared"),
    "happy": ("😄", "happy"),
    "sad": ("😢", "sad"),
    "surprise": ("😮", "surprised"),
    "neutral": ("😐", "neutral"),
}


@dataclass(frozen=True)
class Meme:
    image: Image.Image
    expression: Expression
    caption: Caption
    faces: int

    def encode(self, fmt: str = "PNG") -> bytes:
        out = io.BytesIO()
        if fmt.upper() in ("JPEG", "JPG"):
            self.image.save(out, "JPEG", quality=88, optimize=True)
        else:
            self.image.save(out, "PNG")  # no optimize: it triples the time for a few percent
        return out.getvalue()

    def summary(self) -> str:
        emoji, mood = MOOD.get(self.expression.label, ("🙂", self.expression.label))
        text = f"{emoji} Looks {mood} ({self.expression.confidence:.0%})."
        if self.faces > 1:
            text += f" I found {self.faces} faces and used the largest."
        return text


class Memeifier:
    """Face detector + expression reader + caption bank; `make` is synchronous (run it in a thread)."""

    def __init__(self, detector: FaceDetector, reader: ExpressionReader, limits: DecodeLimits) -> None:
        self._detector = detector
        self._reader = reader
        self._limits = DecodeLimits(limits.max_bytes, limits.max_pixels, max_frames=1)

    @classmethod
    def load(cls, limits: DecodeLimits | None = None) -> Memeifier:
        """The detector and expression model that ship in classifier/assets."""
        return cls(FaceDetector(), ExpressionReader.load(), limits or DecodeLimits())

    def make(self, data: bytes, rng: random.Random) -> Meme:
        """A captioned photo; InvalidImage for unreadable files, UserError for no or tiny faces."""
        photo = decode_frames(data, self._limits, draft_size=RENDER_MAX_SIDE)[0]
        faces = self._detector.find(photo)
        if not faces:
            raise UserError(NO_FACE)
        face = faces[0]
        if face.side < MIN_FACE_PX:
            raise UserError(TINY_FACE.format(side=face.side, need=MIN_FACE_PX))
        expression = self._reader.read(photo.crop(face.padded(FACE_MARGIN, photo.size)))
        caption = pick_caption(expression.label, rng)
        canvas = scaled_to_fit(photo, min_side=RENDER_MIN_SIDE, max_side=RENDER_MAX_SIDE)
        return Meme(draw_caption(canvas, caption.top, caption.bottom), expression, caption, len(faces))
