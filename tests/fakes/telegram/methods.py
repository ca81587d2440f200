"""The Bot API methods the fake answers (all but getUpdates, which lives with the HTTP side)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from .media import DOWNLOAD_LIMIT
from .records import ApiError, JsonDict, SentMessage, Upload
from .state import TelegramState, now

Method = Callable[[TelegramState, JsonDict], Any]

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


# -- bot, webhook, commands -------------------------------------------------------------------


def get_me(state: TelegramState, params: JsonDict) -> JsonDict:
    return state.bot_user


def set_webhook(state: TelegramState, params: JsonDict) -> bool:
    state.webhook = params if params.get("url") else None
    return True


def delete_webhook(state: TelegramState, params: JsonDict) -> bool:
    state.webhook = None
    if params.get("drop_pending_updates"):
        state.updates.clear()
    return True


def get_webhook_info(state: TelegramState, params: JsonDict) -> JsonDict:
    webhook = state.webhook or {}
    info = {"url": webhook.get("url", ""), "has_custom_certificate": False}
    info["pending_update_count"] = len(state.updates)
    if "allowed_updates" in webhook:
        info["allowed_updates"] = webhook["allowed_updates"]
    return info


def commands_key(scope: JsonDict | None, language_code: str | None) -> tuple[str, str]:
    """Where setMyCommands keeps a command list: per scope and language."""
    return (repr(sorted((scope or {"type": "default"}).items())), language_code or "")


def _commands_key(params: JsonDict) -> tuple[str, str]:
    return commands_key(params.get("scope"), params.get("language_code"))


def set_my_commands(state: TelegramState, params: JsonDict) -> bool:
    state.commands[_commands_key(params)] = list(params["commands"])
    return True


def get_my_commands(state: TelegramState, params: JsonDict) -> list[JsonDict]:
    return state.commands.get(_commands_key(params), [])


def delete_my_commands(state: TelegramState, params: JsonDict) -> bool:
    state.commands.pop(_commands_key(params), None)
    return True


# -- chats -----------------------------------------------------------------------------------


def get_chat(state: TelegramState, params: JsonDict) -> JsonDict:
    gifts = dict.fromkeys(
        ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription", "gifts_from_channels"),
        False,
    )
    chat = state.chat(params["chat_id"])
    return {**chat, "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}


def get_chat_member(state: TelegramState, params: JsonDict) -> JsonDict:
    return state.member(state.chat(params["chat_id"])["id"], int(params["user_id"]))


def get_chat_administrators(state: TelegramState, params: JsonDict) -> list[JsonDict]:
    chat_id = state.chat(params["chat_id"])["id"]
    known = {user for chat, user in state.members if chat == chat_id}
    known |= state.posters[chat_id] | {state.bot_user["id"]}
    members = (state.member(chat_id, user_id) for user_id in sorted(known))
    return [m for m in members if m["status"] in ("creator", "administrator")]


# -- sending ---------------------------------------------------------------------------------


def send_message(state: TelegramState, params: JsonDict) -> JsonDict:
    text = params.get("text") or ""
    if not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if len(text) > 4096:
        raise ApiError(400, "Bad Request: message is too long")
    return _post_as_bot(state, params, "text", {"text": text})


def send_photo(state: TelegramState, params: JsonDict) -> JsonDict:
    data, upload, _ = _file_param(state, params, "photo")
    sizes = state.files.photo_sizes(data)
    return _post_as_bot(state, params, "photo", {"photo": sizes}, upload, sizes[-1]["file_id"])


def send_document(state: TelegramState, params: JsonDict) -> JsonDict:
    data, upload, file_name = _file_param(state, params, "document")
    mime_type = upload.content_type if upload else "application/octet-stream"
    document = state.files.document(data, file_name, mime_type)
    return _post_as_bot(state, params, "document", {"document": document}, upload, document["file_id"])


def send_chat_action(state: TelegramState, params: JsonDict) -> bool:
    state.require_bot_in(state.chat(params["chat_id"]))
    return True


def _post_as_bot(
    state: TelegramState,
    params: JsonDict,
    kind: Literal["text", "photo", "document"],
    content: JsonDict,
    upload: Upload | None = None,
    file_id: str | None = None,
) -> JsonDict:
    chat = state.chat(params["chat_id"])
    state.require_bot_in(chat)
    if caption := params.get("caption"):
        if len(caption) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        content["caption"] = caption
    if reply_to := _reply_target(state, chat["id"], params):
        content["reply_to_message"] = {k: v for k, v in reply_to.items() if k != "reply_to_message"}
    if markup := _inline_keyboard(params.get("reply_markup")):
        content["reply_markup"] = markup
    message = state.new_message(chat, state.bot_user, content)
    sent = SentMessage(
        kind=kind,
        chat_id=chat["id"],
        message_id=message["message_id"],
        text=content.get("text"),
        caption=content.get("caption"),
        parse_mode=params.get("parse_mode"),
        reply_markup=markup,
        reply_to=reply_to["message_id"] if reply_to else None,
        upload=upload,
        file_id=file_id,
        params=params,
    )
    state.sent.append(sent)
    return message


def _reply_target(state: TelegramState, chat_id: int, params: JsonDict) -> JsonDict | None:
    """The message replied to, from reply_parameters or the older reply_to_message_id."""
    wanted = params.get("reply_parameters")
    if wanted is None and "reply_to_message_id" in params:
        wanted = {
            "message_id": params["reply_to_message_id"],
            "allow_sending_without_reply": params.get("allow_sending_without_reply", False),
        }
    if wanted is None:
        return None
    target = state.messages[chat_id].get(int(wanted["message_id"]))
    if target is None and not wanted.get("allow_sending_without_reply"):
        raise ApiError(400, "Bad Request: message to be replied not found")
    return target


def _inline_keyboard(markup: JsonDict | None) -> JsonDict | None:
    """The markup a Message carries back: inline keyboards only, checked like Telegram does."""
    if not markup or "inline_keyboard" not in markup:
        return None
    for button in (b for row in markup["inline_keyboard"] for b in row):
        if len(button.get("callback_data", "").encode()) > 64:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        if set(button) == {"text"}:
            raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
    return markup


def _file_param(state: TelegramState, params: JsonDict, field: str) -> tuple[bytes, Upload | None, str]:
    """The bytes of a file sent as a multipart upload or as a known file_id."""
    value = params.get(field)
    if isinstance(value, Upload):
        return value.data, value, value.filename
    stored = state.files.by_id(value) if isinstance(value, str) else None
    if stored is None:
        if value is None:
            raise ApiError(400, f"Bad Request: there is no {field} in the request")
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
    return stored.data, None, stored.file_path.rpartition("/")[2]


# -- editing and deleting --------------------------------------------------------------------


def edit_message_text(state: TelegramState, params: JsonDict) -> JsonDict:
    message, sent = _editable(state, params)
    if "text" not in message:
        raise ApiError(400, "Bad Request: there is no text in the message to edit")
    # Like Telegram: an edit without reply_markup removes the inline keyboard.
    markup = _inline_keyboard(params.get("reply_markup"))
    if params["text"] == message["text"] and markup == message.get("reply_markup"):
        raise ApiError(400, NOT_MODIFIED)
    message["text"] = sent.text = params["text"]
    sent.parse_mode = params.get("parse_mode")
    return _apply_edit(message, sent, markup)


def edit_message_reply_markup(state: TelegramState, params: JsonDict) -> JsonDict:
    message, sent = _editable(state, params)
    markup = _inline_keyboard(params.get("reply_markup"))
    if markup == message.get("reply_markup"):
        raise ApiError(400, NOT_MODIFIED)
    return _apply_edit(message, sent, markup)


def _editable(state: TelegramState, params: JsonDict) -> tuple[JsonDict, SentMessage]:
    if "inline_message_id" in params:
        raise ApiError(400, "Bad Request: the fake does not support inline messages")
    chat = state.chat(params["chat_id"])
    message = state.message(chat["id"], int(params["message_id"]), missing="message to edit not found")
    sent = state.sent_message(chat["id"], message["message_id"])
    if sent is None:
        raise ApiError(400, "Bad Request: message can't be edited")
    return message, sent


def _apply_edit(message: JsonDict, sent: SentMessage, markup: JsonDict | None) -> JsonDict:
    message.pop("reply_markup", None)
    if markup:
        message["reply_markup"] = markup
    message["edit_date"] = now()
    sent.reply_markup = markup
    sent.edits += 1
    return message


def delete_message(state: TelegramState, params: JsonDict) -> bool:
    chat = state.chat(params["chat_id"])
    message_id = int(params["message_id"])
    message = state.message(chat["id"], message_id, missing="message to delete not found")
    if not state.bot_can_delete(chat, message):
        raise ApiError(400, "Bad Request: message can't be deleted")
    del state.messages[chat["id"]][message_id]
    state.deleted[chat["id"]].append(message_id)
    if sent := state.sent_message(chat["id"], message_id):
        sent.deleted = True
    return True


# -- files and callbacks ---------------------------------------------------------------------


def get_file(state: TelegramState, params: JsonDict) -> JsonDict:
    stored = state.files.by_id(str(params.get("file_id")))
    if stored is None:
        raise ApiError(400, "Bad Request: invalid file_id")
    if stored.file_size > DOWNLOAD_LIMIT:
        raise ApiError(400, "Bad Request: file is too big")
    return {**stored.ids(), "file_path": stored.file_path}


def answer_callback_query(state: TelegramState, params: JsonDict) -> bool:
    query_id = params["callback_query_id"]
    if query_id not in state.open_callbacks:
        raise ApiError(
            400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
        )
    state.open_callbacks.discard(query_id)
    state.callback_answers.append(params)
    return True


METHODS: dict[str, Method] = {
    "getMe": get_me,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "setMyCommands": set_my_commands,
    "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands,
    "getChat": get_chat,
    "getChatMember": get_chat_member,
    "getChatAdministrators": get_chat_administrators,
    "sendMessage": send_message,
    "sendPhoto": send_photo,
    "sendDocument": send_document,
    "sendChatAction": send_chat_action,
    "editMessageText": edit_message_text,
    "editMessageReplyMarkup": edit_message_reply_markup,
    "deleteMessage": delete_message,
    "getFile": get_file,
    "answerCallbackQuery": answer_callback_query,
}
