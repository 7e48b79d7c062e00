"""Send time: a marketing email waits for the local hour its customer usually reads email at.

The hour comes from :func:`nextbest.models.send_time.hour_scores` (the customer's own opens,
shrunk towards everyone's). A message goes out at once when the current hour is nearly as good
(``GOOD_ENOUGH`` of the best), when the best hour is further away than the longest wait, or
when nothing is known yet; it never waits into quiet hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from nextbest.models.send_time import HOURS, OpenHours, hour_scores, local_hour

GOOD_ENOUGH = 0.8
"""Send now when the current hour scores at least this share of the best one."""


def quiet(hour: int, start: int, end: int) -> bool:
    """Whether a whole local hour lies in quiet hours (which may wrap midnight)."""
    if start == end:
        return False
    return (hour >= start or hour < end) if start > end else start <= hour < end


def send_at(now: int, tz: ZoneInfo, opened_at: Iterable[int], population: OpenHours, *,
            quiet_start: int, quiet_end: int, max_wait_ms: int) -> int | None:
    """The start (epoch ms) of the hour to send at, or None to send now.

    >>> from zoneinfo import ZoneInfo
    >>> utc, hour = ZoneInfo("UTC"), 3_600_000
    >>> population = OpenHours()
    >>> population.add(12)
    >>> nine = 1_700_000_000_000 - 1_700_000_000_000 % (24 * hour) + 9 * hour  # 09:00 UTC
    >>> opens = [nine - d * 24 * hour + 10 * hour for d in range(1, 6)]  # 19:00, five days
    >>> (send_at(nine, utc, opens, population, quiet_start=21, quiet_end=8,
    ...          max_wait_ms=24 * hour) - nine) // hour
    10
    >>> send_at(nine + 10 * hour, utc, opens, population, quiet_start=21, quiet_end=8,
    ...         max_wait_ms=24 * hour) is None  # 19:00 now
    True
    >>> (send_at(nine, utc, opens, population, quiet_start=18, quiet_end=8,
    ...          max_wait_ms=24 * hour) - nine) // hour  # 19:00 is quiet: everyone's noon
    3
    """
    scores = hour_scores((local_hour(t, tz) for t in opened_at), population)
    if scores is None:
        return None
    allowed = [h for h in range(HOURS) if not quiet(h, quiet_start, quiet_end)]
    if not allowed:
        return None
    best = max(allowed, key=lambda h: scores[h])
    local = datetime.fromtimestamp(now / 1000, UTC).astimezone(tz)
    if scores[local.hour] >= GOOD_ENOUGH * scores[best]:
        return None
    ahead = (best - local.hour) % HOURS
    start = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=ahead)
    # Re-localise across a DST change so the wall-clock hour is right.
    at = int(datetime(start.year, start.month, start.day, best, tzinfo=tz).timestamp() * 1000)
    return at if 0 < at - now <= max_wait_ms else None
