"""Chat commands about settings, statistics and export (classification lives in core)."""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot import replies
from bot.config import ModerationConfig
from bot.errors import UserError
from bot.events import CommandIssued
from bot.moderation.audit import AuditTrail
from storage import ChatSettings, Repository, export_corrections

# The audit log's name for each setting: the command that changes it.
AUDITED = {"memes_only": "memesonly", "action": "mode", "threshold": "threshold", "auto_reply": "autoreply"}
ACTIONS = {
    "delete": "non-memes are deleted, with a short notice",
    "warn": "non-memes get a warning reply",
    "dryrun": "non-memes are only recorded (nothing visible happens)",
}


class SettingsCommands:
    """/help, /memesonly, /mode, /threshold, /autoreply, /stats and /export."""

    def __init__(self, *, repo: Repository, moderation: ModerationConfig, audit: AuditTrail) -> None:
        self._repo = repo
        self._moderation = moderation
        self._audit = audit
        self._handlers: dict[str, Callable[[CommandIssued], Awaitable[str | None]]] = {
            "help": self._help,
            "start": self._help,
            "memesonly": self._memes_only,
            "mode": self._mode,
            "threshold": self._threshold,
            "autoreply": self._auto_reply,
            "stats": self._stats,
            "export": self._export,
        }

    async def run(self, ev: CommandIssued) -> None:
        handler = self._handlers.get(ev.name)
        if handler is None:
            raise UserError(f"I don't know /{ev.name}. Try /help.")
        text = await handler(ev)
        if text:
            await ev.ctx.send(text, reply_to=ev.message_id)

    async def _help(self, ev: CommandIssued) -> str:
        return replies.HELP

    async def _memes_only(self, ev: CommandIssued) -> str:
        arg = _one_arg(ev, "status", "/memesonly on, /memesonly off or /memesonly status")
        if arg == "status":
            return _describe(await self._settings(ev))
        if arg not in ("on", "off"):
            raise UserError("Use /memesonly on, /memesonly off or /memesonly status.")
        await require_moderator(ev)
        return _describe(await self._update(ev, memes_only=arg == "on"))

    async def _mode(self, ev: CommandIssued) -> str:
        arg = _one_arg(ev, "", "/mode delete, /mode warn or /mode dryrun")
        if not arg:
            current = (await self._settings(ev)).action
            return f"Mode: {current} ({ACTIONS[current]}). Change it with /mode delete|warn|dryrun."
        if arg not in ACTIONS:
            raise UserError("Use /mode delete, /mode warn or /mode dryrun.")
        await require_moderator(ev)
        await self._update(ev, action=arg)
        return f"Mode set to {arg}: {ACTIONS[arg]}."

    async def _threshold(self, ev: CommandIssued) -> str:
        arg = _one_arg(ev, "", "/threshold 0.8 (anything from 0.5 to 0.99)")
        if not arg:
            current = (await self._settings(ev)).threshold
            return f"Threshold: {current:.2f}. I act on non-memes when I'm at least {current:.0%} sure."
        value = parse_fraction(arg, "/threshold 0.8")
        await require_moderator(ev)
        await self._update(ev, threshold=value)
        return f"Threshold set to {value:.2f}: I act on non-memes when I'm at least {value:.0%} sure."

    async def _auto_reply(self, ev: CommandIssued) -> str:
        arg = _one_arg(ev, "", "/autoreply on or /autoreply off")
        if not arg:
            on = (await self._settings(ev)).auto_reply
            return f"Auto-replies are {'on' if on else 'off'}."
        if arg not in ("on", "off"):
            raise UserError("Use /autoreply on or /autoreply off.")
        await require_moderator(ev)
        await self._update(ev, auto_reply=arg == "on")
        if arg == "on":
            return "Auto-replies on: I'll give a verdict on every image."
        return "Auto-replies off: I'll only answer /classify (and still enforce memes-only)."

    async def _stats(self, ev: CommandIssued) -> str:
        s = await self._repo.chat_stats(platform=ev.ctx.platform, chat_id=ev.ctx.chat_id)
        if s.images == 0:
            return "I haven't checked any images in this chat yet."
        agreement = replies.percent(s.agreement_rate)
        return (
            f"Images checked: {s.images}\n"
            f"Memes: {s.memes} ({replies.percent(s.meme_share)}) · not memes: {s.not_memes}\n"
            f"Feedback: {s.feedback_votes} votes, {agreement} agreed with me; corrections: {s.corrections}"
        )

    async def _export(self, ev: CommandIssued) -> None:
        await require_moderator(ev)
        with tempfile.TemporaryDirectory(prefix="memebot-export-") as tmp:
            out = Path(tmp) / f"memebot-{ev.ctx.platform}-{_safe(ev.ctx.chat_id)}-corrections.zip"
            summary = await export_corrections(
                self._repo, out, platform=ev.ctx.platform, chat_id=ev.ctx.chat_id
            )
            if summary.images == 0:
                raise UserError("There are no corrections in this chat yet, so there is nothing to export.")
            caption = (
                f"{summary.images} corrected images ({summary.meme} meme, {summary.not_meme} not meme). "
                "Train with: memebot train --data this.zip"
            )
            await ev.ctx.send_file(
                filename=out.name, data=out.read_bytes(), caption=caption, reply_to=ev.message_id
            )
            await self._audit.record(ev.ctx, ev.sender, "export", new=f"{summary.images} images")

    async def _settings(self, ev: CommandIssued) -> ChatSettings:
        return await self._repo.get_chat_settings(platform=ev.ctx.platform, chat_id=ev.ctx.chat_id)

    async def _update(self, ev: CommandIssued, **changes: object) -> ChatSettings:
        """Changes settings and writes each change that took place to the audit log."""
        old = await self._settings(ev)
        new = await self._repo.update_chat_settings(
            platform=ev.ctx.platform,
            chat_id=ev.ctx.chat_id,
            **changes,  # type: ignore[arg-type]
        )
        for name in changes:
            before, after = getattr(old, name), getattr(new, name)
            if before != after:
                await self._audit.record(
                    ev.ctx, ev.sender, AUDITED[name], old=_shown(before), new=_shown(after)
                )
        return new


async def require_moderator(ev: CommandIssued) -> None:
    if not await ev.ctx.is_moderator(ev.sender.user_id):
        raise UserError(f"Sorry, only moderators can use /{ev.name} that way.")


def parse_fraction(arg: str, usage: str) -> float:
    """'0.8', '80%' or '80' as 0.8, between 0.5 and 0.99."""
    text = arg.rstrip("%")
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{arg!r} is not a number. Use e.g. {usage}.") from None
    if arg.endswith("%") or value > 1:
        value /= 100
    if not 0.5 <= value <= 0.99:
        raise UserError("It must be between 0.5 and 0.99 (50% to 99%).")
    return round(value, 4)


def _describe(settings: ChatSettings) -> str:
    if not settings.memes_only:
        return "Memes-only is off: every image is welcome here."
    return (
        f"Memes-only is on. Mode: {settings.action} ({ACTIONS[settings.action]}); "
        f"threshold {settings.threshold:.2f}."
    )


def _one_arg(ev: CommandIssued, default: str, usage: str) -> str:
    if len(ev.args) > 1:
        raise UserError(f"Too many words. Use {usage}.")
    return ev.args[0].lower() if ev.args else default


def _shown(value: object) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:40]
