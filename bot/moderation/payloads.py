"""Button payloads of moderation: Appeal on a notice, and a moderator's decision on a review item."""

from __future__ import annotations

APPEAL_PREFIX = "ap"
DECISION_PREFIX = "rv"
# One letter per outcome in the payload (Telegram's callback_data is at most 64 bytes).
OUTCOME_LETTERS = {"kept": "k", "removed": "r", "upheld": "u", "rejected": "x"}
_LETTER_OUTCOMES = {letter: outcome for outcome, letter in OUTCOME_LETTERS.items()}
_MAX_ID = 2**63  # record ids are 64-bit database integers


def appeal_payload(classification_id: int) -> str:
    return f"{APPEAL_PREFIX}:{classification_id}"


def decision_payload(item_id: int, outcome: str) -> str:
    return f"{DECISION_PREFIX}:{item_id}:{OUTCOME_LETTERS[outcome]}"


def is_appeal_payload(payload: str) -> bool:
    return parse_appeal(payload) is not None


def parse_appeal(payload: str) -> int | None:
    parts = payload.split(":")
    if len(parts) != 2 or parts[0] != APPEAL_PREFIX:
        return None
    return _record_id(parts[1])


def parse_decision(payload: str) -> tuple[int, str] | None:
    parts = payload.split(":")
    if len(parts) != 3 or parts[0] != DECISION_PREFIX or parts[2] not in _LETTER_OUTCOMES:
        return None
    item_id = _record_id(parts[1])
    return None if item_id is None else (item_id, _LETTER_OUTCOMES[parts[2]])


def _record_id(text: str) -> int | None:
    return int(text) if text.isdigit() and int(text) < _MAX_ID else None
