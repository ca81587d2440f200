"""Datasets and loaders: augmented training batches in a seeded, resumable order; evaluation batches
made by the bot's own preprocessing.

The training order of epoch E is a permutation drawn from (seed, E), and every item carries its own
augmentation seed from the same draw, so a run resumed at any batch sees exactly the images and
augmentations it would have seen, whatever the number of loader workers.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

from classifier.errors import InvalidImage
from classifier.model import CLASSES, CheckpointMeta
from classifier.preprocess import DecodeLimits, decode_frames, preprocess
from classifier.training.augment import Augmentation, augment, lowres_chances, random_letterbox
from classifier.training.data import DataError, Sample

FIRST_FRAME = DecodeLimits(max_frames=1)


def label_index(label: str) -> int:
    return CLASSES.index(label)


class TrainImages(Dataset[tuple[torch.Tensor, int]]):
    """Augmented [3, S, S] tensors; an item key is (sample index, augmentation seed)."""

    def __init__(self, samples: Sequence[Sample], meta: CheckpointMeta, aug: Augmentation) -> None:
        self.samples, self.meta, self.aug = list(samples), meta, aug
        by_label: dict[str, list[str]] = {}
        for s in self.samples:
            by_label.setdefault(s.label, []).append(s.source)
        self.lowres = lowres_chances(aug, by_label)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, int]:
        index, seed = key
        sample = self.samples[index]
        try:
            img = decode_first_frame(sample.read(), self.meta)
        except (OSError, InvalidImage) as error:
            raise DataError(f"{sample.origin}: cannot read this training image ({error})") from error
        rng = random.Random(seed)
        chance = 0.0 if sample.source in self.aug.lowres_sources else self.lowres.get(sample.label, 0.0)
        out = augment(img, rng, self.aug, lowres_chance=chance)
        return random_letterbox(out, self.meta, rng, self.aug), label_index(sample.label)


class EvalImages(Dataset[tuple[torch.Tensor, int]]):
    """[F, 3, S, S] frames from classifier.preprocess.preprocess, the bot's exact path ([0, 3, S, S] when
    the image cannot be read: it is counted, not fatal)."""

    def __init__(self, samples: Sequence[Sample], meta: CheckpointMeta, limits: DecodeLimits) -> None:
        self.samples, self.meta, self.limits = list(samples), meta, limits

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        sample = self.samples[index]
        try:
            frames = preprocess(sample.read(), self.meta, self.limits)
        except (OSError, InvalidImage):
            size = self.meta.input_size
            frames = torch.zeros(0, 3, size, size)
        return frames, label_index(sample.label)


def collate_frames(
    batch: Sequence[tuple[torch.Tensor, int]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(all frames [sum F, 3, S, S], frames per image [N], labels [N])."""
    frames = torch.cat([f for f, _ in batch])
    counts = torch.tensor([f.shape[0] for f, _ in batch])
    return frames, counts, torch.tensor([label for _, label in batch])


def per_image(probs: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Mean class probabilities per image (the bot's rule for animations); NaN rows for unread images."""
    out = torch.full((len(counts), probs.shape[1]), float("nan"))
    start = 0
    for i, n in enumerate(counts.tolist()):
        if n:
            out[i] = probs[start : start + n].mean(dim=0)
        start += n
    return out


class EpochOrder(Sampler[tuple[int, int]]):
    """A seeded permutation per epoch with an augmentation seed per item; `start(epoch, batch)` skips
    the batches a resumed run has already done."""

    def __init__(self, size: int, *, seed: int, batch_size: int) -> None:
        self.size, self.seed, self.batch_size = size, seed, batch_size
        self.epoch, self.first_batch = 0, 0

    def start(self, epoch: int, batch: int = 0) -> None:
        self.epoch, self.first_batch = epoch, batch

    def __len__(self) -> int:
        return max(0, self.size - self.first_batch * self.batch_size)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator)
        seeds = torch.randint(0, 2**62, (self.size,), generator=generator)
        skip = self.first_batch * self.batch_size
        yield from zip(order[skip:].tolist(), seeds[skip:].tolist(), strict=True)


def class_weights(samples: Sequence[Sample]) -> torch.Tensor:
    """Loss weights n / (classes * n_class): each class weighs the same in the loss, whatever its size."""
    counts = Counter(s.label for s in samples)
    present = [c for c in CLASSES if counts[c]]
    return torch.tensor([len(samples) / (len(present) * counts[c]) if counts[c] else 0.0 for c in CLASSES])


def _worker_init(_worker: int) -> None:
    torch.set_num_threads(1)  # decoding workers: one thread each, or they fight over the cores


def train_loader(
    images: TrainImages, order: EpochOrder, *, workers: int, pin_memory: bool
) -> DataLoader[tuple[torch.Tensor, int]]:
    # drop_last: a tiny last batch gives batch norm noisy statistics; every image still gets its turn
    # across epochs because the permutation changes.
    return DataLoader(
        images,
        batch_size=order.batch_size,
        sampler=order,
        drop_last=True,
        num_workers=workers,
        pin_memory=pin_memory,
        worker_init_fn=_worker_init if workers else None,
        prefetch_factor=4 if workers else None,
        persistent_workers=False,
    )


def eval_loader(images: EvalImages, *, batch_size: int, workers: int) -> DataLoader[tuple[torch.Tensor, int]]:
    return DataLoader(
        images,
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=collate_frames,
        worker_init_fn=_worker_init if workers else None,
    )


def decode_first_frame(data: bytes, meta: CheckpointMeta) -> Image.Image:
    """Decoded as the bot decodes (same JPEG draft size), first frame only."""
    return decode_frames(data, FIRST_FRAME, draft_size=meta.input_size * 2)[0]


def collect_probs(
    loader: DataLoader[tuple[torch.Tensor, int]], forward: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """Per-image class probabilities [N, classes] over an eval loader; `forward`: frames -> probs."""
    chunks = []
    for frames, counts, _labels in loader:
        probs = forward(frames) if len(frames) else torch.zeros(0, len(CLASSES))
        chunks.append(per_image(probs, counts))
    return torch.cat(chunks) if chunks else torch.zeros(0, len(CLASSES))
