"""A fake Discord gateway + REST server; import it through `tests.fakes.discord_api`."""
