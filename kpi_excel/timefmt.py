"""Times: kept in UTC (ledger, manifest), shown in the machine's local time zone."""

from __future__ import annotations

import datetime as dt


def utc_now() -> str:
    """Now, as the ledger keeps it: ISO 8601 in UTC to the second (`2026-12-01T23:08:13+00:00`)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def local_time(stamp: str | None) -> str:
    """A kept time (ISO 8601; one without an offset is taken as UTC) in the machine's local time
    zone with its offset, as a clerk reads it: `2026-12-02 07:08:13+08:00`. Text that is not a
    time comes back as it is; None or '' as ''."""
    if not stamp:
        return ""
    try:
        t = dt.datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return str(stamp)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone().isoformat(sep=" ", timespec="seconds")
