"""Trusted labels: a moderator's word on an image, applied to its reposts and near-duplicates."""

from __future__ import annotations

import logging

from bot.events import ChatContext, Sender
from classifier import Classifier, InvalidImage, Verdict
from classifier.hashing import Fingerprint, hamming
from storage import ClassificationRecord, Repository, TrustedLabel

log = logging.getLogger(__name__)

# Measured by scripts/near_duplicate_distances.py on 400 real templates (docs/moderation/near-duplicates.md):
# reposts (re-encoded, resized, brighter, grey) differ by at most 0.74, another caption on the same
# template by at least 1.00; a crop of 3% or more is a new image. The pHash bound (reposts: <= 8)
# only picks the candidates cheaply.
NEAR_PHASH = 12
NEAR_DIFFERENCE = 0.85


def near_duplicate(a: Fingerprint, b: Fingerprint) -> bool:
    return hamming(a.phash, b.phash) <= NEAR_PHASH and a.difference(b) <= NEAR_DIFFERENCE


class LabelBook:
    """Each chat's trusted labels: finds the one that covers a verdict, and makes new ones."""

    def __init__(self, *, classifier: Classifier, repo: Repository) -> None:
        self._classifier = classifier
        self._repo = repo

    async def covering(self, ctx: ChatContext, verdict: Verdict) -> TrustedLabel | None:
        """The chat's label for this image: the same file, else the nearest near-duplicate."""
        where = {"platform": ctx.platform, "chat_id": ctx.chat_id}
        exact = await self._repo.moderation.find_label(**where, image_sha256=verdict.sha256)
        if exact is not None or verdict.fingerprint is None:
            return exact
        looks = verdict.fingerprint
        candidates = await self._repo.moderation.label_candidates(
            **where, phash=looks.phash, max_distance=NEAR_PHASH
        )
        scored = [
            (looks.difference(fp), label)
            for label in candidates
            if (fp := _fingerprint(label)) is not None and near_duplicate(fp, looks)
        ]
        return min(scored, key=lambda pair: pair[0])[1] if scored else None

    async def set(
        self, ctx: ChatContext, moderator: Sender, record: ClassificationRecord, label: str
    ) -> tuple[TrustedLabel, str | None]:
        """Makes `label` the chat's label for the record's image; returns it and the label it replaced."""
        looks = await self._fingerprint_of_copy(record.image_sha256)
        return await self._repo.moderation.set_label(
            platform=ctx.platform,
            chat_id=ctx.chat_id,
            image_sha256=record.image_sha256,
            label=label,
            phash=None if looks is None else looks.phash,
            pixels=None if looks is None else looks.pixels,
            classification_id=record.id,
            user_id=moderator.user_id,
            user_name=moderator.display_name,
        )

    async def _fingerprint_of_copy(self, sha256: str) -> Fingerprint | None:
        """From the stored copy: without one (retention 0, or purged), the label covers the file only."""
        data = await self._repo.image_data(sha256)
        if data is None:
            return None
        try:
            return await self._classifier.fingerprint(data)
        except InvalidImage:  # our own JPEG copy; a damaged one covers the exact file only
            log.warning("the stored copy of %s does not decode", sha256[:12])
            return None


def _fingerprint(label: TrustedLabel) -> Fingerprint | None:
    if label.phash is None or label.pixels is None:
        return None
    return Fingerprint(phash=label.phash, pixels=label.pixels)
