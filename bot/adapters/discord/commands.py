"""Slash commands and message context menus; each hands over to the adapter's CommandRunner."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Literal, Protocol

import discord
from discord import app_commands

from bot.adapters.discord.targets import Targets
from bot.events import RepliedMessage

log = logging.getLogger(__name__)

TargetFinder = Callable[[], Awaitable[RepliedMessage]]
# Answers only the person who asked: moderators' settings, the export, and help.
PRIVATE_COMMANDS = frozenset(
    {"memesonly", "mode", "threshold", "autoreply", "export", "help"}
    | {"review", "reviewchat", "review_threshold", "labels", "unlabel", "audit", "report"}
)

# Commands whose subject is a file given with the command.
UPLOAD_COMMANDS = {
    "classify": "Check whether an image is a meme",
    "explain": "Show which parts of an image drove my verdict (a heatmap)",
    "memeify": "Caption a photo of a face to match its expression",
}
# Apps-menu entries on a message: (command, its arguments, whether the message needs an image).
# Discord allows five message commands per application; these are five.
MESSAGE_MENUS = {
    "Classify image": ("classify", (), True),
    "Explain verdict": ("explain", (), True),
    "Memeify": ("memeify", (), True),
    "Mark as meme": ("correct", ("meme",), False),
    "Mark as not a meme": ("correct", ("not_meme",), False),
}


HELP = """\
I tell memes from non-memes. Post an image and I'll say which it is: attachments, image links, \
Tenor/Giphy GIFs, stickers and forwarded images all count. The ✅/❌ buttons under a verdict tell me \
whether I was right.

`/classify image:` – check a file without posting it
Apps → **Classify image** (right-click or long-press a message) – check that message's images
`/explain image:` or Apps → **Explain verdict** – a heatmap of what drove my verdict
`/memeify image:` or Apps → **Memeify** – turn a photo of a face into a meme
Apps → **Mark as meme** / **Mark as not a meme** – correct me about a message's image
`/correct label: [message:]` – the same by message link or ID; without one, my latest verdict here
`/stats` – what I've seen in this channel
`/report days:` – what memes-only did lately, and the threshold the corrections point to
Removed by mistake? Press **Appeal** under the notice (only the poster can).

Moderators (Manage Messages in the channel):
`/memesonly on|off|status` – remove non-memes from this channel
`/mode delete|warn|dryrun` – what happens to non-memes in a memes-only channel
`/threshold 0.5–0.99` – how sure I must be before acting
`/autoreply on|off` – a verdict for every image, or quiet (memes-only still applies)
`/review_threshold value:` – where doubtful non-memes start: kept and queued for review (`off` closes it)
`/review` – the queue: doubtful posts and appeals, with buttons
`/reviewchat code:` – send this channel's queue to a moderators' channel as well (`off`, `status`)
`/labels`, `/unlabel number:` – your labels (your corrections are this channel's labels at once)
`/audit` – the last 20 moderator actions and removals
`/export` – this channel's corrections as a training set (zip)"""


class CommandRunner(Protocol):
    targets: Targets

    async def run(
        self,
        interaction: discord.Interaction,
        name: str,
        args: Sequence[str] = (),
        *,
        target: TargetFinder | None = None,
    ) -> None: ...


def register_commands(tree: app_commands.CommandTree[Any], runner: CommandRunner) -> None:
    for name, description in UPLOAD_COMMANDS.items():
        callback = app_commands.describe(image="The image")(_upload_command(runner, name))
        tree.add_command(app_commands.Command(name=name, description=description, callback=callback))
    for menu, (name, args, need_image) in MESSAGE_MENUS.items():
        tree.add_command(
            app_commands.ContextMenu(name=menu, callback=_message_command(runner, name, args, need_image))
        )
    _correction_commands(tree, runner)
    _settings_commands(tree, runner)


def _upload_command(
    runner: CommandRunner, name: str
) -> Callable[[discord.Interaction, discord.Attachment], Coroutine[Any, Any, None]]:
    async def command(interaction: discord.Interaction, image: discord.Attachment) -> None:
        async def target() -> RepliedMessage:
            return runner.targets.upload(interaction, image)

        await runner.run(interaction, name, target=target)

    return command


def _message_command(
    runner: CommandRunner, name: str, args: tuple[str, ...], need_image: bool
) -> Callable[[discord.Interaction, discord.Message], Coroutine[Any, Any, None]]:
    async def command(interaction: discord.Interaction, message: discord.Message) -> None:
        async def target() -> RepliedMessage:
            return runner.targets.message(message, need_image=need_image)

        await runner.run(interaction, name, args, target=target)

    return command


def _correction_commands(tree: app_commands.CommandTree[Any], runner: CommandRunner) -> None:
    @tree.command(name="correct", description="Tell me what an image really is")
    @app_commands.describe(
        label="What the image really is",
        message="Link or ID of the message (default: my latest verdict in this channel)",
    )
    async def correct(
        interaction: discord.Interaction, label: Literal["meme", "not_meme"], message: str | None = None
    ) -> None:
        async def target() -> RepliedMessage:
            return await runner.targets.link_or_latest(interaction, message)

        await runner.run(interaction, "correct", (label,), target=target)

    @tree.command(name="stats", description="What I've seen in this channel")
    async def stats(interaction: discord.Interaction) -> None:
        await runner.run(interaction, "stats")

    @tree.command(name="help", description="What I do and my commands")
    async def help_(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(HELP, ephemeral=True)


def _settings_commands(tree: app_commands.CommandTree[Any], runner: CommandRunner) -> None:
    # default_permissions hides these from members without Manage Messages (server admins can
    # change that in Integrations); the core still checks the right in the channel itself.
    moderators = app_commands.default_permissions(manage_messages=True)

    @tree.command(name="memesonly", description="Memes-only channel: non-memes are removed")
    @app_commands.describe(state="on, off, or status (the default)")
    @app_commands.guild_only()
    @moderators
    async def memesonly(
        interaction: discord.Interaction, state: Literal["on", "off", "status"] = "status"
    ) -> None:
        await runner.run(interaction, "memesonly", (state,))

    @tree.command(name="mode", description="What happens to non-memes in a memes-only channel")
    @app_commands.describe(action="delete, warn or dryrun (leave out to see the current one)")
    @app_commands.guild_only()
    @moderators
    async def mode(
        interaction: discord.Interaction, action: Literal["delete", "warn", "dryrun"] | None = None
    ) -> None:
        await runner.run(interaction, "mode", _given(action))

    @tree.command(
        name="threshold", description="How sure I must be that an image is not a meme before acting"
    )
    @app_commands.describe(value="0.5 to 0.99 (leave out to see the current one)")
    @app_commands.guild_only()
    @moderators
    async def threshold(
        interaction: discord.Interaction, value: app_commands.Range[float, 0.5, 0.99] | None = None
    ) -> None:
        await runner.run(interaction, "threshold", _given(None if value is None else f"{value:g}"))

    @tree.command(name="autoreply", description="A verdict for every image, or quiet")
    @app_commands.describe(state="on or off (leave out to see the current one)")
    @moderators
    async def autoreply(interaction: discord.Interaction, state: Literal["on", "off"] | None = None) -> None:
        await runner.run(interaction, "autoreply", _given(state))

    @tree.command(name="export", description="This channel's corrections as a training set (zip)")
    @moderators
    async def export(interaction: discord.Interaction) -> None:
        await runner.run(interaction, "export")

    _moderation_commands(tree, runner, moderators)


def _moderation_commands(
    tree: app_commands.CommandTree[Any], runner: CommandRunner, moderators: Callable[[Any], Any]
) -> None:
    @tree.command(name="review", description="Posts waiting for a moderator's review, and appeals")
    @moderators
    async def review(interaction: discord.Interaction) -> None:
        await runner.run(interaction, "review")

    @tree.command(name="reviewchat", description="Send this channel's review queue to another channel too")
    @app_commands.describe(code="leave out for a code here; the code in the review channel; off; status")
    @moderators
    async def reviewchat(interaction: discord.Interaction, code: str | None = None) -> None:
        await runner.run(interaction, "reviewchat", _given(code))

    @tree.command(
        name="review_threshold", description="Where doubtful non-memes start being queued for review"
    )
    @app_commands.describe(value="0.5 to 0.99, or off (leave out to see the current one)")
    @moderators
    async def review_threshold(interaction: discord.Interaction, value: str | None = None) -> None:
        await runner.run(interaction, "review_threshold", _given(value))

    @tree.command(name="labels", description="This channel's moderator labels")
    @moderators
    async def labels(interaction: discord.Interaction) -> None:
        await runner.run(interaction, "labels")

    @tree.command(name="unlabel", description="Undo a moderator label by its number (see /labels)")
    @app_commands.describe(number="the label's number")
    @moderators
    async def unlabel(interaction: discord.Interaction, number: app_commands.Range[int, 1]) -> None:
        await runner.run(interaction, "unlabel", (str(number),))

    @tree.command(name="audit", description="The last 20 moderator actions and removals here")
    @moderators
    async def audit(interaction: discord.Interaction) -> None:
        await runner.run(interaction, "audit")

    @tree.command(name="report", description="What memes-only did lately, and the threshold to use")
    @app_commands.describe(days="how many days back (default 7)")
    async def report(interaction: discord.Interaction, days: app_commands.Range[int, 1, 90] = 7) -> None:
        await runner.run(interaction, "report", (str(days),))


def _given(value: str | None) -> tuple[str, ...]:
    return () if value is None else (value,)


async def sync_commands(tree: app_commands.CommandTree[Any], guild_ids: Sequence[int]) -> None:
    """Register the commands with Discord: in the given guilds (instantly) or globally."""
    try:
        if not guild_ids:
            synced = await tree.sync()
            log.info("registered %d Discord commands globally", len(synced))
            return
        for guild_id in guild_ids:
            guild = discord.Object(guild_id)
            tree.copy_global_to(guild=guild)
            synced = await tree.sync(guild=guild)
            log.info("registered %d Discord commands in guild %d", len(synced), guild_id)
    except discord.HTTPException:
        # The bot still works on images and already-registered commands; say so and go on.
        log.exception("could not register the slash commands with Discord")
