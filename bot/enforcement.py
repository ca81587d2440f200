"""Memes-only enforcement: a chat's action applied to non-memes, and notices that remove themselves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from bot import replies
from bot.config import ModerationConfig
from bot.errors import MessageGone, ModeratorCheckFailed, PermissionMissing
from bot.events import Button, ChatContext, ImagePosted, SentMessage
from bot.judging import Judged
from bot.moderation.audit import BOT, AuditTrail
from storage import ChatSettings, DatabaseError, Repository

log = logging.getLogger(__name__)


def offends(judged: Judged, threshold: float) -> bool:
    """A non-meme to act on: a moderator labelled it so, or the model is at least `threshold` sure."""
    if judged.trusted is not None:
        return judged.trusted.label == "not_meme"
    verdict = judged.verdict
    return verdict is not None and verdict.label == "not_meme" and verdict.confidence >= threshold


def doubtful(judged: Judged, settings: ChatSettings) -> bool:
    """A non-meme in the review band: kept, and queued for a moderator (never one a moderator labelled)."""
    verdict = judged.verdict
    return (
        judged.trusted is None
        and verdict is not None
        and verdict.label == "not_meme"
        and settings.review_threshold <= verdict.confidence < settings.threshold
    )


class MemesOnlyEnforcer:
    """Deletes, warns about or only records non-memes in memes-only chats."""

    def __init__(
        self, *, repo: Repository, moderation: ModerationConfig, notices: Notices, audit: AuditTrail
    ) -> None:
        self._repo = repo
        self._moderation = moderation
        self._notices = notices
        self._audit = audit

    async def applies(self, ev: ImagePosted, settings: ChatSettings) -> bool | None:
        """Whether this post is held to memes-only (moderators are exempt unless configured not to be);
        None when the platform could not say whether the poster moderates the chat."""
        if not settings.memes_only:
            return False
        if not self._moderation.exempt_moderators:
            return True
        try:
            return not await ev.ctx.is_moderator(ev.sender.user_id)
        except ModeratorCheckFailed as exc:
            log.warning(
                "%s:%s: moderator check failed, post judged but left alone: %s",
                ev.ctx.platform,
                ev.ctx.chat_id,
                exc,
            )
            return None

    async def enforce(
        self, ev: ImagePosted, offending: Sequence[Judged], settings: ChatSettings
    ) -> tuple[set[str], list[str]]:
        """Apply the chat's action to non-memes; return the ids of messages actually deleted, and
        why others could not be (lines for the one reply to the post, never a second message)."""
        action = {"delete": "deleted", "warn": "warned", "dryrun": "dryrun"}[settings.action]
        deleted: set[str] = set()
        problems: list[str] = []
        for judged in offending:
            taken = action
            if settings.action == "delete" and judged.message_id not in deleted:
                taken, problem = await self._delete_offender(ev.ctx, judged.message_id)
                if taken == "deleted":
                    deleted.add(judged.message_id)
                if problem and problem not in problems:
                    problems.append(problem)
            if judged.record is not None:
                try:
                    await self._repo.set_action_taken(classification_id=judged.record.id, action_taken=taken)
                except DatabaseError:  # the action happened; only its record is missing
                    log.exception("could not record action %s on %d", taken, judged.record.id)
            if taken == "deleted":
                subject = f"message {judged.message_id} by {ev.sender.display_name}"
                verdict = replies.judged_text(judged)
                await self._audit.record(ev.ctx, BOT, "removal", subject=subject, new=verdict)
        removed = [j for j in offending if j.message_id in deleted]
        if removed:
            await self._removal_notice(ev, removed)
        return deleted, problems

    async def _removal_notice(self, ev: ImagePosted, removed: Sequence[Judged]) -> None:
        """One notice for the post, with an Appeal button per removed image the poster can press."""
        seconds = self._moderation.appeal_seconds
        records = [j.record for j in removed if j.record is not None]
        many = len(records) > 1
        buttons = [replies.appeal_button(r.id, i if many else None) for i, r in enumerate(records, start=1)]
        text = (
            f"🚫 Removed a non-meme from {ev.sender.display_name} ({replies.judged_text(removed[0])}). "
            "This chat is memes only."
        )
        if buttons:
            text += f" {ev.sender.display_name}: if it was a meme, press Appeal"
            text += f" within {replies.duration(seconds)}." if seconds > 0 else "."
        await self._notices.post(ev.ctx, text, seconds=seconds, buttons=buttons)

    async def _delete_offender(self, ctx: ChatContext, message_id: str) -> tuple[str, str | None]:
        try:
            await ctx.delete(message_id)
        except PermissionMissing as exc:
            return "delete_failed", f"⚠️ This chat is memes only, but I can't remove that image: {exc}"
        except MessageGone:
            return "delete_failed", None
        return "deleted", None


class Notices:
    """Notices that remove themselves after a while; on shutdown they are removed at once."""

    def __init__(self) -> None:
        self._pending: dict[asyncio.Task[None], tuple[ChatContext, str]] = {}

    async def post(
        self, ctx: ChatContext, text: str, *, seconds: float, buttons: Sequence[Button] = ()
    ) -> SentMessage:
        """Posts `text`; it is deleted after `seconds` (never when 0)."""
        sent = await ctx.send(text, buttons=buttons)
        if seconds > 0:
            task = asyncio.create_task(self._delete_later(ctx, sent.message_id, seconds))
            self._pending[task] = (ctx, sent.message_id)
            task.add_done_callback(lambda t: self._pending.pop(t, None))
        return sent

    async def aclose(self) -> None:
        """Remove the self-deleting notices now rather than leave them behind."""
        pending = list(self._pending.items())
        self._pending.clear()
        for task, _ in pending:
            task.cancel()
        await asyncio.gather(*(t for t, _ in pending), return_exceptions=True)
        deletions = [_quiet_delete(ctx, message_id) for _, (ctx, message_id) in pending]
        if deletions:
            await asyncio.wait_for(asyncio.gather(*deletions), timeout=10)

    async def _delete_later(self, ctx: ChatContext, message_id: str, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await _quiet_delete(ctx, message_id)


async def _quiet_delete(ctx: ChatContext, message_id: str) -> None:
    try:
        await ctx.delete(message_id)
    except (PermissionMissing, MessageGone):
        pass
    except Exception:
        log.exception("could not delete notice %s in %s:%s", message_id, ctx.platform, ctx.chat_id)
