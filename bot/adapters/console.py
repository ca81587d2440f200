"""The embedded default: a local chat on stdin/stdout where you are a moderator."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import shlex
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TextIO

from bot.adapters.base import EventHandler
from bot.errors import ChatUnavailable, MessageGone
from bot.events import (
    Button,
    ButtonPressed,
    CommandIssued,
    ImagePosted,
    ImageRef,
    RepliedMessage,
    Sender,
    SentMessage,
)
from bot.moderation.payloads import is_appeal_payload

log = logging.getLogger(__name__)
MODERATOR_ID = "console-moderator"
# Commands that take the path of an image instead of needing the last posted one.
PATH_COMMANDS = frozenset({"classify", "explain", "memeify", "correct"})

BANNER = """\
memebot console: a local chat where you are a moderator. Type the path of an image to post it
(several paths at once make an album), /help for commands, !N to press button N, /quit to leave.
Your commands and buttons count as a moderator's; the images you post count as a member's, so
memes-only rules apply to them and their Appeal buttons are yours to press."""


class ConsoleChat:
    """ChatContext for the console: prints what the bot says; files go to the export folder."""

    platform = "console"

    def __init__(self, *, chat_id: str, out: TextIO, export_dir: Path) -> None:
        self.chat_id = chat_id
        self._out = out
        self._export_dir = export_dir
        # Ids never collide across runs (a correction must never land on an earlier run's image):
        # this run's start in hex seconds and 16 random bits (two runs may start in one second, even
        # in one process), then a counter.
        self.run_id = f"{int(time.time()):x}{secrets.token_hex(2)}"
        self._ids = itertools.count(1)
        self._live: set[str] = set()
        self.buttons: dict[int, tuple[str, str]] = {}  # number typed after "!" -> (payload, message id)
        self._button_numbers = itertools.count(1)
        self._image_numbers = itertools.count(1)

    def new_message_id(self) -> str:
        message_id = f"{self.run_id}-{next(self._ids)}"
        self._live.add(message_id)
        return message_id

    def say(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    async def send(
        self, text: str, *, reply_to: str | None = None, buttons: Sequence[Button] = (), private: bool = False
    ) -> SentMessage:
        message_id = self.new_message_id()
        head = f"memebot #{shown(message_id)}" + (f" ↩ #{shown(reply_to)}" if reply_to else "")
        self.say(f"{head}: {text}")
        if buttons:
            labels = []
            for button in buttons:
                number = next(self._button_numbers)
                self.buttons[number] = (button.payload, message_id)
                labels.append(f"[!{number} {button.label}]")
            self.say("    " + "  ".join(labels))
        return SentMessage(message_id)

    async def send_file(
        self, *, filename: str, data: bytes, caption: str = "", reply_to: str | None = None
    ) -> SentMessage:
        path = self._output_path(filename)
        path.write_bytes(data)
        return await self.send(f"📎 {path} ({len(data)} bytes) {caption}".rstrip(), reply_to=reply_to)

    async def send_image(
        self,
        *,
        filename: str,
        data: bytes,
        caption: str = "",
        reply_to: str | None = None,
        buttons: Sequence[Button] = (),
    ) -> SentMessage:
        # A terminal shows no pictures: save it where the next one (in this run or another) won't go.
        path = self._output_path(filename)
        path.write_bytes(data)
        return await self.send(f"🖼️ {path} {caption}".rstrip(), reply_to=reply_to, buttons=buttons)

    def _output_path(self, filename: str) -> Path:
        """A new file in the export folder: the run's id and a number before the name."""
        self._export_dir.mkdir(parents=True, exist_ok=True)
        return self._export_dir / f"{self.run_id}-{next(self._image_numbers)}-{Path(filename).name}"

    async def delete(self, message_id: str) -> None:
        if message_id not in self._live:
            raise MessageGone(message_id)
        self._live.discard(message_id)
        self.say(f"(message #{shown(message_id)} was deleted)")

    async def is_moderator(self, user_id: str) -> bool:
        return user_id == MODERATOR_ID

    async def tell_user(self, user_id: str, text: str) -> bool:
        self.say(f"memebot (privately): {text}")
        return True

    async def open_chat(self, chat_id: str) -> ConsoleChat:
        if chat_id != self.chat_id:
            raise ChatUnavailable(f"the console has one chat ({self.chat_id}), not {chat_id}")
        return self


class ConsoleAdapter:
    """Reads lines on a daemon thread (so Ctrl-C never waits on stdin) and handles them in order."""

    name = "console"

    def __init__(
        self,
        *,
        handler: EventHandler,
        stdin: TextIO,
        stdout: TextIO,
        chat_id: str = "local",
        user_name: str = "you",
        export_dir: Path = Path("data/exports"),
    ) -> None:
        self._handler = handler
        self._stdin = stdin
        self.chat = ConsoleChat(chat_id=chat_id, out=stdout, export_dir=export_dir)
        # Two identities: commands and buttons come from a moderator, posts from a member, so
        # memes-only enforcement (which spares moderators) can be tried out here.
        self._moderator = Sender(user_id=MODERATOR_ID, display_name=user_name)
        self._member = Sender(user_id="console-member", display_name=user_name)
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._last_image: RepliedMessage | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        reader = threading.Thread(target=self._read_lines, args=(loop,), name="console-stdin", daemon=True)
        reader.start()
        self.chat.say(BANNER)
        self._task = asyncio.create_task(self._run(), name="console-adapter")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def wait_closed(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    def _read_lines(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            for line in self._stdin:
                loop.call_soon_threadsafe(self._lines.put_nowait, line.rstrip("\r\n"))
        except (OSError, ValueError):  # stdin closed under us
            pass
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is already gone at exit
                loop.call_soon_threadsafe(self._lines.put_nowait, None)

    async def _run(self) -> None:
        while (line := await self._lines.get()) is not None:
            line = line.strip()
            if line in ("/quit", "/exit"):
                break
            if line:
                await self._dispatch(line)

    async def _dispatch(self, line: str) -> None:
        first = line.split()[0]
        if line.startswith("!"):
            await self._press(line[1:])
        elif (
            first.startswith("/") and "/" not in first[1:] and not await asyncio.to_thread(Path(first).exists)
        ):
            await self._command(line)  # "/tmp" or "/bin" is a path, however much it looks like one
        else:
            await self._post_images(line)

    async def _press(self, number: str) -> None:
        found = self.chat.buttons.get(int(number)) if number.isdigit() else None
        if found is None:
            self.chat.say("memebot: no such button. Buttons show as [!N label]; type !N to press one.")
            return
        payload, message_id = found

        async def answer(text: str) -> None:
            self.chat.say(f"memebot (only you see this): {text}")

        # You post as the member, so an Appeal button (which only the poster may press) is yours as
        # the member; every other button is pressed as the moderator.
        sender = self._member if is_appeal_payload(payload) else self._moderator
        await self._handler(ButtonPressed(self.chat, sender, payload, message_id, answer))

    async def _command(self, line: str) -> None:
        words = _split(line[1:])
        if not words:
            return
        name, args = words[0].lower(), tuple(words[1:])
        message_id = self.chat.new_message_id()
        reply_to = self._last_image
        # `/classify PATH`, `/explain PATH`, `/memeify PATH`, `/correct meme PATH`: the command is about
        # that file, as if it replied to it being posted; without a path, about the last image.
        paths = [a for a in args if _looks_like_path(a)] if name in PATH_COMMANDS else []
        if paths:
            refs = await asyncio.to_thread(self._image_refs, paths)
            if refs is None:
                return
            reply_to, args = RepliedMessage(message_id, refs), tuple(a for a in args if a not in paths)
            self._last_image = reply_to
        await self._handler(CommandIssued(self.chat, self._moderator, name, args, message_id, reply_to))

    async def _post_images(self, line: str) -> None:
        refs = await asyncio.to_thread(self._resolve_paths, line)
        if refs is None:
            return
        message_id = self.chat.new_message_id()
        names = ", ".join(r.name for r in refs)
        self.chat.say(f"{self._member.display_name} #{shown(message_id)}: posted {names}")
        self._last_image = RepliedMessage(message_id, refs)
        await self._handler(ImagePosted(self.chat, self._member, message_id, refs))

    def _resolve_paths(self, line: str) -> tuple[ImageRef, ...] | None:
        """The whole line as one path (spaces and all), else its words as several paths."""
        if Path(_unquote(line)).expanduser().is_file():
            return self._image_refs([line])
        return self._image_refs(_split(line))

    def _image_refs(self, words: Sequence[str]) -> tuple[ImageRef, ...] | None:
        refs = []
        for word in words:
            path = Path(_unquote(word)).expanduser()
            if path.is_dir():
                self.chat.say(f"memebot: {path} is a folder. Give the path of an image file in it.")
                return None
            if not path.is_file():
                self.chat.say(f"memebot: no such file: {path}. Type the path of an image, or /help.")
                return None
            refs.append(ImageRef(name=path.name, fetch=_file_reader(path), size=path.stat().st_size))
        return tuple(refs) or None


def shown(message_id: str) -> str:
    """A message id as the console shows it: this run's number, without the run id before it."""
    return message_id.rsplit("-", 1)[-1]


def _looks_like_path(word: str) -> bool:
    """A command argument that names a file or folder rather than a word such as `meme`."""
    text = _unquote(word)
    return "/" in text or "." in Path(text).name or Path(text).expanduser().exists()


def _file_reader(path: Path) -> Callable[[], Awaitable[bytes]]:
    async def fetch() -> bytes:
        return await asyncio.to_thread(path.read_bytes)

    return fetch


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unbalanced quote: fall back to plain words
        return text.split()


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text.replace("\\ ", " ")
