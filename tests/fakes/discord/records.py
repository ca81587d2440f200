"""Plain records of what happened against the fake Discord, kept for tests to inspect."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .model import Channel, JsonDict, Upload, User

EPHEMERAL = 1 << 6
LOADING = 1 << 7


class ApiError(Exception):
    """An error answer of the REST API: `{"message": ..., "code": ...}` with an HTTP status."""

    def __init__(self, status: int, code: int, message: str, errors: JsonDict | None = None) -> None:
        super().__init__(f"{status} {message} (code {code})")
        self.status = status
        self.body: JsonDict = {"message": message, "code": code}
        if errors is not None:
            self.body["errors"] = errors


def missing_permissions() -> ApiError:
    return ApiError(403, 50013, "Missing Permissions")


def missing_access() -> ApiError:
    return ApiError(403, 50001, "Missing Access")


def unknown_message() -> ApiError:
    return ApiError(404, 10008, "Unknown Message")


def unknown_channel() -> ApiError:
    return ApiError(404, 10003, "Unknown Channel")


def invalid_form(message: str) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", {"_errors": [{"code": "INVALID", "message": message}]})


@dataclass(eq=False)
class StoredMessage:
    """A message in a channel: its Discord payload, the bytes of its files, and whether it was deleted."""

    payload: JsonDict
    channel: Channel
    author: User
    uploads: list[Upload] = field(default_factory=list)  # one per attachment, same order
    deleted: bool = False
    history: list[JsonDict] = field(default_factory=list)  # earlier versions, oldest first
    interaction_id: int | None = None  # set when it answers an interaction

    def __getitem__(self, key: str) -> Any:
        return self.payload[key]

    @property
    def id(self) -> int:
        return int(self.payload["id"])

    @property
    def channel_id(self) -> int:
        return self.channel.id

    @property
    def content(self) -> str:
        return str(self.payload.get("content", ""))

    @property
    def embeds(self) -> list[JsonDict]:
        return list(self.payload.get("embeds", []))

    @property
    def attachments(self) -> list[JsonDict]:
        return list(self.payload.get("attachments", []))

    @property
    def components(self) -> list[JsonDict]:
        return list(self.payload.get("components", []))

    @property
    def flags(self) -> int:
        return int(self.payload.get("flags", 0))

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def edited(self) -> bool:
        return bool(self.history)

    @property
    def reference_id(self) -> int | None:
        ref = self.payload.get("message_reference")
        return None if ref is None or ref.get("message_id") is None else int(ref["message_id"])

    @property
    def custom_ids(self) -> list[str]:
        """Custom ids of every interactive component (buttons, selects), in reading order."""
        return [c["custom_id"] for c in self.iter_components() if "custom_id" in c]

    def component(self, custom_id: str) -> JsonDict | None:
        return next((c for c in self.iter_components() if c.get("custom_id") == custom_id), None)

    def iter_components(self) -> Iterator[JsonDict]:
        stack = list(reversed(self.components))
        while stack:
            component = stack.pop()
            yield component
            stack.extend(reversed(component.get("components", [])))

    def file(self, filename: str | None = None) -> Upload:
        """The one file of this message, or the one called `filename`."""
        if filename is None:
            if len(self.uploads) != 1:
                raise LookupError(f"message {self.id} has {len(self.uploads)} files, name one")
            return self.uploads[0]
        for upload in self.uploads:
            if upload.filename == filename:
                return upload
        raise LookupError(f"message {self.id} has no file {filename!r}")


@dataclass(eq=False)
class InteractionReply:
    """One thing the bot did with an interaction token: callback, follow-up, edit or delete."""

    kind: str  # "callback" | "followup" | "edit" | "delete"
    type: int | None  # the callback type for kind == "callback" (4 message, 5 defer, 6, 7 update, 9 modal)
    data: JsonDict
    uploads: list[Upload] = field(default_factory=list)
    message: StoredMessage | None = None

    @property
    def content(self) -> str:
        return str(self.data.get("content") or "")

    @property
    def ephemeral(self) -> bool:
        if self.message is not None:
            return self.message.ephemeral
        return bool(int(self.data.get("flags") or 0) & EPHEMERAL)


@dataclass(eq=False)
class InteractionRecord:
    """An INTERACTION_CREATE the fake sent, and everything the bot answered to it."""

    id: int
    token: str
    type: int  # 2 application command, 3 component, 5 modal submit
    payload: JsonDict
    channel: Channel
    user: User
    created_at: float  # loop time, for the 3-second acknowledgement deadline
    replies: list[InteractionReply] = field(default_factory=list)
    acknowledged: bool = False
    original: StoredMessage | None = None  # the message @original refers to

    @property
    def callback(self) -> InteractionReply | None:
        return next((r for r in self.replies if r.kind == "callback"), None)


@dataclass(eq=False)
class Call:
    """One REST request the bot made, with the answer the fake gave."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    json: Any
    uploads: list[Upload]
    status: int = 0
    reason: str | None = None  # the X-Audit-Log-Reason header


@dataclass(eq=False)
class Fault:
    """An injected failure: the next `count` requests matching method and path get this answer."""

    method: str
    path_pattern: str
    status: int
    body: Any
    headers: dict[str, str]
    count: int

    def matches(self, method: str, path: str) -> bool:
        return (
            self.count > 0 and self.method in ("*", method) and fnmatch.fnmatchcase(path, self.path_pattern)
        )


@dataclass(eq=False)
class HostedFile:
    """Bytes served under a URL of the fake; attachment URLs die with their message."""

    upload: Upload
    message: StoredMessage | None = None

    @property
    def alive(self) -> bool:
        return self.message is None or not self.message.deleted
