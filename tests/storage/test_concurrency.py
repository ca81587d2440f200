"""Many concurrent writers on one SQLite file, from one repository or two, all succeed."""

from __future__ import annotations

import asyncio

from storage import Repository
from tests.storage.conftest import jpeg, sha


async def test_fifty_concurrent_classifications(repo: Repository) -> None:
    records = await asyncio.gather(
        *(
            repo.record_classification(
                platform="discord",
                chat_id="1",
                message_id=str(n),
                user_id="u",
                image_sha256=sha(n),
                label="meme",
                confidence=0.9,
                model_version="v1",
            )
            for n in range(50)
        )
    )

    assert len({record.id for record in records}) == 50
    assert (await repo.chat_stats(platform="discord", chat_id="1")).images == 50


async def test_two_repositories_upserting_the_same_rows(db_url: str) -> None:
    first, second = await Repository.open(db_url), await Repository.open(db_url)
    try:
        record = await first.record_classification(
            platform="telegram",
            chat_id="1",
            message_id="1",
            user_id="u",
            image_sha256=sha(1),
            label="meme",
            confidence=0.9,
            model_version="v1",
        )
        work = []
        for n, repo in enumerate([first, second] * 20):
            work += [
                repo.store_image(sha256=sha(1), data=jpeg((n, n, n)), width=24, height=16, retention_days=5),
                repo.record_correction(
                    classification_id=record.id, user_id=f"user{n % 7}", label="meme", trusted=False
                ),
                repo.update_chat_settings(platform="telegram", chat_id="1", threshold=0.5 + n / 100),
                repo.chat_stats(platform="telegram", chat_id="1"),
            ]
        await asyncio.gather(*work)

        stats = await second.chat_stats(platform="telegram", chat_id="1")
        [image] = await first.labelled_images()
    finally:
        await first.aclose()
        await second.aclose()
    assert stats.feedback_votes == 7
    assert image.meme_votes == 7 and image.data is not None
