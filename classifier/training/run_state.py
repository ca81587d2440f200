"""A training run's folder: the resumable state in last/, the best model in best/, history.json.

last/ holds model.safetensors + model.json (an ordinary checkpoint), optimizer.safetensors (AdamW's
moments, keyed "<param index>/<name>") and state.json (position, running sums, history, recipe, data).
Nothing is pickled. last/ is replaced as a whole: it is written to last.partial/ and swapped in, so a
crash leaves the previous state (in last/ or, mid-swap, in last.old/), never a mix of two.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import nn

from classifier.model import CheckpointMeta, checkpoint_paths, save_checkpoint

LAST, BEST = "last", "best"
STATE_FILE, OPTIMIZER_FILE, HISTORY_FILE = "state.json", "optimizer.safetensors", "history.json"
STATE_FORMAT = "memebot-training-state"


@dataclass
class RunState:
    """Where a run is: the epoch in progress and the batches of it done, with what was seen so far."""

    epoch: int = 0
    batch: int = 0
    step: int = 0
    wall_seconds: float = 0.0
    sums: dict[str, float] = field(default_factory=lambda: {"loss": 0.0, "correct": 0.0, "seen": 0.0})
    best: dict[str, Any] | None = None  # {"epoch": E, "val": {...metrics}}
    scaler: dict[str, Any] | None = None  # fp16 GradScaler state
    steps: list[list[float]] = field(default_factory=list)  # [step, epoch, loss, accuracy, lr]
    epochs: list[dict[str, Any]] = field(default_factory=list)

    def record(self, epoch: float, loss: float, correct: int, seen: int, lr: float) -> None:
        """One optimizer step done; `epoch` is fractional (2.5 = half-way through the third)."""
        self.step += 1
        self.batch += 1
        self.sums["loss"] += loss * seen
        self.sums["correct"] += correct
        self.sums["seen"] += seen
        self.steps.append([self.step, epoch, loss, correct / seen, lr])

    def running(self) -> tuple[float, float]:
        """The epoch's mean loss and accuracy so far."""
        seen = max(1.0, self.sums["seen"])
        return self.sums["loss"] / seen, self.sums["correct"] / seen

    def close_epoch(self, val: dict[str, Any]) -> dict[str, Any]:
        """Record the epoch that just ended (train means, last lr, validation) and start the next."""
        loss, accuracy = self.running()
        record = {"epoch": self.epoch + 1, "step": self.step, "train_loss": loss, "train_accuracy": accuracy}
        record |= {"lr": self.steps[-1][4] if self.steps else 0.0}
        record |= {f"val_{name}": value for name, value in val.items()}
        self.epochs.append(record)
        self.epoch, self.batch = self.epoch + 1, 0
        self.sums = {"loss": 0.0, "correct": 0.0, "seen": 0.0}
        return record

    def summary(self, epochs_planned: int, finished: bool) -> dict[str, Any]:
        """For the best checkpoint's metadata: its validation metrics and how the run went."""
        best = self.best or {}
        return {
            "metrics": {
                "val": best.get("val", {}),
                "best_epoch": best.get("epoch"),
                "best_step": best.get("step"),
            },
            "training": {
                "epochs_completed": self.epoch,
                "epochs_planned": epochs_planned,
                "steps": self.step,
                "finished": finished,
                "wall_seconds": round(self.wall_seconds, 1),
            },
        }

    def history(self) -> dict[str, Any]:
        return {
            "columns": ["step", "epoch", "loss", "accuracy", "lr"],
            "steps": self.steps,
            "epochs": self.epochs,
        }


def last_dir(out: Path) -> Path | None:
    """The state folder to resume from, if any (last/, or last.old/ after a crash mid-swap)."""
    for name in (LAST, f"{LAST}.old"):
        if (out / name / STATE_FILE).is_file():
            return out / name
    return None


def save_last(
    out: Path,
    model: nn.Module,
    meta: CheckpointMeta,
    optimizer: torch.optim.Optimizer,
    header: dict[str, Any],
    state: RunState,
) -> Path:
    partial, final, old = out / f"{LAST}.partial", out / LAST, out / f"{LAST}.old"
    shutil.rmtree(partial, ignore_errors=True)
    save_checkpoint(model, meta, partial)
    tensors, info = optimizer_tensors(optimizer)
    safetensors.torch.save_file(tensors, str(partial / OPTIMIZER_FILE))
    body = {
        "format": STATE_FORMAT,
        "version": 1,
        **header,
        "optimizer": info,
        "state": dataclasses.asdict(state),
    }
    (partial / STATE_FILE).write_text(json.dumps(body) + "\n", encoding="utf-8")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    os.replace(partial, final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def read_header(folder: Path) -> dict[str, Any]:
    raw = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    if raw.get("format") != STATE_FORMAT:
        raise ValueError(f"{folder / STATE_FILE} is not a memebot training state")
    return dict(raw)


def restore(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> RunState:
    """Load weights and optimizer state into `model` and `optimizer`; the run's position back."""
    raw = read_header(folder)
    weights, _ = checkpoint_paths(folder)
    model.load_state_dict(safetensors.torch.load_file(str(weights), device="cpu"))
    tensors = safetensors.torch.load_file(str(folder / OPTIMIZER_FILE), device="cpu")
    load_optimizer(optimizer, tensors, raw["optimizer"])
    return RunState(**raw["state"])


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The optimizer's state_dict split into tensors (for safetensors) and everything else (JSON)."""
    state_dict = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, dict[str, Any]] = {}
    for index, entry in state_dict["state"].items():
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}/{name}"] = value.detach().to("cpu").contiguous()
            else:
                plain.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state_dict["param_groups"], "plain": plain}


def load_optimizer(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], info: dict[str, Any]
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, tensor in tensors.items():
        index, name = key.split("/", 1)
        state.setdefault(int(index), {})[name] = tensor
    for index, entries in info["plain"].items():
        state.setdefault(int(index), {}).update(entries)
    optimizer.load_state_dict({"state": state, "param_groups": info["param_groups"]})


def write_history(out: Path, state: RunState, recipe: dict[str, Any]) -> Path:
    path = out / HISTORY_FILE
    path.write_text(json.dumps({"recipe": recipe, **state.history()}) + "\n", encoding="utf-8")
    return path
