"""Frozen dataclasses the repository returns, the values it accepts, and its errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

LABELS = ("meme", "not_meme")
ACTIONS = ("delete", "warn", "dryrun")
ACTIONS_TAKEN = ("deleted", "warned", "dryrun", "delete_failed")


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


@dataclass(frozen=True)
class ChatDefaults:
    """Settings of a chat nobody has configured yet."""

    memes_only: bool = False
    action: str = "delete"
    threshold: float = 0.8
    auto_reply: bool = True

    def __post_init__(self) -> None:
        check_action(self.action)
        check_threshold(self.threshold)


@dataclass(frozen=True)
class ChatSettings:
    platform: str
    chat_id: str
    memes_only: bool
    action: str
    threshold: float
    auto_reply: bool


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
