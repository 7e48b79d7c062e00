"""Plain-dict builders for each event family, shaped exactly like the Avro schemas."""

from __future__ import annotations

from typing import Any

Record = dict[str, Any]

# Which identifier a producer keys its messages by, when it knows several.
KEY_ORDER: tuple[str, ...] = ("customer_id", "email", "phone", "loyalty_id", "pos_id", "device_id")


def ref(*, customer_id: str | None = None, email: str | None = None, phone: str | None = None,
        device_id: str | None = None, loyalty_id: str | None = None,
        pos_id: str | None = None) -> Record:
    """A CustomerRef: the identifiers the producing system knows for the customer."""
    return {"customer_id": customer_id, "email": email, "phone": phone,
            "device_id": device_id, "loyalty_id": loyalty_id, "pos_id": pos_id}


def key_of(customer: Record) -> str:
    for name in KEY_ORDER:
        value = customer[name]
        if value:
            return str(value)
    raise ValueError("a customer reference needs at least one identifier")


def context(*, device: str, channel: str, country: str, timezone: str,
            session_id: str | None) -> Record:
    return {"device": device, "channel": channel, "country": country, "timezone": timezone,
            "session_id": session_id}


def click(event_id: str, time_ms: int, customer: Record, action: str, *, ctx: Record | None,
          item_id: str | None = None, category: str | None = None, price: float | None = None,
          quantity: int | None = None, query: str | None = None,
          url: str | None = None) -> Record:
    return {"event_id": event_id, "event_time": time_ms, "customer": customer, "action": action,
            "item_id": item_id, "category": category, "price": price, "quantity": quantity,
            "query": query, "url": url, "decision_id": None, "context": ctx}


def line(item_id: str, category: str, quantity: int, unit_price: float) -> Record:
    return {"item_id": item_id, "category": category, "quantity": quantity,
            "unit_price": unit_price}


def purchase(event_id: str, time_ms: int, customer: Record, kind: str, *, order_id: str,
             lines: list[Record], total: float, channel: str,
             discount_codes: list[str] | None = None,
             return_reason: str | None = None) -> Record:
    return {"event_id": event_id, "event_time": time_ms, "customer": customer, "kind": kind,
            "order_id": order_id, "lines": lines, "total": round(total, 2), "currency": "EUR",
            "channel": channel, "discount_codes": discount_codes or [],
            "return_reason": return_reason, "decision_id": None}


def support(event_id: str, time_ms: int, customer: Record, kind: str, *, conversation_id: str,
            channel: str, author: str, text: str | None = None, order_id: str | None = None,
            refund_requested: float | None = None) -> Record:
    return {"event_id": event_id, "event_time": time_ms, "customer": customer, "kind": kind,
            "conversation_id": conversation_id, "channel": channel, "author": author,
            "text": text, "order_id": order_id, "refund_requested": refund_requested}


def review(event_id: str, time_ms: int, customer: Record, *, review_id: str,
           item_id: str | None, rating: int, text: str | None, source: str) -> Record:
    return {"event_id": event_id, "event_time": time_ms, "customer": customer,
            "review_id": review_id, "item_id": item_id, "rating": rating, "text": text,
            "source": source}


def identity(event_id: str, time_ms: int, customer: Record, kind: str, *,
             consent_channel: str | None = None, timezone: str | None = None,
             country: str | None = None) -> Record:
    return {"event_id": event_id, "event_time": time_ms, "customer": customer, "kind": kind,
            "consent_channel": consent_channel, "timezone": timezone, "country": country}


def fulfilment(event_id: str, time_ms: int, customer: Record, kind: str, *, order_id: str,
               promised_delivery: int | None = None, expected_delivery: int | None = None,
               delay_reason: str | None = None, carrier: str | None = None,
               tracking_url: str | None = None) -> Record:
    return {"event_id": event_id, "event_time": time_ms, "customer": customer, "kind": kind,
            "order_id": order_id, "promised_delivery": promised_delivery,
            "expected_delivery": expected_delivery, "delay_reason": delay_reason,
            "carrier": carrier, "tracking_url": tracking_url}
