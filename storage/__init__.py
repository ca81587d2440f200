"""Persistence for memebot: settings, classifications, images, corrections and their export."""

from __future__ import annotations

from storage.errors import DatabaseError, StorageUnavailable
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
    "DatabaseError",
    "ExportFormatError",
    "ExportRow",
    "ExportSummary",
    "LabelledImage",
    "Repository",
    "StorageUnavailable",
    "UnknownClassification",
    "export_corrections",
    "read_export",
]
