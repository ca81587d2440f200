"""Settings as frozen dataclasses, filled once by `load_config()` from TOML and the environment."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bot.errors import ConfigError
from classifier.service import ClassifierSettings

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "classifier" / "models" / "default"
TOKEN_ENV = {"telegram": "MEMEBOT_TELEGRAM_TOKEN", "discord": "MEMEBOT_DISCORD_TOKEN"}


class Secret:
    """A token: never shown by repr/str, so it cannot leak into logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _limits(lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    return {"min": lo, "max": hi}


@dataclass(frozen=True)
class TelegramConfig:
    token: Secret | None = None
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str = ""
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = field(default=8443, metadata=_limits(1, 65535))
    webhook_secret: Secret | None = None
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    album_window_s: float = field(default=1.0, metadata=_limits(0.0, 10.0))
    moderator_cache_s: float = field(default=60.0, metadata=_limits(0.0, 3600.0))
    startup_retry_s: float = field(default=60.0, metadata=_limits(0.0, 3600.0))  # network down at start


@dataclass(frozen=True)
class DiscordConfig:
    token: Secret | None = None
    guild_ids: tuple[int, ...] = ()
    shard_count: int = field(default=0, metadata=_limits(0, 10000))
    max_file_mb: float = field(default=25.0, metadata=_limits(0.1, 500.0))
    startup_retry_s: float = field(default=60.0, metadata=_limits(0.0, 3600.0))  # network down at start


@dataclass(frozen=True)
class StorageConfig:
    url: str = "sqlite+aiosqlite:///data/memebot.db"
    retention_days: int = field(default=30, metadata=_limits(0, 36500))
    image_max_side: int = field(default=512, metadata=_limits(64, 4096))


@dataclass(frozen=True)
class ModerationConfig:
    memes_only: bool = False
    action: Literal["delete", "warn", "dryrun"] = "delete"
    threshold: float = field(default=0.8, metadata=_limits(0.5, 0.99))
    auto_reply: bool = True
    exempt_moderators: bool = True
    review_threshold: float = field(default=0.5, metadata=_limits(0.5, 1.0))  # 1: no review band
    notice_seconds: float = field(default=10.0, metadata=_limits(0.0, 600.0))
    appeal_seconds: float = field(default=300.0, metadata=_limits(0.0, 86400.0))
    corrections_per_minute: int = field(default=10, metadata=_limits(1, 1000))


@dataclass(frozen=True)
class ConsoleConfig:
    chat_id: str = "local"
    user_name: str = "you"
    export_dir: Path = Path("data/exports")


@dataclass(frozen=True)
class Config:
    telegram: TelegramConfig = TelegramConfig()
    discord: DiscordConfig = DiscordConfig()
    classifier: ClassifierSettings = field(
        default_factory=lambda: ClassifierSettings(checkpoint=DEFAULT_CHECKPOINT)
    )
    storage: StorageConfig = StorageConfig()
    moderation: ModerationConfig = ModerationConfig()
    console: ConsoleConfig = ConsoleConfig()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    def secrets(self) -> list[str]:
        """Every secret value, for the log filter that masks them."""
        found = [self.telegram.token, self.telegram.webhook_secret, self.discord.token]
        return [s.reveal() for s in found if s is not None and s.reveal()]


_SECTIONS: dict[str, type] = {
    "telegram": TelegramConfig,
    "discord": DiscordConfig,
    "classifier": ClassifierSettings,
    "storage": StorageConfig,
    "moderation": ModerationConfig,
    "console": ConsoleConfig,
}


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read TOML (when given) and the environment; a wrong value raises ConfigError naming its key."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    sections: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "log_level":
            continue
        if key not in _SECTIONS:
            raise ConfigError(
                f"unknown section [{key}] (known sections: {', '.join(_SECTIONS)}; "
                "the one key outside a section: log_level)"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"[{key}] must be a table")
        sections[key] = value
    for platform, var in TOKEN_ENV.items():
        if env.get(var):
            sections.setdefault(platform, {})["token"] = env[var]
    built = {name: _build(cls, sections.get(name, {}), name) for name, cls in _SECTIONS.items()}
    if "checkpoint" not in sections.get("classifier", {}):
        built["classifier"] = dataclasses.replace(built["classifier"], checkpoint=DEFAULT_CHECKPOINT)
    log_level = _coerce(
        Literal["DEBUG", "INFO", "WARNING", "ERROR"], raw.get("log_level", "INFO"), "log_level"
    )
    config = Config(log_level=log_level, **built)
    _check_cross_field(config)
    return config


def _build(cls: type, table: Mapping[str, Any], section: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in known:
            raise ConfigError(f"unknown key [{section}] {key} (known: {', '.join(known)})")
        name = f"[{section}] {key}"
        coerced = _coerce(hints[key], value, name)
        limits = known[key].metadata
        if isinstance(coerced, int | float) and not isinstance(coerced, bool) and limits:
            _check_range(coerced, limits.get("min"), limits.get("max"), name)
        values[key] = coerced
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[{section}]: {exc}") from None


def _coerce(hint: Any, value: Any, name: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value in ("", None) and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, name)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{name} must be one of {', '.join(map(repr, args))}, not {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{name} must be a list, not {value!r}")
        return tuple(_coerce(args[0], item, name) for item in value)
    if hint is Secret:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string")
        return Secret(value.strip())
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{name} must be a non-empty path string")
        return Path(value).expanduser()
    return _coerce_scalar(hint, value, name)


def _coerce_scalar(hint: Any, value: Any, name: str) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, not {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be a whole number, not {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{name} must be a number, not {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, not {value!r}")
        return value
    raise ConfigError(f"{name}: unsupported setting type {hint!r}")  # a bug in the dataclasses


def _check_range(value: float, lo: float | None, hi: float | None, name: str) -> None:
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"{name} must be between {lo} and {hi}, not {value}")


def _check_cross_field(config: Config) -> None:
    c = config.classifier
    positive = {
        "max_batch_size": c.max_batch_size,
        "max_queue": c.max_queue,
        "preprocess_workers": c.preprocess_workers,
        "request_timeout_s": c.request_timeout_s,
        "max_image_bytes": c.max_image_bytes,
        "max_pixels": c.max_pixels,
        "max_frames": c.max_frames,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"[classifier] {key} must be positive, not {value}")
    if c.max_wait_ms < 0 or c.cache_size < 0:
        raise ConfigError("[classifier] max_wait_ms and cache_size must not be negative")
    layout = {"inference_workers": c.inference_workers, "inference_threads": c.inference_threads}
    for key, value in layout.items():
        if not 0 <= value <= 1024:
            raise ConfigError(f"[classifier] {key} must be between 0 (automatic) and 1024, not {value}")
    if c.device != "auto" and not (c.device == "cpu" or c.device.startswith("cuda")):
        raise ConfigError(f"[classifier] device must be 'auto', 'cpu' or 'cuda[:N]', not {c.device!r}")
    if c.precision not in ("auto", "fp32", "fp16", "bf16"):
        raise ConfigError(f"[classifier] precision must be auto, fp32, fp16 or bf16, not {c.precision!r}")
    tg = config.telegram
    secret = tg.webhook_secret.reveal() if tg.webhook_secret is not None else ""
    if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
        raise ConfigError(
            "[telegram] webhook_secret may hold only letters, digits, _ and - (1 to 256 of them): "
            "Telegram refuses any other secret"
        )
    if tg.mode == "webhook" and not tg.webhook_url.startswith("https://"):
        raise ConfigError("[telegram] webhook_url must be an https:// URL when mode = 'webhook'")
    if config.storage.url.split("+", 1)[0].split(":", 1)[0] not in ("sqlite", "postgresql"):
        raise ConfigError(f"[storage] url must be a sqlite or postgresql URL, not {config.storage.url!r}")
