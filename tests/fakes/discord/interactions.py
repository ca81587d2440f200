"""Interactions: INTERACTION_CREATE payloads for tests, and the callback / webhook routes that answer them."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable, Mapping
from typing import Any

from .model import Channel, JsonDict, Role, Upload, User, as_upload, image_size, safe_filename
from .records import (
    EPHEMERAL,
    LOADING,
    ApiError,
    HostedFile,
    InteractionRecord,
    InteractionReply,
    StoredMessage,
    unknown_message,
)
from .rest import ApiRequest, Reply, Router
from .state import DiscordState

APPLICATION_COMMAND, MESSAGE_COMPONENT = 2, 3
CHAT_INPUT, USER_COMMAND, MESSAGE_COMMAND = 1, 2, 3
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 3, 4, 5, 6, 7, 8, 9, 10, 11
# Callback types; 4 and 5 make a new message, 6 and 7 act on the message holding the component.
MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE, AUTOCOMPLETE_RESULT, MODAL = 4, 5, 6, 7, 8, 9
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


def unknown_interaction() -> ApiError:
    return ApiError(404, 10062, "Unknown interaction")


class Interactions:
    """Makes interactions the way a Discord client would, and takes the bot's answers to them."""

    def __init__(self, state: DiscordState, *, deadline: float | None) -> None:
        self.state = state
        self.deadline = deadline  # seconds to acknowledge, like Discord's 3; None = no limit

    # -- what users do ---------------------------------------------------------------------------

    def slash_command(
        self, channel: Channel, user: User, name: str, options: Mapping[str, Any]
    ) -> InteractionRecord:
        """`name` may hold subcommands: "memesonly on". Option types come from the registered command."""
        top, *path = name.split()
        command = self._registered(top, CHAT_INPUT, channel)
        resolved: JsonDict = {}
        schema: list[JsonDict] = command.get("options") or []
        nested: list[tuple[str, int]] = []
        for part in path:
            sub = next(
                (o for o in schema if o["name"] == part and o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)),
                None,
            )
            if sub is None:
                raise LookupError(f"/{top} has no subcommand {part!r}")
            nested.append((part, sub["type"]))
            schema = sub.get("options") or []
        subcommands = [o["name"] for o in schema if o["type"] in (SUB_COMMAND, SUB_COMMAND_GROUP)]
        if subcommands:
            raise LookupError(f"/{name} needs a subcommand: one of {subcommands}")
        built = self._options(f"/{name}", schema, options, resolved, channel)
        for part, option_type in reversed(nested):
            built = [{"name": part, "type": option_type, "options": built}]
        data = self._command_data(command, built)
        if resolved:
            data["resolved"] = resolved
        return self._create(APPLICATION_COMMAND, data, channel, user)

    def context_menu(
        self, channel: Channel, user: User, name: str, target: StoredMessage | User
    ) -> InteractionRecord:
        """A message (or user) context-menu command, with the target in `resolved`."""
        command_type = MESSAGE_COMMAND if isinstance(target, StoredMessage) else USER_COMMAND
        command = self._registered(name, command_type, channel)
        data = self._command_data(command, None)
        data["target_id"] = str(target.id)
        if isinstance(target, StoredMessage):
            data["resolved"] = {"messages": {str(target.id): copy.deepcopy(target.payload)}}
        else:
            data["resolved"] = {}
            self._resolve_user(target, channel, data["resolved"])
        return self._create(APPLICATION_COMMAND, data, channel, user)

    def component(
        self, message: StoredMessage, user: User, custom_id: str, values: Iterable[str] | None
    ) -> InteractionRecord:
        """A button press (or select choice) on a message the bot sent; the component must be on it."""
        if message.deleted:
            raise LookupError(f"message {message.id} was deleted; nobody can press its buttons")
        component = message.component(custom_id)
        if component is None:
            raise LookupError(
                f"message {message.id} has no component {custom_id!r}; it has {message.custom_ids}"
            )
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        data: JsonDict = {"custom_id": custom_id, "component_type": component["type"]}
        if values is not None:
            data["values"] = list(values)
        return self._create(MESSAGE_COMPONENT, data, message.channel, user, message=message)

    def _registered(self, name: str, command_type: int, channel: Channel) -> JsonDict:
        command = self.state.find_command(name, command_type, channel.guild_id)
        if command is None:
            known = sorted({c["name"] for cs in self.state.commands.values() for c in cs})
            raise LookupError(
                f"command {name!r} (type {command_type}) is not registered; did the bot sync? {known}"
            )
        return command

    def _command_data(self, command: JsonDict, options: list[JsonDict] | None) -> JsonDict:
        data: JsonDict = {"id": command["id"], "name": command["name"], "type": command["type"]}
        if options is not None:
            data["options"] = options
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        return data

    def _options(
        self,
        where: str,
        schema: list[JsonDict],
        values: Mapping[str, Any],
        resolved: JsonDict,
        channel: Channel,
    ) -> list[JsonDict]:
        by_name = {o["name"]: o for o in schema}
        missing = [o["name"] for o in schema if o.get("required") and o["name"] not in values]
        if missing:
            raise ValueError(f"{where} needs options {missing}")
        built = []
        for name, value in values.items():
            option = by_name.get(name)
            if option is None:
                raise LookupError(f"{where} has no option {name!r}; it has {list(by_name)}")
            converted = self._option_value(option, value, resolved, channel)
            built.append({"name": name, "type": option["type"], "value": converted})
        return built

    def _option_value(self, option: JsonDict, value: Any, resolved: JsonDict, channel: Channel) -> Any:
        kind = option["type"]
        if kind == STRING:
            choices = [c["value"] for c in option.get("choices") or []]
            if choices and value not in choices:
                raise ValueError(f"option {option['name']!r} takes one of {choices}, not {value!r}")
            return str(value)
        if kind in (INTEGER, NUMBER, BOOLEAN):
            return {INTEGER: int, NUMBER: float, BOOLEAN: bool}[kind](value)
        if kind in (USER, MENTIONABLE) and isinstance(value, User):
            self._resolve_user(value, channel, resolved)
            return str(value.id)
        if kind in (ROLE, MENTIONABLE) and isinstance(value, Role):
            resolved.setdefault("roles", {})[str(value.id)] = value.payload()
            return str(value.id)
        if kind == CHANNEL and isinstance(value, Channel):
            entry = {
                **value.payload(),
                "permissions": str(self.state.permissions(value, self.state.bot_user)),
            }
            resolved.setdefault("channels", {})[str(value.id)] = entry
            return str(value.id)
        if kind == ATTACHMENT:
            attachment = self._ephemeral_attachment(as_upload(value))
            resolved.setdefault("attachments", {})[attachment["id"]] = attachment
            return attachment["id"]
        raise TypeError(f"cannot pass {value!r} as option {option['name']!r} of type {kind}")

    def _resolve_user(self, user: User, channel: Channel, resolved: JsonDict) -> None:
        resolved.setdefault("users", {})[str(user.id)] = user.payload()
        member = None if channel.guild is None else channel.guild.member(user)
        if member is not None:
            entry = {
                **member.payload(with_user=False),
                "permissions": str(self.state.permissions(channel, user)),
            }
            resolved.setdefault("members", {})[str(user.id)] = entry

    def _ephemeral_attachment(self, upload: Upload) -> JsonDict:
        """Slash-command uploads live under ephemeral-attachments, not tied to any message."""
        attachment_id = self.state.ids.next()
        upload = Upload(safe_filename(upload.filename), upload.data, upload.content_type)
        path = f"/ephemeral-attachments/{self.state.application_id}/{attachment_id}/{upload.filename}"
        self.state.hosted[path] = HostedFile(upload)
        attachment: JsonDict = {
            "id": str(attachment_id),
            "filename": upload.filename,
            "size": len(upload.data),
            "url": self.state.base_url + path,
            "proxy_url": self.state.base_url + path,
            "content_type": upload.content_type,
            "ephemeral": True,
        }
        size = image_size(upload)
        if size is not None:
            attachment["width"], attachment["height"] = size
        return attachment

    def _create(
        self, kind: int, data: JsonDict, channel: Channel, user: User, *, message: StoredMessage | None = None
    ) -> InteractionRecord:
        interaction_id = self.state.ids.next()
        token = self.state.new_token()
        payload: JsonDict = {
            "id": str(interaction_id),
            "application_id": str(self.state.application_id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "channel_id": str(channel.id),
            "channel": channel.payload(),
            "app_permissions": str(self.state.permissions(channel, self.state.bot_user)),
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        guild = channel.guild
        if guild is not None:
            member = guild.member(user)
            if member is None:
                raise LookupError(f"{user.name} is not a member of {guild.name}")
            payload["guild_id"] = str(guild.id)
            payload["guild"] = {"id": str(guild.id), "locale": "en-US", "features": []}
            payload["guild_locale"] = "en-US"
            payload["member"] = {
                **member.payload(),
                "permissions": str(self.state.permissions(channel, user)),
            }
            payload["authorizing_integration_owners"] = {"0": str(guild.id)}
            payload["context"] = 0
        else:
            payload["user"] = user.payload()
            payload["authorizing_integration_owners"] = {"0": "0"}
            payload["context"] = 1
        if message is not None:
            payload["message"] = copy.deepcopy(message.payload)
        loop_time = asyncio.get_running_loop().time()
        record = InteractionRecord(interaction_id, token, kind, payload, channel, user, loop_time)
        if message is not None:
            record.original = message  # what DEFERRED_UPDATE / UPDATE_MESSAGE act on
        self.state.interactions[interaction_id] = record
        self.state.emit("INTERACTION_CREATE", payload, 0)
        return record

    # -- what the bot answers --------------------------------------------------------------------

    def register(self, router: Router) -> None:
        add = router.add
        add("POST", "/interactions/{interaction_id}/{token}/callback", self.callback, auth=False)
        hook = "/webhooks/{app_id}/{token}"
        add("POST", hook, self.followup, auth=False)
        for target in ("@original", "{message_id}"):
            add("GET", f"{hook}/messages/{target}", self.get_message, auth=False)
            add("PATCH", f"{hook}/messages/{target}", self.edit_message, auth=False)
            add("DELETE", f"{hook}/messages/{target}", self.delete_message, auth=False)

    async def callback(self, request: ApiRequest) -> Reply:
        record = self.state.interactions.get(int(request.params["interaction_id"]))
        if record is None or record.token != request.params["token"]:
            raise unknown_interaction()
        if record.acknowledged:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if (
            self.deadline is not None
            and asyncio.get_running_loop().time() - record.created_at > self.deadline
        ):
            raise unknown_interaction()
        body = request.json or {}
        callback_type = int(body.get("type", 0))
        data = body.get("data") or {}
        message = self._answer(record, callback_type, data, request.uploads)
        record.acknowledged = True
        reply = InteractionReply("callback", callback_type, data, list(request.uploads.values()), message)
        record.replies.append(reply)
        if "with_response" not in request.query:
            return Reply(204)
        return Reply(200, self._callback_response(record, callback_type, message))

    def _answer(
        self, record: InteractionRecord, callback_type: int, data: JsonDict, uploads: Mapping[int, Upload]
    ) -> StoredMessage | None:
        on_component = record.type == MESSAGE_COMPONENT
        if callback_type == MESSAGE:
            record.original = self._new_message(record, data, uploads)
            return record.original
        if callback_type == DEFERRED_MESSAGE:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            record.original = self._new_message(record, {"flags": flags}, {}, allow_empty=True)
            return record.original
        if (
            callback_type in (DEFERRED_UPDATE, UPDATE_MESSAGE)
            and on_component
            and record.original is not None
        ):
            if callback_type == UPDATE_MESSAGE:
                self.state.edit_message(record.original, data, uploads)
            return record.original if callback_type == UPDATE_MESSAGE else None
        if callback_type == MODAL or (callback_type == AUTOCOMPLETE_RESULT and record.type == 4):
            return None
        raise ApiError(400, 40004, f"Interaction callback type {callback_type} is not valid here")

    def _new_message(
        self,
        record: InteractionRecord,
        data: JsonDict,
        uploads: Mapping[int, Upload],
        *,
        allow_empty: bool = False,
    ) -> StoredMessage:
        keys = ("content", "embeds", "components", "poll")
        if not allow_empty and not uploads and not any(data.get(k) for k in keys):
            raise ApiError(400, 50006, "Cannot send an empty message")
        app_id = str(self.state.application_id)
        metadata: JsonDict = {
            "id": str(record.id),
            "type": record.type,
            "user": record.user.payload(),
            "authorizing_integration_owners": record.payload.get("authorizing_integration_owners", {}),
        }
        if record.type == APPLICATION_COMMAND:
            metadata["name"] = record.payload["data"]["name"]
            message_type = 23 if record.payload["data"]["type"] != CHAT_INPUT else 20
        else:
            metadata["interacted_message_id"] = str(record.original.id) if record.original else None
            message_type = 0
        extra = {"webhook_id": app_id, "application_id": app_id, "interaction_metadata": metadata}
        stored = self.state.create_message(
            record.channel, self.state.bot_user, data, uploads, message_type=message_type, extra=extra
        )
        stored.interaction_id = record.id
        return stored

    def _callback_response(
        self, record: InteractionRecord, callback_type: int, message: StoredMessage | None
    ) -> JsonDict:
        interaction: JsonDict = {"id": str(record.id), "type": record.type}
        if message is not None:
            interaction["response_message_id"] = str(message.id)
            interaction["response_message_loading"] = callback_type == DEFERRED_MESSAGE
            interaction["response_message_ephemeral"] = message.ephemeral
        resource: JsonDict = {"type": callback_type}
        if message is not None:
            resource["message"] = message.payload
        return {"interaction": interaction, "resource": resource}

    def _record(self, request: ApiRequest) -> InteractionRecord:
        record = self.state.interaction_by_token(request.params["token"])
        if (
            record is None
            or request.params["app_id"] != str(self.state.application_id)
            or not record.acknowledged
        ):
            raise ApiError(404, 10015, "Unknown Webhook")
        return record

    def _target(self, record: InteractionRecord, request: ApiRequest) -> StoredMessage:
        message_id = request.params.get("message_id")
        if message_id is None:
            target = record.original
        else:
            target = self.state.messages.get(int(message_id)) if message_id.isdigit() else None
            if target is not None and target.interaction_id != record.id:
                target = None
        if target is None or target.deleted:
            raise unknown_message()
        return target

    async def followup(self, request: ApiRequest) -> Reply:
        record = self._record(request)
        data = request.json or {}
        message = self._new_message(record, data, request.uploads)
        record.replies.append(
            InteractionReply("followup", None, data, list(request.uploads.values()), message)
        )
        wait = request.query.get("wait", "false").lower() in ("true", "1")
        return Reply(200, message.payload) if wait else Reply(204)

    async def get_message(self, request: ApiRequest) -> JsonDict:
        return self._target(self._record(request), request).payload

    async def edit_message(self, request: ApiRequest) -> JsonDict:
        record = self._record(request)
        target = self._target(record, request)
        data = request.json or {}
        if target.flags & LOADING:
            target.payload["flags"] = target.flags & ~LOADING
        self.state.edit_message(target, data, request.uploads)
        record.replies.append(InteractionReply("edit", None, data, list(request.uploads.values()), target))
        return target.payload

    async def delete_message(self, request: ApiRequest) -> None:
        record = self._record(request)
        target = self._target(record, request)
        self.state.delete_message(target)
        record.replies.append(InteractionReply("delete", None, {}, [], target))
