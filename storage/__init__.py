"""Persistence for memebot: settings, classifications, images, corrections and their export."""

from __future__ import annotations

from storage.export import ExportFormatError, ExportRow, ExportSummary, export_corrections, read_export
from storage.records import (
    ChatDefaults,
    ChatSettings,
    ChatStats,
    ClassificationRecord,
    CorrectionRecord,
    LabelledImage,
    UnknownClassification,
)
from storage.repository import Repository

__all__ = [
    "ChatDefaults",
    "ChatSettings",
    "ChatStats",
    "ClassificationRecord",
    "CorrectionRecord",
    "ExportFormatError",
    "ExportRow",
    "ExportSummary",
    "LabelledImage",
    "Repository",
    "UnknownClassification",
    "export_corrections",
    "read_export",
]
