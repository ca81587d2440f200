"""The hostile corpus (tests/hostile.py) through the service, the CLI and the console: every file gets
a verdict or a sentence fit for a user, never a traceback or an apology, and the ordinary photo sent
beside them still gets its verdict."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from bot.app import run_bot
from bot.cli import main
from bot.config import Config
from classifier import Classifier, InvalidImage, Verdict
from tests.hostile import CASES, write_corpus
from tests.modelfactory import meme_jpeg

# Those refused outright; the rest are valid, if unkind, pictures that must simply be judged.
REFUSED = {
    "gif-hidden-giant-frame": "too many pixels",
    "gif-40-frames-9000": "too many pixels",
    "gif-40-frames-6000": "frames have too many pixels",
    "png-bomb-header": "too many pixels",
    "truncated-jpeg": "damaged",
    "text-as-jpg": "not an image",
    "empty-file": "empty file",
    "huge-file": "too large",
}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_corpus(tmp_path_factory.mktemp("hostile"))


def test_the_corpus_is_small_on_disk_but_for_the_huge_file(corpus: dict[str, Path]) -> None:
    assert set(corpus) == set(CASES)
    assert all(p.stat().st_size < 3 * 1024 * 1024 for name, p in corpus.items() if name != "huge-file")


async def test_the_service_refuses_each_with_a_sentence_and_still_judges_a_photo(
    corpus: dict[str, Path], classifier: Classifier
) -> None:
    files = {name: path.read_bytes() for name, path in corpus.items()}
    results = await asyncio.gather(
        *(classifier.classify(data) for data in [*files.values(), meme_jpeg()]), return_exceptions=True
    )
    *hostile, photo = results
    assert isinstance(photo, Verdict) and photo.label == "meme"
    for name, result in zip(files, hostile, strict=True):
        if name in REFUSED:
            assert isinstance(result, InvalidImage) and REFUSED[name] in str(result), (name, result)
        else:
            assert isinstance(result, Verdict), (name, result)


def test_the_cli_says_why_for_each_file(
    corpus: dict[str, Path], config: Config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "cli.toml"
    cfg.write_text(f"[classifier]\ncheckpoint = '{config.classifier.checkpoint}'\nwarmup = false\n")
    assert main(["--config", str(cfg), "classify", *map(str, corpus.values())]) == 1
    out, err = capsys.readouterr()
    for name, path in corpus.items():
        line = next(line for line in out.splitlines() if line.startswith(f"{path}\t"))
        assert ("\terror\t" in line) == (name in REFUSED), line
    assert "Traceback" not in out + err and f"{len(REFUSED)} of {len(corpus)} files" in err


async def test_the_console_answers_each_post(corpus: dict[str, Path], config: Config) -> None:
    out = io.StringIO()
    lines = "\n".join(str(p) for p in corpus.values()) + "\n"
    await run_bot(config, stdin=io.StringIO(lines), stdout=out)
    text = out.getvalue()
    assert "Sorry, something went wrong" not in text and "Traceback" not in text
    for reason in set(REFUSED.values()):
        assert reason in text, reason
