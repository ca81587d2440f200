"""A fake Telegram Bot API server; import it through `tests.fakes.telegram_api`."""
