"""Progress of a training epoch: a tqdm bar on a terminal, plain log lines otherwise (CI, nohup, files)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

Log = Callable[[str], None]


def log_to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


LINE_SECONDS = 60.0  # a line at least this often: a CPU epoch can take hours


class EpochProgress:
    """Running loss and accuracy of one epoch, shown every step (bar), or as a line every tenth of the
    epoch and at least once a minute."""

    def __init__(
        self, label: str, total: int, done: int, log: Log, *, interactive: bool | None = None
    ) -> None:
        self.label, self.total, self.done, self.log = label, total, done, log
        self.every = max(1, total // 10)
        self.started, self.images = time.monotonic(), 0
        self.last_line = self.started
        self.bar: Any = None
        if sys.stderr.isatty() if interactive is None else interactive:
            try:
                from tqdm import tqdm
            except ImportError:  # tqdm is in the `train` extra; without it, lines
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, initial=done, desc=label, unit="batch", dynamic_ncols=True)

    def update(self, *, loss: float, accuracy: float, lr: float, images: int) -> None:
        """`loss` and `accuracy` are the epoch's running means."""
        self.done += 1
        self.images += images
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}", acc=f"{accuracy:.3f}", lr=f"{lr:.2e}", refresh=False)
            self.bar.update(1)
        elif self.done % self.every == 0 or self.done == self.total or self._overdue():
            rate = self.images / max(1e-9, time.monotonic() - self.started)
            self.last_line = time.monotonic()
            self.log(
                f"{self.label} batch {self.done}/{self.total} loss {loss:.4f} acc {accuracy:.3f} "
                f"lr {lr:.2e} {rate:.1f} img/s"
            )

    def _overdue(self) -> bool:
        return time.monotonic() - self.last_line >= LINE_SECONDS

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
