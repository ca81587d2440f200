"""BotCore: every behaviour users see, with no platform imports."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot import replies
from bot.commands import SettingsCommands
from bot.config import ModerationConfig, StorageConfig
from bot.errors import ChatUnavailable, MessageGone, PermissionMissing, UserError
from bot.events import (
    Button,
    ButtonPressed,
    ChatContext,
    CommandIssued,
    Event,
    ImagePosted,
    ImageRef,
    Sender,
)
from bot.imaging_commands import ImagingCommands
from bot.ratelimit import SlidingWindowLimiter
from classifier import Classifier, InvalidImage, Overloaded, RequestTimedOut, Verdict
from storage import ChatSettings, ClassificationRecord, Repository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Judged:
    """One image's outcome: a verdict and its stored record, or the reason there is none."""

    ref: ImageRef
    message_id: str
    verdict: Verdict | None = None
    record: ClassificationRecord | None = None
    error: str | None = None


class BotCore:
    """Decides what to do with each platform-neutral event and answers through its context."""

    def __init__(
        self,
        *,
        classifier: Classifier,
        repo: Repository,
        moderation: ModerationConfig,
        storage: StorageConfig,
        imaging: ImagingCommands | None = None,
    ) -> None:
        self._classifier = classifier
        self._repo = repo
        self._moderation = moderation
        self._storage = storage
        self._limiter = SlidingWindowLimiter(moderation.corrections_per_minute, 60.0)
        self._settings_commands = SettingsCommands(repo=repo, moderation=moderation)
        self._pending_deletes: dict[asyncio.Task[None], tuple[ChatContext, str]] = {}
        self._imaging = imaging or ImagingCommands.for_classifier(classifier.settings, fetch=self._fetch)

    async def handle(self, event: Event) -> None:
        """The one place that catches everything: UserError is shown, the rest logged + apology."""
        try:
            if isinstance(event, ImagePosted):
                await self._on_image(event)
            elif isinstance(event, CommandIssued):
                await self._on_command(event)
            else:
                await self._on_button(event)
        except UserError as exc:
            await self._tell(event, str(exc))
        except ChatUnavailable as exc:
            log.info("%s:%s is closed to the bot: %s", *_where(event), exc)
        except Exception:
            log.exception("failed to handle %s in %s:%s", type(event).__name__, *_where(event))
            await self._tell(event, replies.APOLOGY)

    async def aclose(self) -> None:
        """Stop the imaging workers; remove the self-deleting notices now rather than leave them behind."""
        self._imaging.close()
        pending = list(self._pending_deletes.items())
        self._pending_deletes.clear()
        for task, _ in pending:
            task.cancel()
        await asyncio.gather(*(t for t, _ in pending), return_exceptions=True)
        deletions = [_quiet_delete(ctx, message_id) for _, (ctx, message_id) in pending]
        if deletions:
            await asyncio.wait_for(asyncio.gather(*deletions), timeout=10)

    # ---- images posted -------------------------------------------------------------------

    async def _on_image(self, ev: ImagePosted) -> None:
        settings = await self._chat_settings(ev.ctx)
        if not settings.memes_only and not settings.auto_reply:
            return
        enforce = settings.memes_only and not (
            self._moderation.exempt_moderators and await ev.ctx.is_moderator(ev.sender.user_id)
        )
        judged = await asyncio.gather(
            *(self._judge(ev.ctx, ev.sender, ref, ev.message_id) for ref in ev.images)
        )
        offending = [j for j in judged if enforce and _offends(j.verdict, settings.threshold)]
        deleted = await self._enforce(ev, offending, settings) if offending else set()
        kept = [j for j in judged if j.message_id not in deleted]
        warn = settings.action == "warn" and bool(offending)
        if kept and (settings.auto_reply or warn):
            await self._reply_verdicts(ev.ctx, kept, reply_to=ev.message_id, warn=warn)

    async def _judge(self, ctx: ChatContext, sender: Sender, ref: ImageRef, message_id: str) -> Judged:
        where = ref.message_id or message_id
        try:
            data = await self._fetch(ref)
            verdict = await self._classify(data)
        except UserError as exc:
            return Judged(ref, where, error=str(exc))
        record = await self._record(ctx, sender, where, verdict)
        await self._keep_image(verdict.sha256, data)
        return Judged(ref, where, verdict, record)

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

    async def _fetch(self, ref: ImageRef) -> bytes:
        limit = self._classifier_limit()
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

    async def _keep_image(self, sha256: str, data: bytes) -> None:
        """Store a downscaled copy so a later correction can still be used for retraining."""
        days = self._storage.retention_days
        if days <= 0 or await self._repo.touch_image(sha256=sha256, retention_days=days):
            return
        thumb, width, height = await self._classifier.thumbnail(data, max_side=self._storage.image_max_side)
        await self._repo.store_image(
            sha256=sha256, data=thumb, width=width, height=height, retention_days=days
        )

    async def _enforce(
        self, ev: ImagePosted, offending: Sequence[Judged], settings: ChatSettings
    ) -> set[str]:
        """Apply the chat's action to non-memes; return the ids of messages actually deleted."""
        action = {"delete": "deleted", "warn": "warned", "dryrun": "dryrun"}[settings.action]
        deleted: set[str] = set()
        for judged in offending:
            assert judged.record is not None
            taken = action
            if settings.action == "delete" and judged.message_id not in deleted:
                taken = await self._delete_offender(ev.ctx, judged.message_id)
                if taken == "deleted":
                    deleted.add(judged.message_id)
            await self._repo.set_action_taken(classification_id=judged.record.id, action_taken=taken)
        if deleted:
            verdict = offending[0].verdict
            assert verdict is not None
            await self._notice(
                ev.ctx,
                f"🚫 Removed a non-meme from {ev.sender.display_name} ({replies.verdict_line(verdict)}). "
                "This chat is memes only.",
            )
        return deleted

    async def _delete_offender(self, ctx: ChatContext, message_id: str) -> str:
        try:
            await ctx.delete(message_id)
        except PermissionMissing as exc:
            await ctx.send(
                f"This chat is memes only, but I can't remove that image: {exc}", reply_to=message_id
            )
            return "delete_failed"
        except MessageGone:
            return "delete_failed"
        return "deleted"

    async def _notice(self, ctx: ChatContext, text: str) -> None:
        sent = await ctx.send(text)
        if self._moderation.notice_seconds > 0:
            task = asyncio.create_task(self._delete_later(ctx, sent.message_id))
            self._pending_deletes[task] = (ctx, sent.message_id)
            task.add_done_callback(lambda t: self._pending_deletes.pop(t, None))

    async def _delete_later(self, ctx: ChatContext, message_id: str) -> None:
        await asyncio.sleep(self._moderation.notice_seconds)
        await _quiet_delete(ctx, message_id)

    async def _reply_verdicts(
        self, ctx: ChatContext, judged: Sequence[Judged], *, reply_to: str | None, warn: bool = False
    ) -> None:
        many = len(judged) > 1
        lines: list[str] = []
        buttons: list[Button] = []
        for index, j in enumerate(judged, start=1):
            prefix = f"{index}. " if many else ""
            if j.verdict is None or j.record is None:
                lines.append(f"{prefix}⚠️ {j.error}")
                continue
            note = f" — {j.ref.note}" if j.ref.note else ""
            lines.append(f"{prefix}{replies.verdict_line(j.verdict)}{note}")
            buttons += replies.feedback_buttons(j.record.id, index if many else None)
        if warn:
            lines.append("⚠️ This chat is memes only. Please keep it to memes.")
        sent = await ctx.send("\n".join(lines), reply_to=reply_to, buttons=buttons)
        records = [j.record for j in judged if j.record is not None]
        if len(records) == 1:  # /correct on a verdict must name exactly one image
            await self._repo.set_reply_message(
                classification_id=records[0].id, reply_message_id=sent.message_id
            )

    # ---- commands --------------------------------------------------------------------------

    async def _on_command(self, ev: CommandIssued) -> None:
        if ev.name == "classify":
            await self._cmd_classify(ev)
        elif ev.name == "correct":
            await self._cmd_correct(ev)
        elif ev.name in ImagingCommands.NAMES:
            await self._imaging.run(ev)
        else:
            await self._settings_commands.run(ev)

    async def _cmd_classify(self, ev: CommandIssued) -> None:
        if ev.reply_to is None or not ev.reply_to.images:
            raise UserError("Reply to a message with an image and send /classify.")
        target = ev.reply_to.message_id
        judged = await asyncio.gather(
            *(self._judge(ev.ctx, ev.sender, r, target) for r in ev.reply_to.images)
        )
        await self._reply_verdicts(ev.ctx, judged, reply_to=ev.message_id or target)

    async def _cmd_correct(self, ev: CommandIssued) -> None:
        label = _parse_label(ev.args)
        record = await self._correction_target(ev)
        await self._record_vote(ev.ctx, ev.sender, record, label)
        await ev.ctx.send(f"Thanks! Noted: {replies.label_text(label).lower()}.", reply_to=ev.message_id)

    async def _correction_target(self, ev: CommandIssued) -> ClassificationRecord:
        if ev.reply_to is None:
            raise UserError("Reply to an image (or to my verdict) with /correct meme or /correct not_meme.")
        where = {"platform": ev.ctx.platform, "chat_id": ev.ctx.chat_id}
        replied = ev.reply_to
        record = await self._repo.find_classification(**where, reply_message_id=replied.message_id)
        if record is not None:  # a reply to my verdict
            return record
        if len(replied.images) > 1:
            raise UserError("That message has several images: use the buttons under my verdict instead.")
        record = await self._repo.find_classification(**where, message_id=replied.message_id)
        if record is not None:  # an image I already judged
            return record
        if not replied.images:
            raise UserError("That message has no image I checked. Reply to the image itself.")
        judged = await self._judge(ev.ctx, ev.sender, replied.images[0], replied.message_id)
        if judged.record is None:
            raise UserError(judged.error or "I couldn't read that image.")
        return judged.record

    # ---- feedback buttons ----------------------------------------------------------------

    async def _on_button(self, ev: ButtonPressed) -> None:
        parsed = replies.parse_feedback_payload(ev.payload)
        if parsed is None:
            await ev.answer("That button isn't one of mine.")
            return
        classification_id, right = parsed
        record = await self._repo.get_classification(classification_id)
        if record is None or (record.platform, record.chat_id) != (ev.ctx.platform, ev.ctx.chat_id):
            await ev.answer("I no longer have that verdict on record.")
            return
        label = record.label if right else replies.OTHER_LABEL[record.label]
        await self._record_vote(ev.ctx, ev.sender, record, label)
        await ev.answer(f"Thanks! Noted: {replies.label_text(label).lower()}.")

    async def _record_vote(
        self, ctx: ChatContext, sender: Sender, record: ClassificationRecord, label: str
    ) -> None:
        if not self._limiter.allow((ctx.platform, sender.user_id)):
            raise UserError("You're sending corrections too fast. Please wait a minute.")
        trusted = await ctx.is_moderator(sender.user_id)
        await self._repo.record_correction(
            classification_id=record.id, user_id=sender.user_id, label=label, trusted=trusted
        )
        log.info(
            "correction %s on classification %d by %s:%s", label, record.id, ctx.platform, sender.user_id
        )

    # ---- helpers -------------------------------------------------------------------------

    async def _chat_settings(self, ctx: ChatContext) -> ChatSettings:
        return await self._repo.get_chat_settings(platform=ctx.platform, chat_id=ctx.chat_id)

    def _classifier_limit(self) -> int:
        return self._classifier.settings.max_image_bytes

    async def _tell(self, event: Event, text: str) -> None:
        try:
            if isinstance(event, ButtonPressed):
                await event.answer(text)
            else:
                await event.ctx.send(text, reply_to=event.message_id, private=True)
        except Exception:
            log.exception("could not tell the user about an error in %s:%s", *_where(event))


def _offends(verdict: Verdict | None, threshold: float) -> bool:
    return verdict is not None and verdict.label == "not_meme" and verdict.confidence >= threshold


def _parse_label(args: Sequence[str]) -> str:
    word = "".join(args).lower().replace("-", "_").replace(" ", "")
    if word in ("meme", "memes", "yes"):
        return "meme"
    if word in ("not_meme", "notmeme", "not_a_meme", "nomeme", "no"):
        return "not_meme"
    raise UserError("Say which it is: /correct meme or /correct not_meme.")


async def _quiet_delete(ctx: ChatContext, message_id: str) -> None:
    try:
        await ctx.delete(message_id)
    except (PermissionMissing, MessageGone):
        pass
    except Exception:
        log.exception("could not delete notice %s in %s:%s", message_id, ctx.platform, ctx.chat_id)


def _where(event: Event) -> tuple[str, str]:
    return event.ctx.platform, event.ctx.chat_id


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
