"""The console chat, the embedded default: typed lines in, the bot's answers out."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from bot.app import open_repository, run_bot
from bot.config import Config
from tests.modelfactory import meme_jpeg, not_meme_jpeg

ROOT = Path(__file__).resolve().parents[2]


async def chat(config: Config, *lines: str) -> str:
    out = io.StringIO()
    await run_bot(config, stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out)
    return out.getvalue()


async def test_typed_path_gets_a_verdict_and_buttons_work(config: Config, tmp_path: Path) -> None:
    meme = tmp_path / "my meme.jpg"
    meme.write_bytes(meme_jpeg())
    out = await chat(config, str(meme), "!2", "/stats")
    assert "posted my meme.jpg" in out
    assert "😂 Meme (" in out and "[!1 ✅ Right]  [!2 ❌ Wrong]" in out
    assert "(only you see this): Thanks! Noted: not a meme." in out
    assert "Images checked: 1" in out


async def test_memes_only_in_the_console(config: Config, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(not_meme_jpeg())
    out = await chat(config, "/memesonly on", str(photo))
    assert "Memes-only is on" in out
    assert "Removed a non-meme from you" in out
    assert "(message #3 was deleted)" in out


async def test_an_appeal_in_the_console_is_yours_and_a_moderator_restores_it(
    config: Config, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(not_meme_jpeg())
    out = await chat(config, "/memesonly on", str(photo), "!1", "/review", "!2", "/audit")
    assert "[!1 ⚖️ Appeal]" in out
    assert "(only you see this): Appeal sent" in out  # pressed as the member who posted it
    assert "Appeal by you" in out and "[!2 ♻️ Restore]  [!3 ✋ Keep removed]" in out
    assert "Posted by you, restored by a moderator." in out
    assert "appeal.uphold #1 posted by you: – → upheld" in out
    assert len(list((tmp_path / "exports").glob("*restored.jpg"))) == 1


async def test_a_label_set_in_the_console_keeps_the_repost(config: Config, tmp_path: Path) -> None:
    photo = tmp_path / "chart.jpg"
    photo.write_bytes(not_meme_jpeg())
    out = await chat(config, str(photo), "!2", "/memesonly on", str(photo), "/labels")
    assert "That's this chat's label for this image" in out  # the console user moderates
    assert "😂 Meme (a moderator's label)" in out
    assert "Removed a non-meme" not in out and "was deleted" not in out


async def test_classify_path_correct_and_export(config: Config, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(not_meme_jpeg())
    out = await chat(config, f"/classify {photo}", "/correct meme", "/export")
    assert "Not a meme" in out and "Noted: meme." in out
    exported = list((tmp_path / "exports").glob("*.zip"))
    assert len(exported) == 1
    with zipfile.ZipFile(exported[0]) as zf:
        assert any(name.startswith("meme/") for name in zf.namelist())


async def test_bad_input_is_explained(config: Config, tmp_path: Path) -> None:
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    out = await chat(config, "/nope", str(tmp_path / "missing.png"), str(text_file), "!9")
    assert "I don't know /nope" in out
    assert "no such file" in out
    assert "⚠️" in out  # the text file is not an image
    assert "no such button" in out


async def test_state_lives_in_the_database_across_runs(config: Config) -> None:
    await chat(config, "/memesonly on")
    assert "Memes-only is on" in await chat(config, "/memesonly status")


def test_python_bot_py_runs_the_console_chat(tmp_path: Path, bright_checkpoint: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"[storage]\nurl = 'sqlite+aiosqlite:///{tmp_path / 'c.db'}'\n"
        f"[classifier]\ncheckpoint = '{bright_checkpoint}'\n"
    )
    meme = tmp_path / "meme.jpg"
    meme.write_bytes(meme_jpeg())
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMEBOT_")}
    result = subprocess.run(
        [sys.executable, "bot.py", "--config", str(cfg)],
        input=f"{meme}\n/quit\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Meme (" in result.stdout


async def test_a_correction_after_a_restart_lands_on_the_new_image(config: Config, tmp_path: Path) -> None:
    first, second, third = (tmp_path / f"{name}.jpg" for name in ("first", "second", "third"))
    first.write_bytes(meme_jpeg(1))
    second.write_bytes(meme_jpeg(2))
    third.write_bytes(not_meme_jpeg(3))
    await chat(config, str(first), "/autoreply off")  # run 1: the image is #1, my verdict on it #2
    # Run 2 numbers its messages from 1 again: the third image is #2, like run 1's verdict.
    out = await chat(config, str(second), str(third), "/correct meme")
    assert "you #2: posted third.jpg" in out and "Thanks! Noted: meme." in out
    repo = await open_repository(config)
    try:
        stats = await repo.chat_stats(platform="console", chat_id=config.console.chat_id)
    finally:
        await repo.aclose()
    # On the third image (a non-meme verdict) the correction disagrees; on run 1's meme it would not.
    assert stats.corrections == 1


async def test_commands_take_a_path_like_classify_does(config: Config, tmp_path: Path) -> None:
    meme, photo = tmp_path / "meme.jpg", tmp_path / "photo.jpg"
    meme.write_bytes(meme_jpeg())
    photo.write_bytes(not_meme_jpeg())
    out = await chat(
        config, str(meme), f"/explain {photo}", f"/correct meme {photo}", f"/classify {tmp_path}"
    )
    assert "Not a meme" in out  # only photo.jpg, the one /explain was given, is one
    assert "Say which it is" not in out and "Thanks! Noted: meme." in out
    assert f"{tmp_path} is a folder" in out and "I don't know" not in out
    out = await chat(config, str(tmp_path))  # a folder typed as a post
    assert f"{tmp_path} is a folder" in out


async def test_outputs_never_overwrite_each_other_across_runs(config: Config, tmp_path: Path) -> None:
    meme = tmp_path / "meme.jpg"
    meme.write_bytes(meme_jpeg())
    await chat(config, f"/explain {meme}")
    await chat(config, f"/explain {meme}")
    pictures = sorted(config.console.export_dir.glob("*explain*"))
    assert len(pictures) == 2 and len({p.read_bytes() for p in pictures}) >= 1
