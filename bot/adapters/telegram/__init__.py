"""The Telegram adapter (python-telegram-bot v22); the only package that imports `telegram`."""

from bot.adapters.telegram.adapter import TelegramAdapter

__all__ = ["TelegramAdapter"]
