"""Judging one image: fetch it within the size limit, classify it, record the verdict, keep a copy."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot import replies
from bot.config import StorageConfig
from bot.errors import UserError
from bot.events import ChatContext, ImageRef, Sender
from classifier import Classifier, InvalidImage, Overloaded, RequestTimedOut, Verdict
from storage import ClassificationRecord, DatabaseError, Repository, TrustedLabel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Judged:
    """One image's outcome: a verdict and its stored record, or the reason there is none."""

    ref: ImageRef
    message_id: str
    verdict: Verdict | None = None
    record: ClassificationRecord | None = None  # None with a verdict: the database refused the write
    error: str | None = None
    trusted: TrustedLabel | None = None  # a moderator's label that covers this image in this chat

    @property
    def label(self) -> str | None:
        """What the chat goes by: a moderator's label over the model's."""
        if self.trusted is not None:
            return self.trusted.label
        return None if self.verdict is None else self.verdict.label


class ImageJudge:
    """Turns an ImageRef into a Judged: classifier errors become the user's reason, not a failure."""

    def __init__(self, *, classifier: Classifier, repo: Repository, storage: StorageConfig) -> None:
        self._classifier = classifier
        self._repo = repo
        self._storage = storage

    async def judge(self, ctx: ChatContext, sender: Sender, ref: ImageRef, message_id: str) -> Judged:
        where = ref.message_id or message_id
        try:
            try:
                data = await self.fetch(ref)
            except UserError:
                raise
            except Exception:  # one image's failed download must not cost the others their verdicts
                log.exception("could not fetch %s in %s:%s", ref.name, ctx.platform, ctx.chat_id)
                raise UserError(replies.DOWNLOAD_FAILED) from None
            verdict = await self._classify(data)
        except UserError as exc:
            return Judged(ref, where, error=str(exc))
        try:
            record = await self._record(ctx, sender, where, verdict)
        except DatabaseError:  # a full disk, a read-only file: the verdict is still worth giving
            log.exception("could not record a verdict in %s:%s", ctx.platform, ctx.chat_id)
            return Judged(ref, where, verdict, error=replies.NOT_RECORDED)
        try:
            await self._keep_image(verdict.sha256, data)
        except DatabaseError:  # the verdict is recorded; only the copy for retraining is missing
            log.exception("could not keep a copy of image %s", verdict.sha256[:12])
        return Judged(ref, where, verdict, record)

    async def fetch(self, ref: ImageRef) -> bytes:
        limit = self._classifier.settings.max_image_bytes
        if ref.size is not None and ref.size > limit:
            raise UserError(f"That file is too large to check ({_mb(ref.size)}; the limit is {_mb(limit)}).")
        data = await ref.fetch()
        if len(data) > limit:
            raise UserError(f"That file is too large to check ({_mb(len(data))}; the limit is {_mb(limit)}).")
        return data

    async def _classify(self, data: bytes) -> Verdict:
        try:
            return await self._classifier.classify(data)
        except InvalidImage as exc:
            raise UserError(str(exc)) from None
        except (Overloaded, RequestTimedOut):
            raise UserError("I'm swamped right now. Please try again in a minute.") from None

    async def _record(
        self, ctx: ChatContext, sender: Sender, message_id: str, verdict: Verdict
    ) -> ClassificationRecord:
        """One record per image per message and model: /classify on a judged image, or an edit that
        kept the image, reuses it, so statistics count each image once."""
        where = {"platform": ctx.platform, "chat_id": ctx.chat_id}
        seen = await self._repo.find_classification(
            **where, message_id=message_id, image_sha256=verdict.sha256
        )
        if seen is not None and seen.model_version == verdict.model_version:
            return seen
        return await self._repo.record_classification(
            **where,
            message_id=message_id,
            user_id=sender.user_id,
            image_sha256=verdict.sha256,
            label=verdict.label,
            confidence=verdict.confidence,
            model_version=verdict.model_version,
        )

    async def _keep_image(self, sha256: str, data: bytes) -> None:
        """Store a downscaled copy so a later correction can still be used for retraining."""
        days = self._storage.retention_days
        if days <= 0 or await self._repo.touch_image(sha256=sha256, retention_days=days):
            return
        thumb, width, height = await self._classifier.thumbnail(data, max_side=self._storage.image_max_side)
        await self._repo.store_image(
            sha256=sha256, data=thumb, width=width, height=height, retention_days=days
        )


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
