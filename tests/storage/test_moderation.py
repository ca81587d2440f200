"""Moderation storage: trusted labels, review items decided once, the audit log and the report."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from storage import Repository
from storage.labelling import Vote
from storage.report import advise_threshold
from tests.storage.conftest import Classify, sha

WHERE = {"platform": "telegram", "chat_id": "-100"}


async def label(repo: Repository, n: int, value: str = "meme", **extra: object) -> object:
    fields: dict[str, object] = {
        **WHERE,
        "image_sha256": sha(n),
        "label": value,
        "phash": 0xF0F0_0000_0000_0000 + n,
        "pixels": bytes(4096),
        "classification_id": None,
        "user_id": "mod",
        "user_name": "Mod",
    }
    found, _ = await repo.moderation.set_label(**(fields | extra))  # type: ignore[arg-type]
    return found


async def test_a_label_is_set_replaced_and_found(repo: Repository) -> None:
    first = await label(repo, 1, "meme")
    again, old = await repo.moderation.set_label(
        **WHERE,
        image_sha256=sha(1),
        label="not_meme",
        phash=None,
        pixels=None,
        classification_id=None,
        user_id="mod2",
        user_name="Mod Two",
    )
    assert old == "meme" and again.id == first.id  # type: ignore[attr-defined]
    assert again.label == "not_meme" and again.set_by == "mod2"
    assert again.pixels is not None  # a label without pixels keeps the fingerprint it had
    assert await repo.moderation.find_label(**WHERE, image_sha256=sha(1)) == again
    assert await repo.moderation.find_label(platform="telegram", chat_id="-200", image_sha256=sha(1)) is None


async def test_candidates_are_the_labels_within_the_phash_distance(repo: Repository) -> None:
    await label(repo, 1)
    await label(repo, 2, phash=0x0F0F_0000_0000_0000)
    found = await repo.moderation.label_candidates(**WHERE, phash=0xF0F0_0000_0000_0003, max_distance=2)
    assert [x.image_sha256 for x in found] == [sha(1)]  # 1 differs in 1 bit, 2 in over 16
    assert (
        await repo.moderation.label_candidates(platform="discord", chat_id="-100", phash=0, max_distance=64)
        == []
    )


async def test_undoing_a_label_removes_the_moderators_votes_behind_it(
    repo: Repository, classify: Classify
) -> None:
    record = await classify(label="not_meme", image_sha256=sha(7))
    await repo.record_correction(classification_id=record.id, user_id="mod", label="meme", trusted=True)
    await repo.record_correction(classification_id=record.id, user_id="bob", label="meme", trusted=False)
    made = await label(repo, 7, classification_id=record.id)
    removed = await repo.moderation.remove_label(made.id)  # type: ignore[attr-defined]
    assert removed is not None and removed.label == "meme"
    assert await repo.moderation.remove_label(made.id) is None  # type: ignore[attr-defined]
    [image] = await repo.labelled_images()
    assert (image.meme_votes, image.trusted_votes) == (1, 0)  # bob's vote stays, the moderator's went


async def test_one_appeal_per_classification(repo: Repository, classify: Classify) -> None:
    record = await classify(label="not_meme", confidence=0.95)
    first, new = await repo.moderation.queue(
        classification_id=record.id, kind="appeal", poster_id="poster", poster_name="Poster"
    )
    again, new_again = await repo.moderation.queue(
        classification_id=record.id, kind="appeal", poster_id="poster", poster_name="Poster"
    )
    assert new and not new_again and again.id == first.id
    review, _ = await repo.moderation.queue(
        classification_id=record.id, kind="review", poster_id="poster", poster_name="Poster"
    )
    assert review.id != first.id  # a review and an appeal of one verdict are two items


async def test_two_moderators_deciding_at_once_give_one_outcome(db_url: str, classify: Classify) -> None:
    record = await classify(label="not_meme", confidence=0.7)
    first, second = await Repository.open(db_url), await Repository.open(db_url)
    try:
        item, _ = await first.moderation.queue(
            classification_id=record.id, kind="review", poster_id="poster", poster_name="Poster"
        )
        outcomes = await asyncio.gather(
            *(
                repo.moderation.decide(item_id=item.id, status=status, user_id=user, user_name=user)
                for repo, status, user in ((first, "kept", "a"), (second, "removed", "b")) * 5
            )
        )
    finally:
        await first.aclose()
        await second.aclose()
    decided = [o for o in outcomes if o is not None]
    assert len(decided) == 1 and decided[0].status in ("kept", "removed")


async def test_an_outcome_must_fit_the_kind(repo: Repository, classify: Classify) -> None:
    record = await classify(label="not_meme")
    item, _ = await repo.moderation.queue(
        classification_id=record.id, kind="appeal", poster_id="p", poster_name="P"
    )
    with pytest.raises(ValueError, match="upheld or rejected"):
        await repo.moderation.decide(item_id=item.id, status="kept", user_id="m", user_name="M")


async def test_open_items_oldest_first_with_the_total(repo: Repository, classify: Classify) -> None:
    items = []
    for _ in range(3):
        record = await classify(label="not_meme", confidence=0.6)
        item, _ = await repo.moderation.queue(
            classification_id=record.id, kind="review", poster_id="p", poster_name="P"
        )
        items.append(item)
    await repo.moderation.decide(item_id=items[0].id, status="kept", user_id="m", user_name="M")
    shown, total = await repo.moderation.open_items(platform="telegram", chat_ids=["-100"], limit=1)
    assert [x.id for x in shown] == [items[1].id] and total == 2


async def test_audit_entries_newest_first_and_cut_to_size(repo: Repository) -> None:
    await repo.moderation.audit(
        **WHERE, actor_id="m", actor_name="M", action="threshold", old_value=0.8, new_value=0.9
    )
    await repo.moderation.audit(
        **WHERE, actor_id="bot", actor_name="memebot", action="removal", subject="x" * 999
    )
    entries = await repo.moderation.audit_entries(**WHERE)
    assert [e.action for e in entries] == ["removal", "threshold"]
    assert (entries[1].old_value, entries[1].new_value) == ("0.8", "0.9")
    assert len(entries[0].subject or "") == 256


async def test_moving_a_chat_moves_its_moderation_records(repo: Repository, classify: Classify) -> None:
    record = await classify(label="not_meme")
    await label(repo, 1)
    await repo.moderation.queue(classification_id=record.id, kind="review", poster_id="p", poster_name="P")
    await repo.moderation.audit(**WHERE, actor_id="m", actor_name="M", action="memesonly")
    await repo.update_chat_settings(platform="telegram", chat_id="-5", review_chat_id="-100")
    await repo.migrate_chat(platform="telegram", old_chat_id="-100", new_chat_id="-1009")
    moved = {"platform": "telegram", "chat_id": "-1009"}
    assert await repo.moderation.find_label(**moved, image_sha256=sha(1)) is not None
    assert (await repo.moderation.open_items(platform="telegram", chat_ids=["-1009"]))[1] == 1
    assert len(await repo.moderation.audit_entries(**moved)) == 1
    assert (await repo.get_chat_settings(platform="telegram", chat_id="-5")).review_chat_id == "-1009"


async def test_the_report_counts_what_was_recorded(repo: Repository, classify: Classify) -> None:
    removed = await classify(label="not_meme", confidence=0.95, action_taken="deleted")
    dryrun = await classify(label="not_meme", confidence=0.85, action_taken="dryrun")
    await classify(label="not_meme", confidence=0.6)
    await classify(label="meme", confidence=0.9)
    await repo.record_correction(classification_id=dryrun.id, user_id="bob", label="meme", trusted=False)
    appeal, _ = await repo.moderation.queue(
        classification_id=removed.id, kind="appeal", poster_id="poster", poster_name="Poster"
    )
    await repo.moderation.decide(item_id=appeal.id, status="upheld", user_id="mod", user_name="Mod")
    await repo.record_correction(classification_id=removed.id, user_id="mod", label="meme", trusted=True)

    since = datetime.now(UTC) - timedelta(days=7)
    report = await repo.moderation_report(**WHERE, since=since)
    assert report.images == 4
    assert report.acted == {"deleted": 1, "dryrun": 1}
    assert (report.marked_meme_by_members, report.marked_meme_by_moderators) == (1, 1)
    assert report.appeals == {"upheld": 1} and report.reviews == {}
    # Both acted-on verdicts were memes: only a threshold above 0.95 acts on nothing wrong, and then
    # on nothing at all, so no threshold keeps wrong removals under 1%.
    assert report.advice.threshold is None and report.advice.evidence == 2
    assert (report.advice.wrong, report.advice.acted) == (1, 1)  # at 0.86, the last that acted
    later = await repo.moderation_report(**WHERE, since=datetime.now(UTC) + timedelta(seconds=1))
    assert later.images == 0 and later.acted == {}


def test_the_advised_threshold_is_the_lowest_under_one_percent() -> None:
    meme, not_meme = [Vote("meme", True)], [Vote("not_meme", False)]
    verdicts = [(0.55, meme), (0.62, meme), (0.7, not_meme)] + [(0.9, None)] * 50
    advice = advise_threshold(verdicts)
    assert advice.threshold == 0.63 and (advice.wrong, advice.acted, advice.evidence) == (0, 51, 3)
    worse = advise_threshold([(0.55, meme)] + [(0.8, None)] * 50)  # 1 of 51 wrong at 0.5: 2%
    assert worse.threshold == 0.56
    assert advise_threshold([]).threshold is None
