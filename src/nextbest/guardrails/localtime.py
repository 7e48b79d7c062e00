"""The customer's local clock, for quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@lru_cache(maxsize=512)
def zone(name: str | None, fallback: str = "UTC") -> ZoneInfo:
    """The customer's zone; an unknown or missing name falls back (never raises)."""
    for candidate in (name, fallback, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def quiet_until(now_ms: int, tz: ZoneInfo, start_hour: int, end_hour: int) -> int | None:
    """End of the quiet hours ``now_ms`` falls in (epoch ms), or None outside them.

    Quiet hours may wrap midnight (21 -> 8) or not (13 -> 14); equal hours mean none.

    >>> berlin = zone("Europe/Berlin")
    >>> late = 1_700_000_000_000 - 1_700_000_000_000 % 86_400_000 + 21 * 3_600_000  # 22:00 CET
    >>> until = quiet_until(late, berlin, 21, 8)
    >>> (until - late) / 3_600_000  # until 08:00 local
    10.0
    >>> quiet_until(late - 12 * 3_600_000, berlin, 21, 8) is None  # 10:00 local
    True
    """
    if start_hour == end_hour:
        return None
    local = datetime.fromtimestamp(now_ms / 1000, UTC).astimezone(tz)
    hour = local.hour + local.minute / 60 + local.second / 3600
    wraps = start_hour > end_hour
    quiet = (hour >= start_hour or hour < end_hour) if wraps else start_hour <= hour < end_hour
    if not quiet:
        return None
    end = local.replace(hour=end_hour, minute=0, second=0, microsecond=0)
    if end <= local:
        end = end + timedelta(days=1)
    # Re-localise across a DST change so the wall-clock hour is right.
    end = datetime(end.year, end.month, end.day, end_hour, tzinfo=tz)
    return int(end.timestamp() * 1000)
