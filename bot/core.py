"""BotCore: every behaviour users see, with no platform imports."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace

from bot import replies
from bot.commands import SettingsCommands
from bot.config import ModerationConfig, StorageConfig
from bot.enforcement import MemesOnlyEnforcer, Notices, doubtful, offends
from bot.errors import ChatUnavailable, ModeratorCheckFailed, UserError
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
from bot.judging import ImageJudge, Judged
from bot.moderation.audit import AuditTrail
from bot.moderation.commands import ModerationCommands
from bot.moderation.desk import ReviewDesk
from bot.moderation.labels import LabelBook
from bot.moderation.payloads import appeal_payload, parse_appeal, parse_decision
from bot.ratelimit import SlidingWindowLimiter
from classifier import Classifier
from storage import ChatSettings, ClassificationRecord, DatabaseError, Repository

log = logging.getLogger(__name__)


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
        self._repo = repo
        self._limiter = SlidingWindowLimiter(moderation.corrections_per_minute, 60.0)
        self._notices = Notices()
        self._audit = AuditTrail(repo)
        self._labels = LabelBook(classifier=classifier, repo=repo)
        self._desk = ReviewDesk(
            repo=repo, labels=self._labels, audit=self._audit, notices=self._notices, moderation=moderation
        )
        self._settings_commands = SettingsCommands(repo=repo, moderation=moderation, audit=self._audit)
        self._moderation_commands = ModerationCommands(repo=repo, desk=self._desk, audit=self._audit)
        self._judging = ImageJudge(classifier=classifier, repo=repo, storage=storage)
        self._enforcer = MemesOnlyEnforcer(
            repo=repo, moderation=moderation, notices=self._notices, audit=self._audit
        )
        self._imaging = imaging or ImagingCommands.for_classifier(
            classifier.settings, fetch=self._judging.fetch
        )

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
        await self._notices.aclose()

    # ---- images posted -------------------------------------------------------------------

    async def _on_image(self, ev: ImagePosted) -> None:
        settings = await self._chat_settings(ev.ctx)
        if not settings.memes_only and not settings.auto_reply:
            return
        enforce = await self._enforcer.applies(ev, settings)
        judged = await self._judge_all(ev.ctx, ev.sender, ev.images, ev.message_id)
        offending = [j for j in judged if enforce and offends(j, settings.threshold)]
        deleted, notes = await self._enforcer.enforce(ev, offending, settings) if offending else (set(), [])
        queued = await self._queue_doubtful(ev, [j for j in judged if enforce and doubtful(j, settings)])
        kept = [j for j in judged if j.message_id not in deleted]
        warned = offending if settings.action == "warn" else []
        if enforce is None and any(offends(j, settings.threshold) for j in judged):
            notes.append(replies.unchecked_poster(ev.ctx.platform, ev.sender.display_name))
        if kept and (settings.auto_reply or warned or notes):
            await self._reply_verdicts(
                ev.ctx, kept, reply_to=ev.message_id, warned=warned, queued=queued, notes=notes
            )

    async def _judge_all(
        self, ctx: ChatContext, sender: Sender, refs: Sequence[ImageRef], message_id: str
    ) -> list[Judged]:
        """Every image judged at once, each under the chat's label for it when a moderator gave one."""
        judged = await asyncio.gather(*(self._judging.judge(ctx, sender, ref, message_id) for ref in refs))
        return [await self._under_label(ctx, j) for j in judged]

    async def _under_label(self, ctx: ChatContext, judged: Judged) -> Judged:
        if judged.verdict is None:
            return judged
        try:
            label = await self._labels.covering(ctx, judged.verdict)
        except DatabaseError:  # the model's verdict still stands
            log.exception("could not look up the labels of %s:%s", ctx.platform, ctx.chat_id)
            return judged
        return judged if label is None else replace(judged, trusted=label)

    async def _queue_doubtful(self, ev: ImagePosted, doubtful_ones: Sequence[Judged]) -> set[int]:
        """Queues the review band's verdicts for a moderator; the ids of the records queued."""
        queued: set[int] = set()
        for judged in doubtful_ones:
            if judged.record is None:
                continue
            try:
                await self._desk.queue(ev.ctx, judged.record, "review", ev.sender)
            except DatabaseError:  # the post is kept either way; only the review is lost
                log.exception("could not queue classification %d for review", judged.record.id)
                continue
            queued.add(judged.record.id)
        return queued

    async def _reply_verdicts(
        self,
        ctx: ChatContext,
        judged: Sequence[Judged],
        *,
        reply_to: str | None,
        warned: Sequence[Judged] = (),
        queued: set[int] | frozenset[int] = frozenset(),
        notes: Sequence[str] = (),
    ) -> None:
        many = len(judged) > 1
        lines: list[str] = []
        buttons: list[Button] = []
        appeals: list[Button] = []
        for index, j in enumerate(judged, start=1):
            prefix = f"{index}. " if many else ""
            if j.verdict is None:
                lines.append(f"{prefix}⚠️ {j.error}")
                continue
            about = f" — {j.ref.note}" if j.ref.note else ""
            unsaved = f" {j.error}" if j.record is None else ""
            review = (
                " — kept for a moderator's review" if j.record is not None and j.record.id in queued else ""
            )
            lines.append(f"{prefix}{replies.judged_text(j)}{about}{review}{unsaved}")
            if j.record is not None:
                buttons += replies.feedback_buttons(j.record.id, index if many else None)
                if any(w is j for w in warned):
                    appeals.append(
                        Button(f"⚖️ Appeal{f' {index}' if many else ''}", appeal_payload(j.record.id))
                    )
        if warned:
            lines.append("⚠️ This chat is memes only. Please keep it to memes.")
            if appeals:
                lines.append("If it was a meme, the poster can press Appeal.")
        lines += notes
        sent = await ctx.send("\n".join(lines), reply_to=reply_to, buttons=buttons + appeals)
        records = [j.record for j in judged if j.record is not None]
        if len(records) == 1:  # /correct on a verdict must name exactly one image
            try:
                await self._repo.add_verdict_message(
                    classification_id=records[0].id, message_id=sent.message_id
                )
            except DatabaseError:  # the verdict is out; only /correct on the reply will not find it
                log.exception("could not link verdict message %s", sent.message_id)

    # ---- commands --------------------------------------------------------------------------

    async def _on_command(self, ev: CommandIssued) -> None:
        if ev.name == "classify":
            await self._cmd_classify(ev)
        elif ev.name == "correct":
            await self._cmd_correct(ev)
        elif ev.name in ImagingCommands.NAMES:
            await self._imaging.run(ev)
        elif ev.name in ModerationCommands.NAMES:
            await self._moderation_commands.run(ev)
        else:
            await self._settings_commands.run(ev)

    async def _cmd_classify(self, ev: CommandIssued) -> None:
        if ev.reply_to is None or not ev.reply_to.images:
            raise UserError("Reply to a message with an image and send /classify.")
        target = ev.reply_to.message_id
        judged = await self._judge_all(ev.ctx, ev.sender, ev.reply_to.images, target)
        await self._reply_verdicts(ev.ctx, judged, reply_to=ev.message_id or target)

    async def _cmd_correct(self, ev: CommandIssued) -> None:
        label = _parse_label(ev.args)
        record = await self._correction_target(ev)
        noted = await self._record_vote(ev.ctx, ev.sender, record, label)
        await ev.ctx.send(noted, reply_to=ev.message_id)

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
        judged = await self._judging.judge(ev.ctx, ev.sender, replied.images[0], replied.message_id)
        if judged.record is None:
            raise UserError(judged.error or "I couldn't read that image.")
        return judged.record

    # ---- feedback buttons ----------------------------------------------------------------

    async def _on_button(self, ev: ButtonPressed) -> None:
        if (appealed := parse_appeal(ev.payload)) is not None:
            await self._desk.appeal(ev, appealed)
            return
        if (decision := parse_decision(ev.payload)) is not None:
            await self._desk.decide(ev, *decision)
            return
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
        await ev.answer(await self._record_vote(ev.ctx, ev.sender, record, label))

    async def _record_vote(
        self, ctx: ChatContext, sender: Sender, record: ClassificationRecord, label: str
    ) -> str:
        """Record one correction; a moderator's also becomes the chat's label. Returns the thanks."""
        if not self._limiter.allow((ctx.platform, sender.user_id)):
            raise UserError("You're sending corrections too fast. Please wait a minute.")
        trusted: bool | None
        try:
            trusted = await ctx.is_moderator(sender.user_id)
        except ModeratorCheckFailed:
            trusted = None  # kept as a member's vote: nothing is lost, nothing is over-trusted
        try:
            await self._repo.record_correction(
                classification_id=record.id, user_id=sender.user_id, label=label, trusted=bool(trusted)
            )
            if trusted:
                made, old = await self._labels.set(ctx, sender, record, label)
        except DatabaseError:
            log.exception("could not record a correction on classification %d", record.id)
            raise UserError(replies.CORRECTION_NOT_RECORDED) from None
        log.info(
            "correction %s on classification %d by %s:%s", label, record.id, ctx.platform, sender.user_id
        )
        if not trusted:
            return _noted(label, trusted)
        await self._audit.record(
            ctx, sender, "label", subject=f"#{made.id} {made.image_sha256[:12]}", old=old, new=label
        )
        return replies.labelled(label, made.id, reposts=made.pixels is not None)

    # ---- helpers -------------------------------------------------------------------------

    async def _chat_settings(self, ctx: ChatContext) -> ChatSettings:
        return await self._repo.get_chat_settings(platform=ctx.platform, chat_id=ctx.chat_id)

    async def _tell(self, event: Event, text: str) -> None:
        try:
            if isinstance(event, ButtonPressed):
                await event.answer(text)
            else:
                await event.ctx.send(text, reply_to=event.message_id, private=True)
        except Exception:
            log.exception("could not tell the user about an error in %s:%s", *_where(event))


def _parse_label(args: Sequence[str]) -> str:
    word = "".join(args).lower().replace("-", "_").replace(" ", "")
    if word in ("meme", "memes", "yes"):
        return "meme"
    if word in ("not_meme", "notmeme", "not_a_meme", "nomeme", "no"):
        return "not_meme"
    raise UserError("Say which it is: /correct meme or /correct not_meme.")


def _noted(label: str, trusted: bool | None) -> str:
    """The thanks for a correction; `trusted` None: the admin check failed, so it counts as a member's."""
    thanks = f"Thanks! Noted: {replies.label_text(label).lower()}."
    if trusted is None:
        thanks += " (Counted as a member's vote: I couldn't check whether you're an admin here.)"
    return thanks


def _where(event: Event) -> tuple[str, str]:
    return event.ctx.platform, event.ctx.chat_id
