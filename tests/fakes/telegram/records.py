"""Plain records of what the bot did against the fake Bot API, kept for tests to inspect."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

JsonDict = dict[str, Any]


class ApiError(Exception):
    """An error answer of the Bot API: `{"ok": false, "error_code": ..., "description": ...}`."""

    def __init__(self, error_code: int, description: str, parameters: JsonDict | None = None) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def body(self) -> JsonDict:
        body: JsonDict = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass(frozen=True)
class Upload:
    """A file the bot uploaded in a multipart request, exactly as it arrived."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Call:
    """One Bot API request: the method and its decoded parameters (uploads by field name)."""

    method: str
    params: JsonDict
    uploads: tuple[str, ...] = ()


@dataclass
class SentMessage:
    """A message the bot sent; later edits and deletion update it in place."""

    kind: Literal["text", "photo", "document"]
    chat_id: int
    message_id: int
    text: str | None = None
    caption: str | None = None
    parse_mode: str | None = None
    reply_markup: JsonDict | None = None
    reply_to: int | None = None
    upload: Upload | None = None
    file_id: str | None = None
    deleted: bool = False
    edits: int = 0
    params: JsonDict = field(default_factory=dict)

    @property
    def buttons(self) -> list[tuple[str, str | None]]:
        """(text, callback_data) of every inline button, row after row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(button["text"], button.get("callback_data")) for row in rows for button in row]


@dataclass
class Fault:
    """What the next `times` calls of a method get instead of a normal answer."""

    kind: Literal["error", "drop", "stall"]
    times: int = 1
    error: ApiError | None = None
    seconds: float = 0.0
