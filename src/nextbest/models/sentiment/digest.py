"""Weekly digest of the top sentiment themes in reviews and support messages, on event time.

Every scored text is counted in its ISO week (UTC, Monday 00:00 to the next Monday) as
negative (``negative >= NEGATIVE_AT``), positive (``negative <= POSITIVE_AT``) or neutral,
under each of its themes: its topics (:func:`~.topics.tag_topics`), or ``"general"`` when it
has none. A week keeps counts per (polarity, theme) and, per theme, the ``max_examples`` most
extreme texts as short snippets with e-mail addresses and phone-like numbers scrubbed.

A week is due once it has ended and has not been published; a published week is forgotten
``retain_weeks`` after its end, and later texts for it are dropped so it never comes due
again. At most ``max_weeks`` weeks (oldest dropped first) and ``max_themes`` themes per week
are kept, so memory stays bounded whatever the traffic.

>>> digest = SentimentDigest()
>>> monday = 1_763_337_600_000          # 2025-11-17 00:00 UTC
>>> digest.add(monday, "The parcel never arrived.", 0.95, ("shipping",), "support")
>>> digest.add(monday + 1, "Lovely, thanks!", 0.05, (), "review")
>>> report = digest.digest("2025-W47")
>>> report["texts"], [t["theme"] for t in report["negative"]], report["positive"][0]["theme"]
(2, ['shipping'], 'general')
>>> digest.due(monday + 7 * DAY_MS)
['2025-W47']
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

NEGATIVE_AT = 0.6
"""A text with P(negative) at or above this is negative."""
POSITIVE_AT = 0.4
"""A text with P(negative) at or below this is positive (between the two: neutral)."""
GENERAL = "general"
"""Theme of a text without topics."""
OTHER = "other"
"""Theme that collects topics beyond a week's ``max_themes``."""
SOURCES: tuple[str, ...] = ("review", "support")
SNIPPET_CHARS = 160
TOP_THEMES = 3
EXAMPLES_SHOWN = 2

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
_EPOCH = date(1970, 1, 1)
_WEEK = re.compile(r"(\d{4})-W(\d{2})")

_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"
)
# 7+ digits joined by up to three spaces, dashes, dots or parentheses, optionally after "+";
# not glued to a word, "#" or "/" (so "ORD-1234567", "#12345678" and "A1234567" stay).
_PHONE = re.compile(r"(?<![\w#/.+-])\+?\(?\d(?:[\s().-]{0,3}\d){6,}(?![\w])")
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}")
_SPACE = re.compile(r"\s+")


def week_start(time_ms: int) -> int:
    """Start (Monday 00:00 UTC) of the ISO week holding ``time_ms``, in ms.

    >>> week_start(1_763_942_399_999) == 1_763_337_600_000   # Sunday 23:59:59.999 -> Monday
    True
    """
    days = time_ms // DAY_MS
    return (days - (days + 3) % 7) * DAY_MS  # 1970-01-01 was a Thursday


def week_label(start_ms: int) -> str:
    """ISO label of the week starting at ``start_ms``.

    >>> week_label(1_763_337_600_000)
    '2025-W47'
    """
    year, week, _ = (_EPOCH + timedelta(days=start_ms // DAY_MS)).isocalendar()
    return f"{year}-W{week:02d}"


def week_of(time_ms: int) -> str:
    """ISO week (UTC) of an event time, like ``"2026-W47"``.

    >>> week_of(1_763_942_399_999), week_of(1_763_942_400_000)   # Sunday 23:59, Monday 00:00
    ('2025-W47', '2025-W48')
    """
    return week_label(week_start(time_ms))


def week_bounds(week: str) -> tuple[int, int]:
    """``(start_ms, end_ms)`` of an ISO week label; the end is exclusive.

    >>> week_bounds("2025-W47")
    (1763337600000, 1763942400000)
    """
    m = _WEEK.fullmatch(week)
    if m is None:
        raise ValueError(f"not an ISO week like '2026-W47': {week!r}")
    monday = date.fromisocalendar(int(m[1]), int(m[2]), 1)
    start = (monday - _EPOCH).days * DAY_MS
    return start, start + WEEK_MS


def _phone(m: re.Match[str]) -> str:
    found = m.group()
    return found if _DATE.fullmatch(found) else "[phone]"


def scrub(text: str) -> str:
    """Replace e-mail addresses and phone-like numbers; order and customer ids stay.

    >>> scrub("Mail jo.doe@example.com or call +44 20 7946 0958 about ORD-1234567.")
    'Mail [email] or call [phone] about ORD-1234567.'
    """
    if "@" in text:
        text = _EMAIL.sub("[email]", text)
    return _PHONE.sub(_phone, text)


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """Whitespace collapsed, PII scrubbed, cut at a word to at most ``limit`` characters.

    >>> snippet("word " * 50, 20)
    'word word word word…'
    """
    text = scrub(_SPACE.sub(" ", text).strip())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if text[limit - 1] != " " and space >= limit // 2:
        cut = cut[:space]  # do not end in the middle of a word
    return cut.rstrip(" ,;:.-") + "…"


# example: (extremity, -seq, P(negative), source, snippet, customer); heap minimum = least
# extreme; the customer (a canonical id) so that an erasure can take their words out
_Example = tuple[float, int, float, str, str, str]


@dataclass(slots=True)
class _Week:
    start_ms: int
    texts: int = 0
    polarity: dict[str, int] = field(
        default_factory=lambda: {"negative": 0, "positive": 0, "neutral": 0})
    sources: dict[str, int] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {"negative": {}, "positive": {}})
    examples: dict[str, dict[str, list[_Example]]] = field(
        default_factory=lambda: {"negative": {}, "positive": {}})
    published: bool = False


class SentimentDigest:
    """Per-ISO-week counts of negative and positive themes with their most extreme examples."""

    def __init__(
        self,
        max_examples: int = 3,
        retain_weeks: int = 8,
        max_weeks: int = 26,
        max_themes: int = 32,
    ) -> None:
        if max_examples < EXAMPLES_SHOWN or max_weeks < 1 or max_themes < 2:
            raise ValueError("need max_examples >= 2, max_weeks >= 1, max_themes >= 2")
        self.max_examples = max_examples
        self.retain_ms = retain_weeks * WEEK_MS
        self.max_weeks = max_weeks
        self.max_themes = max_themes
        # texts for forgotten weeks, or older than every kept week when ``max_weeks`` are held
        self.dropped_texts = 0
        # weeks evicted by ``max_weeks``, published or not
        self.dropped_weeks = 0
        self._weeks: dict[str, _Week] = {}
        self._forgotten_before_ms: int | None = None

    week_of = staticmethod(week_of)

    @property
    def weeks(self) -> tuple[str, ...]:
        """Weeks held, oldest first."""
        return tuple(sorted(self._weeks, key=lambda k: self._weeks[k].start_ms))

    def add(
        self, time_ms: int, text: str, negative: float, topics: tuple[str, ...], source: str,
        customer: str = "",
    ) -> None:
        """Count one scored text (``negative`` is P(negative)) in its week under its themes."""
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
        start = week_start(time_ms)
        key = week_label(start)
        week = self._weeks.get(key)
        if week is None:
            week = self._new_week(key, start, time_ms)
            if week is None:
                self.dropped_texts += 1
                return
        week.texts += 1
        week.sources[source] = week.sources.get(source, 0) + 1
        if negative >= NEGATIVE_AT:
            polarity, extremity = "negative", negative
        elif negative <= POSITIVE_AT:
            polarity, extremity = "positive", 1.0 - negative
        else:
            week.polarity["neutral"] += 1
            return
        week.polarity[polarity] += 1
        counts = week.counts[polarity]
        examples = week.examples[polarity]
        for topic in dict.fromkeys(topics or (GENERAL,)):
            theme = topic if topic in counts or len(counts) < self.max_themes - 1 else OTHER
            counts[theme] = counts.get(theme, 0) + 1
            heap = examples.setdefault(theme, [])
            full = len(heap) >= self.max_examples
            if full and extremity <= heap[0][0]:
                continue
            short = snippet(text)
            if not short or any(e[4] == short for e in heap):
                continue
            item = (extremity, -week.texts, negative, source, short, customer)
            if full:
                heapq.heapreplace(heap, item)
            else:
                heapq.heappush(heap, item)

    def _new_week(self, key: str, start: int, time_ms: int) -> _Week | None:
        self._forget(time_ms)
        horizon = self._forgotten_before_ms
        if horizon is not None and start < horizon:
            return None
        if len(self._weeks) >= self.max_weeks:
            oldest = min(self._weeks, key=lambda k: self._weeks[k].start_ms)
            if start < self._weeks[oldest].start_ms:
                return None
            self._drop(oldest)
            self.dropped_weeks += 1
        week = self._weeks[key] = _Week(start)
        return week

    def _drop(self, key: str) -> None:
        end = self._weeks.pop(key).start_ms + WEEK_MS
        if self._forgotten_before_ms is None or end > self._forgotten_before_ms:
            self._forgotten_before_ms = end

    def _forget(self, now_ms: int) -> None:
        for key in [k for k, w in self._weeks.items()
                    if w.published and w.start_ms + WEEK_MS + self.retain_ms <= now_ms]:
            self._drop(key)

    def forget(self, customers: set[str]) -> int:
        """Take the examples these customers wrote out of every week held (erasure); the
        counts stay (they name no one). Returns how many examples went."""
        removed = 0
        for week in self._weeks.values():
            for by_theme in week.examples.values():
                for theme, heap in by_theme.items():
                    kept = [e for e in heap if len(e) < 6 or e[5] not in customers]
                    if len(kept) != len(heap):
                        removed += len(heap) - len(kept)
                        heapq.heapify(kept)
                        by_theme[theme] = kept
        return removed

    def due(self, now_ms: int) -> list[str]:
        """Weeks that ended at or before ``now_ms`` and are not yet published, oldest first.

        Also forgets published weeks past their retention.
        """
        self._forget(now_ms)
        return [k for k in self.weeks
                if not self._weeks[k].published and self._weeks[k].start_ms + WEEK_MS <= now_ms]

    def mark_published(self, week: str) -> None:
        """Record that ``week``'s digest went out (a week not held is ignored)."""
        held = self._weeks.get(week)
        if held is not None:
            held.published = True

    def digest(self, week: str) -> dict[str, Any]:
        """The week's top negative and positive themes as a JSON-able dict.

        ``share`` is the theme's count over all the week's texts (a text with two topics
        counts under both); examples are the most extreme texts, most extreme first.
        """
        start, end = week_bounds(week)
        held = self._weeks.get(week) or _Week(start)
        report: dict[str, Any] = {
            "week": week,
            "start_ms": start,
            "end_ms": end,
            "texts": held.texts,
            "negative_texts": held.polarity["negative"],
            "positive_texts": held.polarity["positive"],
            "neutral_texts": held.polarity["neutral"],
            "sources": dict(sorted(held.sources.items())),
            "published": held.published,
        }
        for polarity in ("negative", "positive"):
            counts = held.counts[polarity]
            top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_THEMES]
            report[polarity] = [
                {
                    "theme": theme,
                    "count": count,
                    "share": round(count / held.texts, 4),
                    "examples": [
                        {"text": e[4], "source": e[3], "negative": round(e[2], 3)}
                        for e in sorted(held.examples[polarity].get(theme, ()),
                                        reverse=True)[:EXAMPLES_SHOWN]
                    ],
                }
                for theme, count in top
            ]
        return report


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def render(digest: dict[str, Any]) -> str:
    """A digest from :meth:`SentimentDigest.digest` as plain text for a terminal.

    >>> print(render(SentimentDigest().digest("2025-W47")))
    Sentiment digest 2025-W47 (2025-11-17 to 2025-11-23 UTC)
    No texts this week.
    """
    lines = [
        f"Sentiment digest {digest['week']} "
        f"({_day(digest['start_ms'])} to {_day(digest['end_ms'] - DAY_MS)} UTC)"
    ]
    if not digest["texts"]:
        lines.append("No texts this week.")
        return "\n".join(lines)
    sources = ", ".join(f"{n:,} {s}" for s, n in digest["sources"].items())
    lines.append(
        f"{digest['texts']:,} texts ({sources}): {digest['negative_texts']:,} negative, "
        f"{digest['positive_texts']:,} positive, {digest['neutral_texts']:,} neutral"
    )
    for polarity in ("negative", "positive"):
        lines += ["", f"Top {polarity} themes"]
        if not digest[polarity]:
            lines.append("  none")
        for rank, theme in enumerate(digest[polarity], 1):
            lines.append(
                f"  {rank}. {theme['theme']:<16} {theme['count']:>7,}  ({theme['share']:.1%})"
            )
            for example in theme["examples"]:
                lines.append(
                    f"       \"{example['text']}\" ({example['source']}, "
                    f"P(negative) {example['negative']:.2f})"
                )
    return "\n".join(lines)
