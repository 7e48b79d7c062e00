"""An order's real shipment status in words: for the bot's answer, an agent's draft and the
proactive apology (use case 2: the answer about John's package comes from where it is).

Dates are the customer's local calendar days.

>>> from nextbest.profile.state import Shipment
>>> DAY = 86_400_000
>>> late = Shipment("O-7", "delayed", 20_789 * DAY, promised_delivery=20_791 * DAY,
...                 expected_delivery=20_794 * DAY, delay_reason="weather", carrier="DHL",
...                 tracking_url="https://track.example/O-7")
>>> status_words(late, UTC)
'delayed by the weather: promised for Friday 4 December, now expected on Monday 7 December'
>>> status_answer(late, "order O-7 of 1 December 2026", UTC)  # doctest: +NORMALIZE_WHITESPACE
'I am sorry: order O-7 of 1 December 2026 is delayed by the weather: promised for Friday
 4 December, now expected on Monday 7 December. You can follow it with DHL:
 https://track.example/O-7.'
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from nextbest.profile.state import Shipment
from nextbest.settings import DAY_MS

__all__ = ["UTC", "day_words", "shipment_facts", "status_answer", "status_words"]

REASON_WORDS = {"weather": "by the weather", "carrier": "at the carrier",
                "warehouse": "at our warehouse", "stock": "by an item still on its way to us",
                "customs": "in customs"}
UNKNOWN_STATUS = "[status and expected delivery]"
"""What an agent's draft says where no shipment status is known: the agent fills it in."""


def day_words(moment: int, tz: tzinfo) -> str:
    """A calendar day as a customer reads it (their own time zone).

    >>> day_words(20_789 * DAY_MS, UTC)
    'Wednesday 2 December'
    """
    local = datetime.fromtimestamp(moment / 1000, UTC).astimezone(tz)
    return f"{local:%A} {local.day} {local:%B}"


def status_words(shipment: Shipment, tz: tzinfo) -> str:
    """Where the parcel is, as the rest of a sentence ("it is ...")."""
    if shipment.status == "delivered" and shipment.delivered_at is not None:
        return f"delivered on {day_words(shipment.delivered_at, tz)}"
    expected = shipment.expected_delivery
    if shipment.status == "delayed" and expected is not None:
        why = REASON_WORDS.get(shipment.delay_reason or "", "")
        promised = shipment.promised_delivery
        was = f"promised for {day_words(promised, tz)}, " if promised is not None else ""
        return f"delayed{' ' + why if why else ''}: {was}now expected on {day_words(expected, tz)}"
    shipped = f"shipped on {day_words(shipment.updated_at, tz)}"
    if shipment.carrier:
        shipped += f" with {shipment.carrier}"
    return shipped + (f", expected on {day_words(expected, tz)}" if expected is not None else "")


def status_answer(shipment: Shipment, your_order: str, tz: tzinfo) -> str:
    """The bot's tier-1 answer to "where is my order?" from the shipment's status."""
    words = status_words(shipment, tz)
    if shipment.status == "delivered":
        return (f"{_capital(your_order)} was {words}. If you cannot find it, reply here and a "
                "colleague will look into it with the carrier.")
    track = (f"You can follow it with {shipment.carrier or 'the carrier'}: "
             f"{shipment.tracking_url}." if shipment.tracking_url else
             "You can follow it with the tracking link in your shipping confirmation.")
    if shipment.status == "delayed":
        return f"I am sorry: {your_order} is {words}. {track}"
    return f"{_capital(your_order)} {words}. {track}"


def shipment_facts(shipment: Shipment) -> dict[str, Any]:
    """The shipment as a decision's payload carries it.

    >>> shipment_facts(Shipment("O-7", "delayed", 5, promised_delivery=DAY_MS,
    ...                         expected_delivery=3 * DAY_MS))["delay_days"]
    2.0
    """
    return {"status": shipment.status, "updated_at": shipment.updated_at,
            "promised_delivery": shipment.promised_delivery,
            "expected_delivery": shipment.expected_delivery,
            "delivered_at": shipment.delivered_at, "delay_days": round(
                shipment.delay_ms / DAY_MS, 1), "delay_reason": shipment.delay_reason,
            "carrier": shipment.carrier, "tracking_url": shipment.tracking_url}


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
