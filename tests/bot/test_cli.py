"""The command line on real image files: classify, explain, memeify, export, random-checkpoint, errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from bot.cli import main
from tests.modelfactory import meme_jpeg, not_meme_jpeg

FACE_PHOTO = Path(__file__).resolve().parents[1] / "imaging" / "data" / "astronaut.jpg"


def config_file(tmp_path: Path, checkpoint: Path | None) -> Path:
    lines = [f"[storage]\nurl = 'sqlite+aiosqlite:///{tmp_path / 'cli.db'}'"]
    if checkpoint is not None:
        lines.append(f"[classifier]\ncheckpoint = '{checkpoint}'\nwarmup = false")
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines))
    return path


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    files = {
        "meme": (tmp_path / "meme.jpg", meme_jpeg()),
        "photo": (tmp_path / "photo.jpg", not_meme_jpeg()),
        "broken": (tmp_path / "broken.png", b"\x89PNG\r\n\x1a\n truncated"),
    }
    for path, data in files.values():
        path.write_bytes(data)
    return {name: path for name, (path, _) in files.items()}


def test_classify_prints_label_and_confidence(
    tmp_path: Path, bright_checkpoint: Path, images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config_file(tmp_path, bright_checkpoint)
    assert main(["--config", str(cfg), "classify", str(images["meme"]), str(images["photo"])]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{images['meme']}\tmeme\t")
    assert out[1].startswith(f"{images['photo']}\tnot_meme\t")


def test_classify_reports_bad_files_and_still_runs_the_rest(
    tmp_path: Path, bright_checkpoint: Path, images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config_file(tmp_path, bright_checkpoint)
    missing = tmp_path / "missing.jpg"
    args = [
        "--config",
        str(cfg),
        "classify",
        "--json",
        str(images["broken"]),
        str(missing),
        str(images["meme"]),
    ]
    assert main(args) == 1
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert "error" in rows[0] and "error" in rows[1]
    assert rows[2]["label"] == "meme" and rows[2]["model_version"] == "brightness-test"
    assert "2 of 3 files could not be classified" in captured.err


def test_missing_model_stops_with_a_clear_message(
    tmp_path: Path, images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config_file(tmp_path, tmp_path / "no-such-model")
    assert main(["--config", str(cfg), "classify", str(images["meme"])]) == 2
    assert "no-such-model" in capsys.readouterr().err


def test_bad_config_names_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[moderation]\nthreshold = 7\n")
    assert main(["--config", str(cfg), "run"]) == 2
    assert "[moderation] threshold" in capsys.readouterr().err


def test_random_checkpoint_then_classify(
    tmp_path: Path, images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "untrained"
    assert main(["random-checkpoint", "--out", str(out), "--input-size", "64"]) == 0
    assert "UNTRAINED" in capsys.readouterr().out
    cfg = config_file(tmp_path, out)
    assert main(["--config", str(cfg), "classify", "--json", str(images["photo"])]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["label"] in ("meme", "not_meme") and row["model_version"] == "random-init"


def test_export_refuses_a_missing_database_an_unknown_platform_and_an_empty_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config_file(tmp_path, None)
    out = tmp_path / "export.zip"
    assert main(["--config", str(cfg), "export", "--out", str(out)]) == 1  # run from the wrong folder
    err = capsys.readouterr().err
    assert f"no database at {tmp_path / 'cli.db'}" in err and "[storage] url" in err
    assert not (tmp_path / "cli.db").exists() and not out.exists()  # nothing created on the way

    with pytest.raises(SystemExit) as refused:
        main(["--config", str(cfg), "export", "--out", str(out), "--platform", "slack"])
    assert refused.value.code == 2 and "invalid choice: 'slack'" in capsys.readouterr().err

    sqlite3.connect(tmp_path / "cli.db").close()  # a database with nothing in it yet
    assert main(["--config", str(cfg), "export", "--out", str(out)]) == 1
    assert "nothing to export" in capsys.readouterr().err and not out.exists()


def test_config_faults_found_in_outside_testing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.replies import parse_feedback_payload

    assert parse_feedback_payload("fb:99999999999999999999999:r") is None  # not one of mine
    assert parse_feedback_payload("fb:12:r") == (12, True)
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[telegram]\nwebhook_secret = 'has a space'\n")
    assert main(["--config", str(cfg), "export", "--out", str(tmp_path / "x.zip")]) == 2
    assert "[telegram] webhook_secret may hold only letters" in capsys.readouterr().err
    cfg.write_text("[loglevel]\nx = 1\n")
    assert main(["--config", str(cfg), "export", "--out", str(tmp_path / "x.zip")]) == 2
    assert "the one key outside a section: log_level" in capsys.readouterr().err


def test_random_checkpoint_is_readable_by_others(tmp_path: Path) -> None:
    assert main(["random-checkpoint", "--out", str(tmp_path / "ckpt")]) == 0
    for path in (tmp_path / "ckpt").iterdir():
        assert path.stat().st_mode & 0o777 == 0o644, path


def test_explain_writes_a_heatmap_picture(
    tmp_path: Path, bright_checkpoint: Path, images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "explained.png"
    args = ["explain", str(images["meme"]), "--out", str(out), "--checkpoint", str(bright_checkpoint)]
    assert main(args) == 0
    assert "Grad-CAM for meme (" in capsys.readouterr().out
    with Image.open(out) as picture:
        assert picture.format == "PNG" and picture.height > picture.width  # the legend band below


def test_explain_refuses_a_broken_file(
    tmp_path: Path, bright_checkpoint: Path, images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "explain",
        str(images["broken"]),
        "--out",
        str(tmp_path / "x.png"),
        "--checkpoint",
        str(bright_checkpoint),
    ]
    assert main(args) == 1
    assert "image" in capsys.readouterr().err and not (tmp_path / "x.png").exists()


def test_memeify_writes_a_meme_and_the_seed_fixes_the_caption(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a.jpg", tmp_path / "b.png"
    assert main(["memeify", str(FACE_PHOTO), "--out", str(first), "--seed", "4"]) == 0
    said_first = capsys.readouterr().out
    assert main(["memeify", str(FACE_PHOTO), "--out", str(second), "--seed", "4"]) == 0
    said_second = capsys.readouterr().out
    assert "Looks happy" in said_first and said_first.split("Caption:")[1] == said_second.split("Caption:")[1]
    with Image.open(first) as jpeg, Image.open(second) as png:
        assert (jpeg.format, png.format) == ("JPEG", "PNG") and jpeg.size == png.size


def test_memeify_without_a_face_or_file_says_why(
    tmp_path: Path, images: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["memeify", str(images["photo"]), "--out", str(tmp_path / "m.png")]) == 1
    assert "I couldn't find a face in that photo." in capsys.readouterr().err
    assert main(["memeify", str(tmp_path / "missing.jpg"), "--out", str(tmp_path / "m.png")]) == 1
    assert "No such file" in capsys.readouterr().err


def test_a_read_only_database_at_start_names_the_file_and_key(
    tmp_path: Path, bright_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "ro.db"
    sqlite3.connect(db).close()  # the file exists; SQLite opens it read-only below (root ignores chmod)
    cfg = tmp_path / "ro.toml"
    cfg.write_text(
        f"[storage]\nurl = 'sqlite+aiosqlite:///file:{db}?mode=ro&uri=true'\n"
        f"[classifier]\ncheckpoint = '{bright_checkpoint}'\nwarmup = false\n"
    )
    assert main(["--config", str(cfg), "run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "[storage] url" in err and str(db) in err and "readonly database" in err
