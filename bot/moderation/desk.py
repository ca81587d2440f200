"""The review desk: the review band's items and appeals, queued, shown to moderators and decided once."""

from __future__ import annotations

import logging

from bot import replies
from bot.config import ModerationConfig
from bot.enforcement import Notices
from bot.errors import ChatUnavailable, MessageGone, PermissionMissing, UserError
from bot.events import Button, ButtonPressed, ChatContext, Sender
from bot.moderation.audit import AuditTrail
from bot.moderation.labels import LabelBook
from bot.moderation.payloads import decision_payload
from storage import ClassificationRecord, DatabaseError, Repository, ReviewItem

log = logging.getLogger(__name__)

BUTTONS = {
    "review": (("✅ Keep", "kept"), ("🗑️ Remove", "removed")),
    "appeal": (("♻️ Restore", "upheld"), ("✋ Keep removed", "rejected")),
}
DONE = {
    "kept": "✅ Kept",
    "removed": "🗑️ Removed",
    "upheld": "♻️ Appeal upheld: restored",
    "rejected": "✋ Appeal rejected: the removal stands",
}
# The label a decision makes the chat's label for the image.
LABEL_OF = {"kept": "meme", "removed": "not_meme", "upheld": "meme", "rejected": "not_meme"}
AUDIT_ACTION = {
    "kept": "review.keep",
    "removed": "review.remove",
    "upheld": "appeal.uphold",
    "rejected": "appeal.reject",
}
SHOWN_AT_ONCE = 5


class ReviewDesk:
    """Queues items, posts them to the review chat, lists them (/review) and applies decisions."""

    def __init__(
        self,
        *,
        repo: Repository,
        labels: LabelBook,
        audit: AuditTrail,
        notices: Notices,
        moderation: ModerationConfig,
    ) -> None:
        self._repo = repo
        self._labels = labels
        self._audit = audit
        self._notices = notices
        self._moderation = moderation

    async def queue(
        self, ctx: ChatContext, record: ClassificationRecord, kind: str, poster: Sender
    ) -> tuple[ReviewItem, bool]:
        """Queues the record (once per kind) and, when new, posts it to the chat's review chat."""
        item, new = await self._repo.moderation.queue(
            classification_id=record.id, kind=kind, poster_id=poster.user_id, poster_name=poster.display_name
        )
        if new:
            await self._post_to_review_chat(ctx, item, record)
        return item, new

    async def show(self, ctx: ChatContext) -> None:
        """/review: the open items of this chat and of the chats reviewed here, oldest first."""
        chats = [ctx.chat_id]
        chats += await self._repo.moderation.chats_reviewed_in(
            platform=ctx.platform, review_chat_id=ctx.chat_id
        )
        items, total = await self._repo.moderation.open_items(
            platform=ctx.platform, chat_ids=chats, limit=SHOWN_AT_ONCE
        )
        if not items:
            await ctx.send("Nothing is waiting for review. 🎉", private=True)
            return
        for item in items:
            record = await self._repo.get_classification(item.classification_id)
            if record is not None:
                await self._send_item(ctx, item, record, here=ctx.chat_id)
        if total > len(items):
            await ctx.send(f"{total - len(items)} more wait behind these: decide these, then /review again.")

    async def appeal(self, ev: ButtonPressed, classification_id: int) -> None:
        """The Appeal button under a removal or warning notice: only the poster's press counts."""
        record = await self._repo.get_classification(classification_id)
        if record is None or (record.platform, record.chat_id) != (ev.ctx.platform, ev.ctx.chat_id):
            await ev.answer("I no longer have that post on record.")
            return
        if record.user_id != ev.sender.user_id:
            await ev.answer("Only the poster can appeal.")
            return
        item, new = await self.queue(ev.ctx, record, "appeal", ev.sender)
        if not new:
            state = "a moderator will look at it" if item.open else f"it was {item.status}"
            await ev.answer(f"You already appealed that one: {state}.")
            return
        await self._audit.record(ev.ctx, ev.sender, "appeal", subject=f"#{item.id}", new=record.action_taken)
        await ev.answer("Appeal sent: a moderator will look at it.")

    async def decide(self, ev: ButtonPressed, item_id: int, outcome: str) -> None:
        item = await self._repo.moderation.get_item(item_id)
        if item is None or item.platform != ev.ctx.platform:
            await ev.answer("I no longer have that item on record.")
            return
        origin = await self._origin(ev.ctx, item)
        if not await origin.is_moderator(ev.sender.user_id):
            await ev.answer("Only the moderators of the chat it comes from can decide that.")
            return
        decided = await self._repo.moderation.decide(
            item_id=item.id, status=outcome, user_id=ev.sender.user_id, user_name=ev.sender.display_name
        )
        if decided is None:  # another moderator was first: theirs is the outcome
            current = await self._repo.moderation.get_item(item.id)
            who = current.decided_by_name if current is not None else "another moderator"
            status = current.status if current is not None else "decided"
            await ev.answer(f"Already decided by {who}: {DONE.get(status, status).lower()}.")
            return
        record = await self._repo.get_classification(item.classification_id)
        note = "" if record is None else await self._apply(origin, ev.sender, decided, record)
        await self._audit.record(
            origin,
            ev.sender,
            AUDIT_ACTION[outcome],
            subject=f"#{item.id} posted by {item.poster_name}",
            new=outcome,
        )
        done = f"{DONE[outcome]} by {ev.sender.display_name} (#{item.id}).{note}"
        await ev.answer(done)
        if ev.message_id is not None:  # the others in the review chat see it was decided
            await ev.ctx.send(done, reply_to=ev.message_id)

    async def _apply(
        self, origin: ChatContext, moderator: Sender, item: ReviewItem, record: ClassificationRecord
    ) -> str:
        """The decision's effects in the chat it comes from; a note for the moderator on what failed."""
        label = LABEL_OF[item.status]
        await self._labels.set(origin, moderator, record, label)
        await self._repo.record_correction(
            classification_id=record.id, user_id=moderator.user_id, label=label, trusted=True
        )
        if item.status == "removed":
            return await self._remove(origin, record)
        if item.status == "upheld" and record.action_taken == "deleted":
            return await self._restore(origin, item, record)
        if item.status == "rejected":
            await self._tell_rejected(origin, item)
        return ""

    async def _remove(self, origin: ChatContext, record: ClassificationRecord) -> str:
        if record.message_id is None:
            return ""
        try:
            await origin.delete(record.message_id)
        except MessageGone:
            return " The post was already gone."
        except PermissionMissing as exc:
            return f" I couldn't remove the post: {exc}"
        await self._repo.set_action_taken(classification_id=record.id, action_taken="deleted")
        return ""

    async def _restore(self, origin: ChatContext, item: ReviewItem, record: ClassificationRecord) -> str:
        copy = await self._repo.image_data(record.image_sha256)
        caption = f"Posted by {item.poster_name}, restored by a moderator."
        if copy is None:
            await origin.send(f"{item.poster_name}'s image was a meme after all; a moderator restored it.")
            return " I no longer had a copy of the image to post again."
        await origin.send_image(filename="restored.jpg", data=copy, caption=caption)
        return ""

    async def _tell_rejected(self, origin: ChatContext, item: ReviewItem) -> None:
        text = (
            "A moderator looked at your appeal and kept the removal: that image isn't a meme for this chat."
        )
        if await origin.tell_user(item.poster_id, text):
            return
        seconds = self._moderation.notice_seconds
        await self._notices.post(origin, f"{item.poster_name}: {text[0].lower()}{text[1:]}", seconds=seconds)

    async def _origin(self, ctx: ChatContext, item: ReviewItem) -> ChatContext:
        if item.chat_id == ctx.chat_id:
            return ctx
        try:
            return await ctx.open_chat(item.chat_id)
        except ChatUnavailable:
            raise UserError("I can't reach the chat that item comes from any more.") from None

    async def _post_to_review_chat(
        self, ctx: ChatContext, item: ReviewItem, record: ClassificationRecord
    ) -> None:
        settings = await self._repo.get_chat_settings(platform=ctx.platform, chat_id=ctx.chat_id)
        if settings.review_chat_id is None:
            return
        try:
            review_chat = await ctx.open_chat(settings.review_chat_id)
            sent = await self._send_item(review_chat, item, record, here=settings.review_chat_id)
            await self._repo.moderation.set_review_message(
                item_id=item.id, review_chat_id=settings.review_chat_id, message_id=sent
            )
        except (ChatUnavailable, PermissionMissing, DatabaseError) as exc:  # the queue still has it
            log.warning("could not post review item %d to %s: %s", item.id, settings.review_chat_id, exc)

    async def _send_item(
        self, ctx: ChatContext, item: ReviewItem, record: ClassificationRecord, *, here: str
    ) -> str:
        caption = item_caption(item, record, from_elsewhere=item.chat_id != here)
        buttons = [Button(label, decision_payload(item.id, outcome)) for label, outcome in BUTTONS[item.kind]]
        copy = await self._repo.image_data(record.image_sha256)
        if copy is None:
            sent = await ctx.send(f"{caption}\n(I kept no copy of the image.)", buttons=buttons)
        else:
            sent = await ctx.send_image(
                filename=f"review-{item.id}.jpg", data=copy, caption=caption, buttons=buttons
            )
        return sent.message_id


def item_caption(item: ReviewItem, record: ClassificationRecord, *, from_elsewhere: bool) -> str:
    verdict = replies.verdict_text(record.label, record.confidence)
    where = f" in chat {item.chat_id}" if from_elsewhere else ""
    when = item.created_at.strftime("%d %b %H:%M UTC")
    if item.kind == "appeal":
        done = "removed" if record.action_taken == "deleted" else "warned about"
        return f"#{item.id} ⚖️ Appeal by {item.poster_name}{where}, {when}: I {done} it as {verdict}."
    return (
        f"#{item.id} 🔎 Review: {verdict}, posted by {item.poster_name}{where}, {when}. Keep it or remove it?"
    )
