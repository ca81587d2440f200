"""Moderators' commands: /review, /reviewchat, /review_threshold, /labels, /unlabel, /audit, /report."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot import replies
from bot.commands import parse_fraction, require_moderator
from bot.errors import ChatUnavailable, UserError
from bot.events import CommandIssued
from bot.moderation.audit import AuditTrail
from bot.moderation.desk import ReviewDesk
from storage import AuditEntry, ChatSettings, ModerationReport, Repository, TrustedLabel

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a phone and typed elsewhere
CODE_TTL_S = 600.0
REPORT_DAYS = (1, 90)


@dataclass(frozen=True)
class _Pairing:
    platform: str
    chat_id: str
    expires: float


class ModerationCommands:
    NAMES = frozenset({"review", "reviewchat", "review_threshold", "labels", "unlabel", "audit", "report"})

    def __init__(
        self,
        *,
        repo: Repository,
        desk: ReviewDesk,
        audit: AuditTrail,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._repo = repo
        self._desk = desk
        self._audit = audit
        self._clock = clock
        self._pairings: dict[str, _Pairing] = {}
        self._handlers: dict[str, Callable[[CommandIssued], Awaitable[str | None]]] = {
            "review": self._review,
            "reviewchat": self._review_chat,
            "review_threshold": self._review_threshold,
            "labels": self._labels,
            "unlabel": self._unlabel,
            "audit": self._audit_log,
            "report": self._report,
        }

    async def run(self, ev: CommandIssued) -> None:
        text = await self._handlers[ev.name](ev)
        if text:
            await ev.ctx.send(text, reply_to=ev.message_id, private=True)

    async def _review(self, ev: CommandIssued) -> None:
        await require_moderator(ev)
        await self._desk.show(ev.ctx)

    # ---- the review chat -----------------------------------------------------------------------

    async def _review_chat(self, ev: CommandIssued) -> str:
        arg = ev.args[0] if len(ev.args) == 1 else ("" if not ev.args else None)
        if arg is None:
            raise UserError("Use /reviewchat, /reviewchat off, /reviewchat status or /reviewchat CODE.")
        if arg.lower() == "status":
            settings = await self._settings(ev)
            if settings.review_chat_id is None:
                return "This chat has no review chat: its items wait in /review here."
            return f"Items to review from this chat also go to chat {settings.review_chat_id}."
        await require_moderator(ev)
        if arg.lower() == "off":
            old = (await self._settings(ev)).review_chat_id
            await self._update(ev, review_chat_id="")
            await self._audit.record(ev.ctx, ev.sender, "reviewchat", old=old, new=None)
            return "Review chat removed: items wait in /review here."
        if arg:
            return await self._pair(ev, arg.upper())
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))
        self._forget_expired()
        self._pairings[code] = _Pairing(ev.ctx.platform, ev.ctx.chat_id, self._clock() + CODE_TTL_S)
        return (
            f"To review this chat's items elsewhere (a moderators' group or channel), send "
            f"/reviewchat {code} there. It works once, for {replies.duration(CODE_TTL_S)}, "
            "and only for a moderator of this chat."
        )

    async def _pair(self, ev: CommandIssued, code: str) -> str:
        self._forget_expired()
        pairing = self._pairings.get(code)
        if pairing is None or pairing.platform != ev.ctx.platform:
            raise UserError("That code is unknown or has expired. Send /reviewchat in the chat to review.")
        if pairing.chat_id == ev.ctx.chat_id:
            raise UserError("Send the code in the review chat, not in the chat it reviews.")
        try:
            origin = await ev.ctx.open_chat(pairing.chat_id)
        except ChatUnavailable:
            raise UserError("I can't reach the chat that code is for any more.") from None
        if not await origin.is_moderator(ev.sender.user_id):
            raise UserError("Only a moderator of the chat to review can link a review chat to it.")
        del self._pairings[code]
        old = (
            await self._repo.get_chat_settings(platform=origin.platform, chat_id=origin.chat_id)
        ).review_chat_id
        await self._repo.update_chat_settings(
            platform=origin.platform, chat_id=origin.chat_id, review_chat_id=ev.ctx.chat_id
        )
        await self._audit.record(origin, ev.sender, "reviewchat", old=old, new=ev.ctx.chat_id)
        return f"Linked: items to review from chat {origin.chat_id} will come here, with Keep/Remove buttons."

    def _forget_expired(self) -> None:
        now = self._clock()
        self._pairings = {code: p for code, p in self._pairings.items() if p.expires > now}

    async def _review_threshold(self, ev: CommandIssued) -> str:
        if len(ev.args) > 1:
            raise UserError("Too many words. Use /review_threshold 0.6 or /review_threshold off.")
        settings = await self._settings(ev)
        if not ev.args:
            return describe_band(settings)
        arg = ev.args[0].lower()
        value = 1.0 if arg == "off" else parse_fraction(arg, "/review_threshold 0.6")
        await require_moderator(ev)
        changed = await self._update(ev, review_threshold=value)
        await self._audit.record(
            ev.ctx, ev.sender, "review_threshold", old=settings.review_threshold, new=changed.review_threshold
        )
        return describe_band(changed)

    # ---- labels ----------------------------------------------------------------------------

    async def _labels(self, ev: CommandIssued) -> str:
        await require_moderator(ev)
        found = await self._repo.moderation.labels(platform=ev.ctx.platform, chat_id=ev.ctx.chat_id)
        if not found:
            return "No moderator's labels here yet: a moderator's correction (button or /correct) makes one."
        lines = [label_line(label) for label in found]
        return "Moderators' labels, newest first (/unlabel N undoes one):\n" + "\n".join(lines)

    async def _unlabel(self, ev: CommandIssued) -> str:
        await require_moderator(ev)
        label = await self._label_to_undo(ev)
        removed = await self._repo.moderation.remove_label(label.id)
        if removed is None:
            return "That label was already undone."
        await self._audit.record(
            ev.ctx,
            ev.sender,
            "unlabel",
            subject=f"#{removed.id} {removed.image_sha256[:12]}",
            old=removed.label,
        )
        return f"Label #{removed.id} undone: that image is judged by the model again."

    async def _label_to_undo(self, ev: CommandIssued) -> TrustedLabel:
        where = {"platform": ev.ctx.platform, "chat_id": ev.ctx.chat_id}
        if len(ev.args) == 1 and ev.args[0].lstrip("#").isdigit():
            label = await self._repo.moderation.get_label(int(ev.args[0].lstrip("#")))
            if label is None or (label.platform, label.chat_id) != (ev.ctx.platform, ev.ctx.chat_id):
                raise UserError("There is no label with that number here. /labels lists them.")
            return label
        if ev.reply_to is None:
            raise UserError(
                "Reply to the image (or my verdict) with /unlabel, or give its number: /unlabel 12."
            )
        record = await self._repo.find_classification(**where, reply_message_id=ev.reply_to.message_id)
        record = record or await self._repo.find_classification(**where, message_id=ev.reply_to.message_id)
        label = (
            None
            if record is None
            else await self._repo.moderation.find_label(**where, image_sha256=record.image_sha256)
        )
        if label is None:
            raise UserError("That image has no moderator's label here. /labels lists them.")
        return label

    # ---- audit and report --------------------------------------------------------------------

    async def _audit_log(self, ev: CommandIssued) -> str:
        await require_moderator(ev)
        entries = await self._repo.moderation.audit_entries(platform=ev.ctx.platform, chat_id=ev.ctx.chat_id)
        if not entries:
            return "The audit log of this chat is empty."
        return "Last moderator actions and removals, newest first:\n" + "\n".join(map(audit_line, entries))

    async def _report(self, ev: CommandIssued) -> str:
        days = _days(ev.args)
        since = datetime.now(UTC) - timedelta(days=days)
        report = await self._repo.moderation_report(
            platform=ev.ctx.platform, chat_id=ev.ctx.chat_id, since=since
        )
        return report_text(report, await self._settings(ev), days)

    # ---- helpers -------------------------------------------------------------------------------

    async def _settings(self, ev: CommandIssued) -> ChatSettings:
        return await self._repo.get_chat_settings(platform=ev.ctx.platform, chat_id=ev.ctx.chat_id)

    async def _update(self, ev: CommandIssued, **changes: object) -> ChatSettings:
        return await self._repo.update_chat_settings(
            platform=ev.ctx.platform,
            chat_id=ev.ctx.chat_id,
            **changes,  # type: ignore[arg-type]
        )


def describe_band(settings: ChatSettings) -> str:
    if not settings.reviews:
        return (
            f"The review band is off: non-memes under {settings.threshold:.0%} are let through. "
            "Open it with e.g. /review_threshold 0.5."
        )
    return (
        f"Review band: non-memes I'm {settings.review_threshold:.0%} to {settings.threshold:.0%} sure of are "
        "kept and queued for a moderator (/review); from the threshold up, memes-only acts on them."
    )


def label_line(label: TrustedLabel) -> str:
    when = label.created_at.strftime("%d %b %Y")
    reach = "and its reposts" if label.pixels is not None else "this exact file only"
    return f"#{label.id} {replies.label_text(label.label)} ({reach}), by {label.set_by_name} on {when}"


def audit_line(entry: AuditEntry) -> str:
    when = entry.created_at.strftime("%d %b %H:%M")
    change = ""
    if entry.old_value is not None or entry.new_value is not None:
        change = f": {entry.old_value or '–'} → {entry.new_value or '–'}"
    subject = f" {entry.subject}" if entry.subject else ""
    return f"{when} {entry.actor_name}: {entry.action}{subject}{change}"


def report_text(report: ModerationReport, settings: ChatSettings, days: int) -> str:
    acted = report.acted
    total = sum(acted.values())
    lines = [
        f"Last {days} day{'s' if days != 1 else ''} in this chat:",
        f"Images checked: {report.images}",
        f"Memes-only acted on {total}: {acted.get('deleted', 0)} removed, "
        f"{acted.get('dryrun', 0)} would have been removed (dryrun), {acted.get('warned', 0)} warned, "
        f"{acted.get('delete_failed', 0)} could not be removed",
        f"Of those, later called memes: {report.marked_meme_by_members} by members, "
        f"{report.marked_meme_by_moderators} by moderators",
        f"Review band: {_statuses(report.reviews, ('open', 'kept', 'removed'))}",
        f"Appeals: {_statuses(report.appeals, ('open', 'upheld', 'rejected'))}",
        advice_text(report, settings),
    ]
    return "\n".join(lines)


def advice_text(report: ModerationReport, settings: ChatSettings) -> str:
    advice = report.advice
    current = f"This chat's threshold is {settings.threshold:.2f}."
    if advice.evidence == 0:
        return (
            f"Nobody voted on a non-meme verdict in this period, so I can't advise a threshold yet. {current}"
        )
    if advice.threshold is None:
        return (
            f"No threshold up to 0.99 keeps wrong removals under {advice.target:.0%} on these votes "
            f"({advice.wrong} of {advice.acted} wrong at the strictest that acted). {current}"
        )
    return (
        f"A threshold of {advice.threshold:.2f} keeps wrong removals under {advice.target:.0%} "
        f"({advice.wrong} of {advice.acted}), from {advice.evidence} votes on non-meme verdicts. {current}"
    )


def _statuses(found: Mapping[str, int], order: tuple[str, ...]) -> str:
    total = sum(found.values())
    if not total:
        return "none"
    parts = ", ".join(f"{found[s]} {s}" for s in order if found.get(s))
    return f"{total} ({parts})"


def _days(args: tuple[str, ...]) -> int:
    if not args:
        return 7
    text = args[0].lower().removesuffix("d").removesuffix("days").removesuffix("day")
    if len(args) > 1 or not text.isdigit() or not REPORT_DAYS[0] <= int(text) <= REPORT_DAYS[1]:
        raise UserError(f"Use /report or /report DAYS ({REPORT_DAYS[0]} to {REPORT_DAYS[1]}).")
    return int(text)
