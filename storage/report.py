"""The moderation report: what memes-only did in a chat over a period, and which threshold would have
kept its wrong removals under 1%."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.labelling import Vote, decide_label
from storage.models import ClassificationRow, CorrectionRow, ReviewItemRow
from storage.records import ModerationReport, ThresholdAdvice

ACTED = ("deleted", "dryrun", "warned", "delete_failed")
THRESHOLDS = tuple(round(0.5 + i / 100, 2) for i in range(50))  # 0.50 .. 0.99


async def moderation_report(
    session: AsyncSession, *, platform: str, chat_id: str, since: datetime
) -> ModerationReport:
    in_period = (
        ClassificationRow.platform == platform,
        ClassificationRow.chat_id == chat_id,
        ClassificationRow.created_at >= since,
    )
    images = await session.scalar(select(func.count(ClassificationRow.id)).where(*in_period))
    verdicts = (
        await session.execute(
            select(ClassificationRow.id, ClassificationRow.confidence, ClassificationRow.action_taken).where(
                *in_period, ClassificationRow.label == "not_meme"
            )
        )
    ).all()
    votes: dict[int, list[Vote]] = {}
    rows = await session.execute(
        select(CorrectionRow.classification_id, CorrectionRow.label, CorrectionRow.trusted)
        .join(ClassificationRow, ClassificationRow.id == CorrectionRow.classification_id)
        .where(*in_period)
        .order_by(CorrectionRow.updated_at, CorrectionRow.id)
    )
    for classification_id, label, trusted in rows:
        votes.setdefault(classification_id, []).append(Vote(label, trusted))
    acted = [(cid, action) for cid, _, action in verdicts if action in ACTED]
    return ModerationReport(
        since=since,
        images=int(images or 0),
        acted=dict(Counter(action for _, action in acted)),
        marked_meme_by_members=sum(_voted_meme(votes.get(cid, []), trusted=False) for cid, _ in acted),
        marked_meme_by_moderators=sum(_voted_meme(votes.get(cid, []), trusted=True) for cid, _ in acted),
        reviews=await _statuses(session, platform, chat_id, since, "review"),
        appeals=await _statuses(session, platform, chat_id, since, "appeal"),
        advice=advise_threshold([(conf, votes.get(cid)) for cid, conf, _ in verdicts]),
    )


def advise_threshold(
    verdicts: list[tuple[float, list[Vote] | None]], target: float = 0.01
) -> ThresholdAdvice:
    """The lowest threshold at which non-meme verdicts that people's votes decide were memes stay
    under `target` of the verdicts acted on; verdicts nobody voted on count as right."""
    wrong_at = [(conf, votes is not None and decide_label(votes) == "meme") for conf, votes in verdicts]
    evidence = sum(votes is not None for _, votes in verdicts)
    counts = (0, 0)
    for threshold in THRESHOLDS:
        acted = [wrong for conf, wrong in wrong_at if conf >= threshold]
        if not acted:
            break
        counts = (sum(acted), len(acted))
        if counts[0] / counts[1] < target:
            return ThresholdAdvice(threshold, *counts, evidence=evidence, target=target)
    return ThresholdAdvice(None, *counts, evidence=evidence, target=target)


def _voted_meme(votes: list[Vote], *, trusted: bool) -> bool:
    return any(vote.label == "meme" and vote.trusted == trusted for vote in votes)


async def _statuses(
    session: AsyncSession, platform: str, chat_id: str, since: datetime, kind: str
) -> dict[str, int]:
    rows = await session.execute(
        select(ReviewItemRow.status, func.count(ReviewItemRow.id))
        .where(
            ReviewItemRow.platform == platform,
            ReviewItemRow.chat_id == chat_id,
            ReviewItemRow.kind == kind,
            ReviewItemRow.created_at >= since,
        )
        .group_by(ReviewItemRow.status)
    )
    return {status: int(count) for status, count in rows}
