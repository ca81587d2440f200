"""`memebot train`: a ResNet meme classifier from manifests, folders, corrections zips and packs.

Recipe: AdamW (no weight decay on biases and batch norm), linear warm-up then a cosine decay to zero,
cross-entropy with per-class weights (so both classes weigh the same), label smoothing, augmentation
from augment.py, bf16 (fp16 + loss scaling where bf16 is missing) autocast and channels_last on CUDA.
After every epoch: validation, a resumable state in OUT/last/, and OUT/best/ (an ordinary checkpoint)
when validation accuracy improves (ties: lower validation loss). `--max-steps N` stops after N steps
in all, a resumed run counting the steps before, and `--time-limit S` after S seconds of this run
(the best checkpoint is exported either way); `--resume` then continues exactly where it stopped.
`--resume --epochs N` lengthens (or shortens) a run: the cosine decay is recomputed for the new total
from the step it resumes at, so the learning rate moves on smoothly from about where it was.
Long epochs (hours on a CPU) also save last/ every `--save-every` seconds, so a killed run loses little.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from classifier.model import (
    CLASSES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    CheckpointMeta,
    load_checkpoint,
    save_checkpoint,
    select_device,
)
from classifier.preprocess import DecodeLimits
from classifier.training.data import DataSpec, Sample, load_samples, summarise
from classifier.training.engine import Engine
from classifier.training.hardware import describe_hardware
from classifier.training.loaders import (
    EpochOrder,
    EvalImages,
    TrainImages,
    class_weights,
    collect_probs,
    eval_loader,
    train_loader,
)
from classifier.training.progress import EpochProgress, Log, log_to_stderr
from classifier.training.recipe import Recipe, default_version, lr_at, validation_metrics
from classifier.training.run_state import (
    BEST,
    RunState,
    last_dir,
    read_header,
    restore,
    save_last,
    write_history,
)


class TrainError(RuntimeError):
    """Training cannot start or continue as asked."""


@dataclass(frozen=True)
class TrainOptions:
    data: tuple[DataSpec, ...]
    out: Path
    recipe: Recipe = field(default_factory=Recipe)
    device: str = "auto"
    precision: str = "auto"  # engine.training_precision: bf16 autocast where the device does bf16
    workers: int = 0
    max_steps: int | None = None
    time_limit: float | None = None  # seconds of this invocation; then stop as at --max-steps
    resume: bool = False
    resume_epochs: int | None = None  # with resume: a new length for the run (its cosine decay follows)
    save_every: float | None = 600.0  # seconds between mid-epoch saves of last/: a killed run loses less
    model_version: str | None = None
    log: Log = log_to_stderr
    interactive: bool | None = None  # progress bar or lines; None: a bar when stderr is a terminal


@dataclass(frozen=True)
class TrainResult:
    best: Path  # an inference checkpoint folder
    out: Path
    state: RunState
    finished: bool  # False: stopped by --max-steps, resumable


def train(options: TrainOptions) -> TrainResult:
    recipe, specs, header = _settle(options)
    torch.manual_seed(recipe.seed)
    samples = load_samples(specs, seed=recipe.seed)
    return Trainer(options, recipe, specs, samples, header).run()


def _settle(options: TrainOptions) -> tuple[Recipe, tuple[DataSpec, ...], dict[str, Any] | None]:
    """The recipe and data of this run: the saved ones when resuming, else the options'."""
    found = last_dir(options.out)
    if not options.resume:
        if found is not None:
            raise TrainError(
                f"{options.out} already holds a run: add --resume to continue it, or pick another --out"
            )
        if not options.data:
            raise TrainError("give at least one --data")
        return options.recipe, tuple(DataSpec(s.path.resolve(), s.split) for s in options.data), None
    if found is None:
        raise TrainError(f"--resume: {options.out} holds no training state to continue")
    header = read_header(found)
    specs = tuple(DataSpec.parse(text) for text in header["data"]["data"])
    given = [str(DataSpec(s.path.resolve(), s.split)) for s in options.data]
    if given and given != header["data"]["data"]:
        raise TrainError(
            f"--resume continues the run on its own data ({header['data']['data']}); drop --data"
        )
    recipe = Recipe.from_json(header["recipe"])
    if options.resume_epochs is not None and options.resume_epochs != recipe.epochs:
        recipe = dataclasses.replace(recipe, epochs=options.resume_epochs)
        header = {**header, "recipe": recipe.to_json()}
    return recipe, specs, header


class Trainer:
    def __init__(
        self,
        options: TrainOptions,
        recipe: Recipe,
        specs: tuple[DataSpec, ...],
        samples: list[Sample],
        header: dict[str, Any] | None,
    ) -> None:
        self.options, self.recipe, self.out, self.log = options, recipe, options.out, options.log
        self.train_set = [s for s in samples if s.split == "train"]
        self.val_set = [s for s in samples if s.split == "val"]
        if len(self.train_set) < 2:
            raise TrainError(f"{len(self.train_set)} training image(s): the train split needs at least 2")
        self.device = select_device(options.device)
        self.batch = min(recipe.batch_size, len(self.train_set))
        self.steps_per_epoch = len(self.train_set) // self.batch
        self.total_steps = recipe.epochs * self.steps_per_epoch
        self.warmup = min(self.total_steps, round(recipe.warmup_epochs * self.steps_per_epoch))
        version = header["model_version"] if header else options.model_version or default_version(recipe)
        self.meta = CheckpointMeta(
            CLASSES, recipe.input_size, IMAGENET_MEAN, IMAGENET_STD, version, recipe.arch
        )
        self.header: dict[str, Any] = {
            "recipe": recipe.to_json(),
            "data": summarise(samples, specs),
            "model_version": version,
        }
        self.header["train_images"] = len(self.train_set)
        # A resumed run's weights come from its state: never download or read the --init weights again.
        self.engine = Engine(
            dataclasses.replace(recipe, init="scratch") if header else recipe, self.device, options.precision
        )
        self._build_loaders()
        self.state = RunState()
        if header is not None:
            self._resume(header)
        self._mark = self._started = time.monotonic()

    def _build_loaders(self) -> None:
        workers, cuda = self.options.workers, self.device.type == "cuda"
        self.order = EpochOrder(len(self.train_set), seed=self.recipe.seed, batch_size=self.batch)
        images = TrainImages(self.train_set, self.meta, self.recipe.augmentation)
        self.loader = train_loader(images, self.order, workers=workers, pin_memory=cuda)
        val = EvalImages(self.val_set, self.meta, DecodeLimits())
        self.val_loader = eval_loader(val, batch_size=self.batch, workers=workers) if self.val_set else None
        self.loss_weights = class_weights(self.train_set).to(self.device)

    def _resume(self, header: dict[str, Any]) -> None:
        if header["train_images"] != len(self.train_set):
            raise TrainError(
                f"the data changed since the run started ({header['train_images']} training images then, "
                f"{len(self.train_set)} now): an exact resume is impossible; start a new run"
            )
        folder = last_dir(self.out)
        assert folder is not None  # _settle checked
        self.state = restore(folder, self.engine.model, self.engine.optimizer)
        self.engine.load_scaler_state(self.state.scaler)
        where = f"epoch {self.state.epoch + 1}, batch {self.state.batch}, step {self.state.step}"
        self.log(f"resuming {self.out} at {where}")

    def run(self) -> TrainResult:
        recipe, precision = self.recipe, f" {self.engine.amp}" if self.engine.amp else ""
        self.log(
            f"training {recipe.arch} ({recipe.init}) on {len(self.train_set)} images, validating on "
            f"{len(self.val_set)}; {recipe.epochs} epochs of {self.steps_per_epoch} steps, "
            f"batch {self.batch}, {self.device}{precision}"
        )
        finished = True
        for epoch in range(self.state.epoch, self.recipe.epochs):
            if not self._train_epoch(epoch):
                finished = False
                break
            self._end_epoch(epoch)
        return self._finish(finished)

    def _at_limit(self) -> bool:
        steps, seconds = self.options.max_steps, self.options.time_limit
        if seconds is not None and time.monotonic() - self._started >= seconds:
            return True
        return steps is not None and self.state.step >= steps

    def _save_due(self) -> bool:
        every = self.options.save_every
        return every is not None and time.monotonic() - self._mark >= every

    def _train_epoch(self, epoch: int) -> bool:
        """Train to the end of the epoch (True) or until --max-steps (False)."""
        if self._at_limit():
            return False
        self.order.start(epoch, self.state.batch)
        label = f"epoch {epoch + 1}/{self.recipe.epochs}"
        bar = EpochProgress(
            label, self.steps_per_epoch, self.state.batch, self.log, interactive=self.options.interactive
        )
        try:
            for images, labels in self.loader:
                lr = lr_at(self.state.step, self.total_steps, self.warmup, self.recipe.lr)
                loss, correct = self.engine.step(images, labels, lr=lr, loss_weights=self.loss_weights)
                position = epoch + (self.state.batch + 1) / self.steps_per_epoch
                self.state.record(position, loss, correct, len(labels), lr)
                mean_loss, accuracy = self.state.running()
                bar.update(loss=mean_loss, accuracy=accuracy, lr=lr, images=len(labels))
                if self.state.batch < self.steps_per_epoch:
                    if self._at_limit():
                        return False
                    if self._save_due():
                        self._save_last()
        finally:
            bar.close()
        return True

    def _end_epoch(self, epoch: int) -> None:
        val = self._validate()
        if self._better(val):
            self.state.best = {"epoch": epoch + 1, "step": self.state.step, "val": val}
            self._save_best()
        record = self.state.close_epoch(val)
        self._save_last()
        shown = ", ".join(f"{k} {v:.4f}" for k, v in record.items() if isinstance(v, float))
        self.log(f"epoch {epoch + 1}/{self.recipe.epochs} done: {shown}")

    def _better(self, val: dict[str, Any]) -> bool:
        best = self.state.best
        if not val or best is None or not best["val"]:
            return True  # without a validation split the latest epoch is the best we know
        return (val["accuracy"], -val["loss"]) > (best["val"]["accuracy"], -best["val"]["loss"])

    def _validate(self) -> dict[str, Any]:
        if self.val_loader is None:
            return {}
        self.engine.model.eval()
        try:
            probs = collect_probs(self.val_loader, self.engine.probabilities).numpy()
        finally:
            self.engine.model.train()
        return validation_metrics(self.val_set, probs)

    def _save_last(self) -> None:
        now = time.monotonic()
        self.state.wall_seconds += now - self._mark
        self._mark = now
        self.state.scaler = self.engine.scaler_state()
        engine = self.engine
        save_last(self.out, engine.model, self.meta, engine.optimizer, self.header, self.state)
        write_history(self.out, self.state, self.header["recipe"])

    def _save_best(self, finished: bool = False) -> None:
        meta = dataclasses.replace(self.meta, extra=self._extra(finished))
        save_checkpoint(self.engine.model, meta, self.out / BEST)

    def _finish(self, finished: bool) -> TrainResult:
        if self.state.best is None:  # stopped before the first epoch ended: the weights as they are
            self.state.best = {"epoch": None, "step": self.state.step, "val": self._validate()}
            self._save_best()
        self._save_last()
        # The best checkpoint was written mid-run: give it the final summary (wall time, steps).
        model, meta = load_checkpoint(self.out / BEST)
        save_checkpoint(model, dataclasses.replace(meta, extra=self._extra(finished)), self.out / BEST)
        self.log(f"best checkpoint: {self.out / BEST}; resumable state: {self.out / 'last'}")
        return TrainResult(self.out / BEST, self.out, self.state, finished)

    def _extra(self, finished: bool) -> dict[str, Any]:
        return {
            "data": self.header["data"],
            "recipe": self.header["recipe"],
            **self.state.summary(self.recipe.epochs, finished),
            "hardware": describe_hardware(self.device, self.engine.amp),
            "trained_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        }
