"""Discord (discord.py v2): the only package that imports `discord`; see docs/discord.md."""

from __future__ import annotations

from bot.adapters.discord.adapter import DiscordAdapter

__all__ = ["DiscordAdapter"]
