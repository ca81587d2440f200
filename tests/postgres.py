"""A real PostgreSQL server for the tests: Debian's package, started in a temporary folder on loopback.

`initdb` refuses to run as root, so as root the server runs as the `postgres` user. Nothing is left
behind: `stop()` shuts the server down and removes its folder. Set `MEMEBOT_POSTGRES=required` (CI
does) to turn a missing or broken server into a failure instead of a skip.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here, or the server would not start."""


def required() -> bool:
    return os.environ.get("MEMEBOT_POSTGRES", "").lower() == "required"


def find_bindir() -> Path:
    """The folder holding initdb and pg_ctl: on PATH, or Debian's newest /usr/lib/postgresql/N/bin."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in [*candidates, *debian]:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise PostgresUnavailable(
        "PostgreSQL is not installed (apt-get install postgresql); set MEMEBOT_POSTGRES=required to fail"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One throwaway server; `create_database()` hands each test a database of its own."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.base = Path(tempfile.mkdtemp(prefix="memebot-pg-"))
        self.port = free_port()
        self._names = (f"t{n}" for n in itertools.count(1))
        self._as_postgres = os.geteuid() == 0

    @property
    def data(self) -> Path:
        return self.base / "data"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"{tool} failed: {(result.stderr or result.stdout).strip()}\n{self.log()}"
            )

    def start(self) -> PostgresServer:
        if self._as_postgres:
            shutil.chown(self.base, "postgres", "postgres")
        self.base.chmod(0o700)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        options = " ".join(
            [
                f"-k {self.base} -p {self.port} -c listen_addresses=127.0.0.1",
                # A test server: durability buys nothing, speed does.
                "-c fsync=off -c full_page_writes=off -c synchronous_commit=off",
                "-c max_connections=200",
            ]
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.base / "log"),
            "-o",
            options,
            "start",
        )
        return self

    def create_database(self) -> str:
        name = next(self._names)
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    def log(self) -> str:
        try:
            return (self.base / "log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
