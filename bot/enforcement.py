"""Memes-only enforcement: a chat's action applied to non-memes, and notices that remove themselves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from bot import replies
from bot.config import ModerationConfig
from bot.errors import MessageGone, ModeratorCheckFailed, PermissionMissing
from bot.events import ChatContext, ImagePosted
from bot.judging import Judged
from classifier import Verdict
from storage import ChatSettings, DatabaseError, Repository

log = logging.getLogger(__name__)


def offends(verdict: Verdict | None, threshold: float) -> bool:
    return verdict is not None and verdict.label == "not_meme" and verdict.confidence >= threshold


class MemesOnlyEnforcer:
    """Deletes, warns about or only records non-memes in memes-only chats; owns the pending notices."""

    def __init__(self, *, repo: Repository, moderation: ModerationConfig) -> None:
        self._repo = repo
        self._moderation = moderation
        self._pending_deletes: dict[asyncio.Task[None], tuple[ChatContext, str]] = {}

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
        if deleted:
            verdict = offending[0].verdict
            assert verdict is not None
            await self._notice(
                ev.ctx,
                f"🚫 Removed a non-meme from {ev.sender.display_name} ({replies.verdict_line(verdict)}). "
                "This chat is memes only.",
            )
        return deleted, problems

    async def aclose(self) -> None:
        """Remove the self-deleting notices now rather than leave them behind."""
        pending = list(self._pending_deletes.items())
        self._pending_deletes.clear()
        for task, _ in pending:
            task.cancel()
        await asyncio.gather(*(t for t, _ in pending), return_exceptions=True)
        deletions = [_quiet_delete(ctx, message_id) for _, (ctx, message_id) in pending]
        if deletions:
            await asyncio.wait_for(asyncio.gather(*deletions), timeout=10)

    async def _delete_offender(self, ctx: ChatContext, message_id: str) -> tuple[str, str | None]:
        try:
            await ctx.delete(message_id)
        except PermissionMissing as exc:
            return "delete_failed", f"⚠️ This chat is memes only, but I can't remove that image: {exc}"
        except MessageGone:
            return "delete_failed", None
        return "deleted", None

    async def _notice(self, ctx: ChatContext, text: str) -> None:
        sent = await ctx.send(text)
        if self._moderation.notice_seconds > 0:
            task = asyncio.create_task(self._delete_later(ctx, sent.message_id))
            self._pending_deletes[task] = (ctx, sent.message_id)
            task.add_done_callback(lambda t: self._pending_deletes.pop(t, None))

    async def _delete_later(self, ctx: ChatContext, message_id: str) -> None:
        await asyncio.sleep(self._moderation.notice_seconds)
        await _quiet_delete(ctx, message_id)


async def _quiet_delete(ctx: ChatContext, message_id: str) -> None:
    try:
        await ctx.delete(message_id)
    except (PermissionMissing, MessageGone):
        pass
    except Exception:
        log.exception("could not delete notice %s in %s:%s", message_id, ctx.platform, ctx.chat_id)
