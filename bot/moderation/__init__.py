"""Moderation that learns at once: trusted labels, the review queue, appeals, the audit log, the report."""
