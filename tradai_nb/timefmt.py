"""Times as text: the one ISO 8601 parser every record, lock, manifest and command-line option is read back with."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_iso(text: str) -> datetime:
    """An ISO 8601 / RFC 3339 time ("Z" or an offset) as an aware datetime; one without an offset is taken as UTC.
    Raises ValueError for text that is not such a time."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
