"""Where the model runs: how many batches side by side, on how many torch threads each.

On the CPU the cores are shared out among `workers` threads that each run a batch on `threads` torch
threads, and one more thread, `solo`, runs on all of them: the batcher (see DynamicBatcher) gives it
a batch that has the machine to itself. A busy bot runs at the speed of batches side by side, a
quiet one answers a lone image at the speed of the whole CPU.

Why side by side: one model run keeps its threads in lock-step, so when preprocessing takes a core
from one of them now and then, all of them stall; runs on one thread each lose only the time taken.
Measured on the 2-core VM (ResNet101 at 128 px, bf16; `/tmp` script, the service at 8, 32 and 128
callers in fresh processes, three alternating runs each, steady-state images/s): this layout gave
84.7 / 86.2 / 87.6, 101.3 / 90.3 / 95.5 and 104.5 / 98.9 / 109.9; one worker on both threads gave
92.4 / 90.6 / 94.0, 94.5 / 97.0 / 100.8 and 91.0 / 93.8 / 98.6. So it is ahead when the bot is
saturated. At 8 callers, where almost every batch runs on the solo thread, a second series of runs
showed no difference (86-98 against 84-93). It costs about 100 MiB more. A lone image on one
thread took a p50 of 47 ms through the service against 29 ms on two, hence the solo thread.

torch keeps one thread count per thread: each takes the process's default when it first runs a
parallel op, and `torch.set_num_threads` sets the calling thread's and the default. Each inference
thread sets its own as it starts and puts the default back to 1, because a second thread that runs
torch on several threads (an OpenMP team of its own) slows the first one's for good: batch 1 on the
solo thread took 30 ms, and 58-65 ms once another thread had run one 2-thread matrix product
(`/tmp` script; with that other thread on 1 thread, 33 ms before and after). So in a process that
serves the classifier, every other thread runs torch on one thread, the caller's own thread (which
keeps its count) should run no big tensor ops, and the solo thread alone uses the whole CPU.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import NamedTuple

import torch

# torch's threads for one model run when no one has changed them, read at import for the reason above.
CPU_THREADS = torch.get_num_threads()


class InferenceLayout(NamedTuple):
    """`workers` threads of `threads` torch threads each (0: torch's as is), and a solo thread of
    `solo_threads` (0: none)."""

    workers: int
    threads: int
    solo_threads: int


def inference_layout(device: torch.device, workers: int = 0, threads: int = 0) -> InferenceLayout:
    """The layout for `device`; `workers` and `threads` as configured, 0 for automatic.

    CPU, auto: 2 workers when torch has 2 threads or more, sharing them out, and a solo thread on
    all of them. CUDA, auto: 1 worker (a GPU runs one batch at a time; no more was measured here).
    """
    if device.type != "cpu":
        return InferenceLayout(workers or 1, 0, 0)
    workers = workers or (2 if CPU_THREADS >= 2 else 1)
    threads = threads or max(1, CPU_THREADS // workers)
    return InferenceLayout(workers, threads, workers * threads if workers > 1 else 0)


class InferencePools:
    """The threads of a layout: `workers` (a pool for batches side by side) and `solo` (None, or one
    thread for a batch alone). Shut down with `shutdown()` or a `with` block."""

    def __init__(self, layout: InferenceLayout) -> None:
        self.layout = layout
        self.workers = _pool(layout.workers, layout.threads, "memebot-inference")
        self.solo = _pool(1, layout.solo_threads, "memebot-inference-solo") if layout.solo_threads else None

    @property
    def loader(self) -> ThreadPoolExecutor:
        """The thread to load the model on: the solo one if any, else a worker (see Classifier)."""
        return self.solo or self.workers

    def groups(self) -> list[tuple[ThreadPoolExecutor, int, int]]:
        """Each pool with its number of threads and torch threads per thread: the workers, then the solo."""
        workers = (self.workers, self.layout.workers, self.layout.threads)
        return [workers] if self.solo is None else [workers, (self.solo, 1, self.layout.solo_threads)]

    def shutdown(self, *, wait: bool = False) -> None:
        for pool, _, _ in self.groups():
            pool.shutdown(wait=wait)

    def __enter__(self) -> InferencePools:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown(wait=True)


def _pool(workers: int, threads: int, name: str) -> ThreadPoolExecutor:
    if threads <= 0:
        return ThreadPoolExecutor(workers, thread_name_prefix=name)
    return ThreadPoolExecutor(
        workers, thread_name_prefix=name, initializer=_set_own_threads, initargs=(threads,)
    )


def _set_own_threads(threads: int) -> None:
    """This thread runs torch on `threads` threads; threads that start using torch later, on one."""
    # torch sets a thread's count from the default when the thread first asks for it; ask first, or
    # that would undo the count set below.
    torch.get_num_threads()
    torch.set_num_threads(threads)  # this thread's count and the default ...
    default = threading.Thread(target=torch.set_num_threads, args=(1,), name="memebot-torch-default")
    default.start()  # ... which set_num_threads(1) on a thread of its own puts back, leaving ours
    default.join()
