"""Which label an image's votes decide, and the labelled images the repository reports."""

from __future__ import annotations

import pytest

from storage import Repository
from storage.labelling import Vote, decide_label
from tests.storage.conftest import Classify, jpeg, sha

MEME, NOT_MEME = Vote("meme", trusted=False), Vote("not_meme", trusted=False)
TRUSTED_MEME, TRUSTED_NOT_MEME = Vote("meme", trusted=True), Vote("not_meme", trusted=True)


@pytest.mark.parametrize(
    ("votes", "label"),
    [
        ([MEME], "meme"),
        ([NOT_MEME, MEME, NOT_MEME], "not_meme"),
        ([MEME, NOT_MEME], "not_meme"),  # tie: the most recent vote
        ([NOT_MEME, MEME], "meme"),
        ([MEME, MEME, MEME, TRUSTED_NOT_MEME], "not_meme"),  # a moderator outvotes everyone
        ([TRUSTED_NOT_MEME, MEME, MEME], "not_meme"),
        ([TRUSTED_MEME, TRUSTED_NOT_MEME, MEME], "not_meme"),  # trusted tie: the most recent trusted vote
        ([TRUSTED_NOT_MEME, TRUSTED_MEME, NOT_MEME, NOT_MEME], "meme"),
        ([TRUSTED_MEME, TRUSTED_MEME, TRUSTED_NOT_MEME], "meme"),
    ],
)
def test_decide_label(votes: list[Vote], label: str) -> None:
    assert decide_label(votes) == label


def test_no_votes_decide_nothing() -> None:
    with pytest.raises(ValueError, match="without votes"):
        decide_label([])


async def test_labelled_images_summarise_votes(repo: Repository, classify: Classify) -> None:
    seen_first = await classify(platform="telegram", image_sha256=sha(1), label="not_meme")
    seen_last = await classify(platform="discord", chat_id="7", image_sha256=sha(1), label="meme")
    await classify(image_sha256=sha(2))  # nobody voted: not a labelled image
    await repo.store_image(sha256=sha(1), data=jpeg((255, 0, 0)), width=24, height=16, retention_days=7)
    await repo.record_correction(classification_id=seen_first.id, user_id="a", label="meme", trusted=False)
    await repo.record_correction(classification_id=seen_last.id, user_id="b", label="not_meme", trusted=False)
    await repo.record_correction(classification_id=seen_last.id, user_id="c", label="not_meme", trusted=False)

    [image] = await repo.labelled_images()

    assert (image.sha256, image.label, image.model_label) == (sha(1), "not_meme", "meme")
    assert (image.meme_votes, image.not_meme_votes, image.trusted_votes) == (1, 2, 0)
    assert image.platforms == "discord;telegram"
    assert (image.first_seen, image.last_seen) == (seen_first.created_at, seen_last.created_at)
    assert image.data == jpeg((255, 0, 0))


async def test_trusted_vote_and_changed_minds(repo: Repository, classify: Classify) -> None:
    record = await classify(image_sha256=sha(1))
    for user in ("a", "b", "c"):
        await repo.record_correction(classification_id=record.id, user_id=user, label="meme", trusted=False)
    await repo.record_correction(classification_id=record.id, user_id="mod", label="not_meme", trusted=True)
    assert [i.label for i in await repo.labelled_images()] == ["not_meme"]

    await repo.record_correction(classification_id=record.id, user_id="mod", label="meme", trusted=False)
    [image] = await repo.labelled_images()
    assert (image.label, image.meme_votes, image.trusted_votes) == ("meme", 4, 0)


async def test_a_tie_goes_to_the_most_recent_vote(repo: Repository, classify: Classify) -> None:
    record = await classify(image_sha256=sha(1))
    await repo.record_correction(classification_id=record.id, user_id="a", label="meme", trusted=False)
    await repo.record_correction(classification_id=record.id, user_id="b", label="not_meme", trusted=False)
    assert [i.label for i in await repo.labelled_images()] == ["not_meme"]

    await repo.record_correction(
        classification_id=record.id, user_id="a", label="meme", trusted=False
    )  # again
    assert [i.label for i in await repo.labelled_images()] == ["meme"]


async def test_one_user_counts_once_per_image(repo: Repository, classify: Classify) -> None:
    first = await classify(image_sha256=sha(1))
    repost = await classify(image_sha256=sha(1))
    await repo.record_correction(classification_id=first.id, user_id="a", label="meme", trusted=False)
    await repo.record_correction(classification_id=repost.id, user_id="a", label="not_meme", trusted=False)
    await repo.record_correction(classification_id=repost.id, user_id="b", label="meme", trusted=False)

    [image] = await repo.labelled_images()

    assert (image.meme_votes, image.not_meme_votes) == (1, 1)
    assert image.label == "meme"  # b voted last


async def test_labelled_images_by_platform_or_chat(repo: Repository, classify: Classify) -> None:
    for n, (platform, chat_id) in enumerate(
        [("telegram", "1"), ("telegram", "2"), ("discord", "1")], start=1
    ):
        record = await classify(platform=platform, chat_id=chat_id, image_sha256=sha(n))
        await repo.record_correction(classification_id=record.id, user_id="u", label="meme", trusted=False)

    everything = await repo.labelled_images()
    telegram = await repo.labelled_images(platform="telegram")
    one_chat = await repo.labelled_images(platform="telegram", chat_id="2")

    assert [i.sha256 for i in everything] == [sha(1), sha(2), sha(3)]
    assert [i.sha256 for i in telegram] == [sha(1), sha(2)]
    assert [i.sha256 for i in one_chat] == [sha(2)]
    assert everything[0].data is None  # never stored
    with pytest.raises(ValueError, match="platform"):
        await repo.labelled_images(chat_id="2")
