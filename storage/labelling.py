"""Labels decided by people's votes: the majority rule and the queries that feed it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.util import AliasedClass

from storage.models import ClassificationRow, CorrectionRow, ImageRow
from storage.records import LabelledImage


@dataclass(frozen=True)
class Vote:
    label: str
    trusted: bool


def decide_label(votes: Sequence[Vote]) -> str:
    """The label `votes` (oldest first) decide.

    Moderators' (trusted) votes, when there are any, outvote everyone else; among the votes that
    count, the majority wins and a tie goes to the most recent vote.
    """
    if not votes:
        raise ValueError("cannot decide a label without votes")
    deciding = [vote for vote in votes if vote.trusted] or list(votes)
    memes = sum(vote.label == "meme" for vote in deciding)
    not_memes = len(deciding) - memes
    if memes == not_memes:
        return deciding[-1].label
    return "meme" if memes > not_memes else "not_meme"


@dataclass
class _Tally:
    # Keyed by user: a user who voted on several posts of the same image counts once, with their
    # latest vote; dict order is vote recency because a newer vote is re-inserted at the end.
    votes: dict[str, Vote] = field(default_factory=dict)
    platforms: set[str] = field(default_factory=set)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    model_label: str = ""

    def add_vote(self, user_id: str, vote: Vote, platform: str) -> None:
        self.votes.pop(user_id, None)
        self.votes[user_id] = vote
        self.platforms.add(platform)

    def add_sighting(self, label: str, seen: datetime) -> None:
        # Sightings arrive oldest first, so the last one carries the latest model label.
        self.first_seen = self.first_seen or seen
        self.last_seen = seen
        self.model_label = label

    def summary(self, sha256: str) -> LabelledImage:
        votes = list(self.votes.values())
        assert self.first_seen is not None and self.last_seen is not None, "voted images were seen"
        return LabelledImage(
            sha256=sha256,
            label=decide_label(votes),
            meme_votes=sum(vote.label == "meme" for vote in votes),
            not_meme_votes=sum(vote.label == "not_meme" for vote in votes),
            trusted_votes=sum(vote.trusted for vote in votes),
            platforms=";".join(sorted(self.platforms)),
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            model_label=self.model_label,
            data=None,
        )


def chat_scope(
    platform: str | None,
    chat_id: str | None,
    table: type[ClassificationRow] | AliasedClass[ClassificationRow] = ClassificationRow,
) -> list[ColumnElement[bool]]:
    """Conditions limiting classifications (of `table`) to a platform or one chat."""
    if chat_id is not None and platform is None:
        raise ValueError("chat_id needs a platform: chat ids of different platforms may collide")
    conditions: list[ColumnElement[bool]] = []
    if platform is not None:
        conditions.append(table.platform == platform)
    if chat_id is not None:
        conditions.append(table.chat_id == chat_id)
    return conditions


async def summarise_votes(
    session: AsyncSession, *, platform: str | None, chat_id: str | None
) -> list[LabelledImage]:
    """One summary (without image data) per image with votes in scope, ordered by sha256."""
    tallies: dict[str, _Tally] = {}
    votes = await session.execute(
        select(
            ClassificationRow.image_sha256,
            ClassificationRow.platform,
            CorrectionRow.user_id,
            CorrectionRow.label,
            CorrectionRow.trusted,
        )
        .join(CorrectionRow, CorrectionRow.classification_id == ClassificationRow.id)
        .where(*chat_scope(platform, chat_id))
        .order_by(CorrectionRow.updated_at, CorrectionRow.id)
    )
    for sha256, source, user_id, label, trusted in votes:
        tallies.setdefault(sha256, _Tally()).add_vote(user_id, Vote(label, trusted), source)
    await _add_sightings(session, tallies, platform=platform, chat_id=chat_id)
    return [tallies[sha256].summary(sha256) for sha256 in sorted(tallies)]


async def _add_sightings(
    session: AsyncSession, tallies: dict[str, _Tally], *, platform: str | None, chat_id: str | None
) -> None:
    # An alias, so the subquery does not correlate with the outer classifications.
    voted = aliased(ClassificationRow)
    voted_images = (
        select(voted.image_sha256)
        .join(CorrectionRow, CorrectionRow.classification_id == voted.id)
        .where(*chat_scope(platform, chat_id, voted))
    )
    sightings = await session.execute(
        select(ClassificationRow.image_sha256, ClassificationRow.label, ClassificationRow.created_at)
        .where(*chat_scope(platform, chat_id), ClassificationRow.image_sha256.in_(voted_images))
        .order_by(ClassificationRow.created_at, ClassificationRow.id)
    )
    for sha256, label, created_at in sightings:
        tallies[sha256].add_sighting(label, created_at)


async def image_data(session: AsyncSession, sha256s: Sequence[str]) -> dict[str, bytes]:
    """Stored bytes of the given images; the caller keeps `sha256s` short (one IN list)."""
    rows = await session.execute(select(ImageRow.sha256, ImageRow.data).where(ImageRow.sha256.in_(sha256s)))
    return {sha256: data for sha256, data in rows}
