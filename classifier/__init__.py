"""Meme classifier: safe image preprocessing, a dynamic batcher and a ResNet101 behind an async service."""

from __future__ import annotations

from classifier.batcher import BatcherStats, DynamicBatcher
from classifier.errors import (
    CheckpointError,
    ClassifierClosed,
    ClassifierError,
    InvalidImage,
    Overloaded,
    RequestTimedOut,
)
from classifier.model import (
    CLASSES,
    CheckpointMeta,
    InferenceModel,
    build_model,
    load_checkpoint,
    random_checkpoint,
    save_checkpoint,
    select_device,
)
from classifier.preprocess import DecodeLimits, decode_frames, make_thumbnail, preprocess, to_tensor
from classifier.service import CacheInfo, Classifier, ClassifierSettings, Verdict

__all__ = [
    "CLASSES",
    "BatcherStats",
    "CacheInfo",
    "CheckpointError",
    "CheckpointMeta",
    "Classifier",
    "ClassifierClosed",
    "ClassifierError",
    "ClassifierSettings",
    "DecodeLimits",
    "DynamicBatcher",
    "InferenceModel",
    "InvalidImage",
    "Overloaded",
    "RequestTimedOut",
    "Verdict",
    "build_model",
    "decode_frames",
    "load_checkpoint",
    "make_thumbnail",
    "preprocess",
    "random_checkpoint",
    "save_checkpoint",
    "select_device",
    "to_tensor",
]
