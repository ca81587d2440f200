"""Config: every key of the example loads; wrong values name their key; tokens never show."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import DEFAULT_CHECKPOINT, Secret, load_config
from bot.errors import ConfigError
from bot.logs import RedactSecrets

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_loads_with_defaults() -> None:
    config = load_config(ROOT / "config.example.toml", env={})
    assert config.telegram.token is None and config.discord.token is None
    assert config.classifier.checkpoint == DEFAULT_CHECKPOINT
    assert config.moderation.threshold == 0.8 and config.storage.retention_days == 30


def test_no_file_means_defaults() -> None:
    config = load_config(None, env={})
    assert config.classifier.device == "auto" and config.moderation.action == "delete"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[classifier]\ndevcie = 'cpu'", "[classifier] devcie"),
        ("[moderation]\nthreshold = 1.5", "[moderation] threshold"),
        ("[moderation]\naction = 'explode'", "[moderation] action"),
        ("[moderation]\nauto_reply = 'yes'", "[moderation] auto_reply"),
        ("[storage]\nretention_days = 'forever'", "[storage] retention_days"),
        ("[discord]\nguild_ids = 5", "[discord] guild_ids"),
        ("[classifier]\nmax_batch_size = 0", "[classifier] max_batch_size"),
        ("[classifier]\ndevice = 'tpu'", "[classifier] device"),
        ("[classifier]\ninference_workers = -1", "[classifier] inference_workers"),
        ("[classifier]\ninference_threads = 2.5", "[classifier] inference_threads"),
        ("[telegram]\nmode = 'webhook'", "[telegram] webhook_url"),
        ("[storage]\nurl = 'mysql://x'", "[storage] url"),
        ("[nonsense]\na = 1", "[nonsense]"),
        ("log_level = 'LOUD'", "log_level"),
        ("this is = not toml", "not valid TOML"),
    ],
)
def test_wrong_values_name_their_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        load_config(write(tmp_path, text), env={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env={})


def test_tokens_come_from_the_environment_and_never_show() -> None:
    token = "123456:AAE-very-secret-token"
    config = load_config(
        None, env={"MEMEBOT_TELEGRAM_TOKEN": token, "MEMEBOT_DISCORD_TOKEN": "discord-secret-x"}
    )
    assert config.telegram.token == Secret(token)
    assert config.telegram.token is not None and config.telegram.token.reveal() == token
    assert token not in repr(config) and token not in str(config.telegram)
    assert set(config.secrets()) == {token, "discord-secret-x"}


def test_log_filter_masks_tokens_in_messages_and_tracebacks() -> None:
    token = "123456:AAE-very-secret-token"
    redact = RedactSecrets([token])
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET https://api/bot%s/getMe", (token,), None)
    redact.filter(record)
    assert token not in record.getMessage() and "********" in record.getMessage()
    encoded = token.replace(":", "%3A")
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "GET /file/bot%s/x.jpg", (encoded,), None)
    redact.filter(record)
    assert encoded not in record.getMessage()
    try:
        raise RuntimeError(f"failed url bot{token}/x")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    redact.filter(record)
    assert record.exc_text is not None and token not in record.exc_text
