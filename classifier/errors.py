"""Errors raised by the classifier package; `InvalidImage` messages are written for chat users."""

from __future__ import annotations


class ClassifierError(Exception):
    """Base class for every error the classifier raises on purpose."""


class InvalidImage(ClassifierError):
    """The bytes are not an image we accept; `str(error)` is a sentence fit to show the user."""


class Overloaded(ClassifierError):
    """The inference queue is full; the caller should retry later or give up."""


class RequestTimedOut(ClassifierError):
    """The request's deadline passed before its result was ready."""


class ClassifierClosed(ClassifierError):
    """The classifier (or its batcher) is closing or closed and takes no new work."""


class CheckpointError(ClassifierError):
    """A checkpoint is missing, corrupt, unsafe or does not fit the model; the message says the fix."""
