"""Persistence for memebot: settings, classifications, images, corrections and their export."""

from __future__ import annotations

from storage.errors import DatabaseError, StorageUnavailable
from storage.export import ExportFormatError, ExportRow, ExportSummary, export_corrections, read_export
from storage.moderation import ModerationRepository
from storage.records import (
    AuditEntry,
    ChatDefaults,
    ChatSettings,
    ChatStats,
    ClassificationRecord,
    CorrectionRecord,
    LabelledImage,
    ModerationReport,
    ReviewItem,
    ThresholdAdvice,
    TrustedLabel,
    UnknownClassification,
)
from storage.repository import Repository

__all__ = [
    "AuditEntry",
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
    "ModerationReport",
    "ModerationRepository",
    "Repository",
    "ReviewItem",
    "StorageUnavailable",
    "ThresholdAdvice",
    "TrustedLabel",
    "UnknownClassification",
    "export_corrections",
    "read_export",
]
