"""The audit log: every moderator action and every removal, written where it happened."""

from __future__ import annotations

import logging

from bot.events import ChatContext, Sender
from storage import DatabaseError, Repository

log = logging.getLogger(__name__)
BOT = Sender(user_id="bot", display_name="memebot")


class AuditTrail:
    """Writes audit entries; a failing database costs the entry (logged), never the action itself."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo

    async def record(
        self,
        ctx: ChatContext | tuple[str, str],
        actor: Sender,
        action: str,
        *,
        subject: str | None = None,
        old: object = None,
        new: object = None,
    ) -> None:
        platform, chat_id = (ctx.platform, ctx.chat_id) if not isinstance(ctx, tuple) else ctx
        try:
            await self._repo.moderation.audit(
                platform=platform,
                chat_id=chat_id,
                actor_id=actor.user_id,
                actor_name=actor.display_name,
                action=action,
                subject=subject,
                old_value=old,
                new_value=new,
            )
        except DatabaseError:
            log.exception("could not write the audit entry %s in %s:%s", action, platform, chat_id)
