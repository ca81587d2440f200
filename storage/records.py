"""Frozen dataclasses the repository returns, the values it accepts, and its errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

LABELS = ("meme", "not_meme")
ACTIONS = ("delete", "warn", "dryrun")
ACTIONS_TAKEN = ("deleted", "warned", "dryrun", "delete_failed")
# What a moderator can decide about each kind of review item (its status is "open" until then).
REVIEW_OUTCOMES = {"review": ("kept", "removed"), "appeal": ("upheld", "rejected")}


class UnknownClassification(LookupError):
    """No classification has the given id (it never existed, or it was deleted)."""


def check_label(label: str) -> str:
    if label not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, not {label!r}")
    return label


def check_action(action: str) -> str:
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    return action


def check_action_taken(action_taken: str | None) -> str | None:
    if action_taken is not None and action_taken not in ACTIONS_TAKEN:
        raise ValueError(f"action_taken must be one of {', '.join(ACTIONS_TAKEN)}, not {action_taken!r}")
    return action_taken


def check_threshold(threshold: float) -> float:
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1 (exclusive), not {threshold!r}")
    return float(threshold)


def check_review_threshold(threshold: float) -> float:
    """Like a threshold, but 1.0 is allowed: a band that starts at 1 is empty (review off)."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"review_threshold must be above 0 and at most 1, not {threshold!r}")
    return float(threshold)


def check_review_kind(kind: str) -> str:
    if kind not in REVIEW_OUTCOMES:
        raise ValueError(f"kind must be one of {', '.join(REVIEW_OUTCOMES)}, not {kind!r}")
    return kind


@dataclass(frozen=True)
class ChatDefaults:
    """Settings of a chat nobody has configured yet."""

    memes_only: bool = False
    action: str = "delete"
    threshold: float = 0.8
    auto_reply: bool = True
    review_threshold: float = 0.5

    def __post_init__(self) -> None:
        check_action(self.action)
        check_threshold(self.threshold)
        check_review_threshold(self.review_threshold)


@dataclass(frozen=True)
class ChatSettings:
    platform: str
    chat_id: str
    memes_only: bool
    action: str
    threshold: float
    auto_reply: bool
    review_threshold: float = 0.5
    review_chat_id: str | None = None

    @property
    def reviews(self) -> bool:
        """Whether the review band is open: non-memes from review_threshold up to threshold."""
        return self.review_threshold < self.threshold


@dataclass(frozen=True)
class ClassificationRecord:
    id: int
    platform: str
    chat_id: str
    message_id: str | None
    user_id: str | None
    image_sha256: str
    label: str
    confidence: float
    model_version: str
    action_taken: str | None
    reply_message_id: str | None  # the newest message giving its verdict (each one leads back here)
    created_at: datetime


@dataclass(frozen=True)
class CorrectionRecord:
    id: int
    classification_id: int
    user_id: str
    label: str
    trusted: bool
    created: bool  # False when the user's earlier vote was updated


@dataclass(frozen=True)
class ChatStats:
    """Counts for /stats; `corrections` are the votes that disagreed with the model."""

    images: int
    memes: int
    not_memes: int
    corrections: int
    feedback_votes: int
    agreeing_votes: int

    @property
    def meme_share(self) -> float | None:
        return self.memes / self.images if self.images else None

    @property
    def agreement_rate(self) -> float | None:
        return self.agreeing_votes / self.feedback_votes if self.feedback_votes else None


@dataclass(frozen=True)
class LabelledImage:
    """An image people voted on, with the label their votes decide."""

    sha256: str
    label: str
    meme_votes: int
    not_meme_votes: int
    trusted_votes: int
    platforms: str  # sorted, ';'-joined platforms the votes came from
    first_seen: datetime
    last_seen: datetime
    model_label: str  # label of the latest classification of this image
    data: bytes | None = field(repr=False)  # None when the image was not stored


@dataclass(frozen=True)
class TrustedLabel:
    """A moderator's label for an image in one chat (and for its near-duplicates, when it has pixels)."""

    id: int
    platform: str
    chat_id: str
    image_sha256: str
    label: str
    phash: int | None
    pixels: bytes | None = field(repr=False)
    classification_id: int | None
    set_by: str
    set_by_name: str
    created_at: datetime


@dataclass(frozen=True)
class ReviewItem:
    """A verdict waiting for (or decided by) a moderator: kind "review" (the band) or "appeal"."""

    id: int
    platform: str
    chat_id: str
    classification_id: int
    kind: str
    status: str  # "open", then one of REVIEW_OUTCOMES[kind]
    poster_id: str
    poster_name: str
    review_chat_id: str | None
    review_message_id: str | None
    created_at: datetime
    decided_by: str | None
    decided_by_name: str | None
    decided_at: datetime | None

    @property
    def open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    platform: str
    chat_id: str
    created_at: datetime
    actor_id: str
    actor_name: str
    action: str
    subject: str | None
    old_value: str | None
    new_value: str | None


@dataclass(frozen=True)
class ThresholdAdvice:
    """The lowest threshold at which removals marked as memes stay under `target` of all removals."""

    threshold: float | None  # None: no threshold up to 0.99 gets there
    wrong: int  # at that threshold (else the highest that acted on any): removals later marked as memes
    acted: int  # ... and removals in all
    evidence: int  # non-meme verdicts in the period with a vote (member's or moderator's)
    target: float = 0.01


@dataclass(frozen=True)
class ModerationReport:
    """What memes-only did in a chat over a period: the evidence for going from dryrun to delete."""

    since: datetime
    images: int
    acted: Mapping[str, int]  # action_taken -> count: deleted, dryrun, warned, delete_failed
    marked_meme_by_members: int  # of the acted-on images, those a member later called a meme
    marked_meme_by_moderators: int  # ... and those a moderator did (appeals upheld included)
    reviews: Mapping[str, int]  # status -> count for review-band items queued in the period
    appeals: Mapping[str, int]  # status -> count for appeals made in the period
    advice: ThresholdAdvice
