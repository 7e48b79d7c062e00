"""The customer-360 page: one customer's served view (``ProfileServing.customer``) as HTML.

Shows what the read model holds and nothing else: where a score or a list is not there yet,
the page says so."""

from __future__ import annotations

from typing import Any

from nextbest.identity.graph import IDENTIFIER_KINDS
from nextbest.settings import DAY_MS
from nextbest.streams.customer360.chart import affinity_chart
from nextbest.streams.customer360.layout import document, esc, when
from nextbest.streams.customer360.timeline import Entry, timeline

CHANNELS = ("email", "sms", "push")
"""The channels that reach a customer unasked, shown even without a consent record."""


def customer_page(view: dict[str, Any]) -> str:
    profile, scores = view["profile"], view.get("scores") or {}
    name = headline(profile) or view["customer_id"]
    cards = [
        card("Value and churn", value_and_churn(scores)),
        card("Profile", facts(profile, scores)),
        card("Consent per channel", consent(profile.get("consent") or {})),
        card("Category affinity", affinity_chart(profile.get("category_affinity") or {})
             or '<p class="note">No category interest seen yet.</p>'),
        card("Support conversation", conversation(profile.get("conversation"))),
        card("Identifiers", identifiers(profile.get("identifiers") or {})),
        card("Recent orders", orders(profile.get("recent_orders") or []), wide=True),
        card("Timeline: events and decisions", timeline_list(timeline(view)), wide=True),
    ]
    body = (f'<h1>{esc(name)}</h1><p class="sub">nextbest id {esc(view["customer_id"])} · '
            f'last seen {esc(when(profile.get("last_seen") or None))}</p>'
            f'<div class="grid">{"".join(cards)}</div>')
    return document(name, body)


def headline(profile: dict[str, Any]) -> str | None:
    """The customer's strongest identifier that a person recognises."""
    known = profile.get("identifiers") or {}
    for kind in ("email", "customer_id", "loyalty_id", "phone"):
        if known.get(kind):
            return str(known[kind][0])
    return None


def card(title: str, content: str, *, wide: bool = False) -> str:
    return (f'<section class="card{" wide" if wide else ""}"><h2>{esc(title)}</h2>'
            f'{content}</section>')


def rows(pairs: list[tuple[str, Any]]) -> str:
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs
                            if v is not None) + "</dl>"


def value_and_churn(scores: dict[str, Any]) -> str:
    tier, risk = scores.get("value_tier"), scores.get("churn_risk")
    if tier is None and risk is None:
        return '<p class="note">Not scored by the models yet.</p>'
    tier_html = (f'<span class="tier tier-{esc(tier)}">{esc(tier)}</span> value tier'
                 if tier else "")
    risk_html = (f'<p><span class="risk">{risk:.0%}</span> churn risk</p>'
                 if isinstance(risk, int | float) else "")
    return f"<p>{tier_html}</p>{risk_html}" + rows(value_rows(scores))


def value_rows(scores: dict[str, Any]) -> list[tuple[str, Any]]:
    """What the models expect of the customer, as (label, value) pairs."""
    horizon = scores.get("value_horizon_days")
    expected = scores.get("expected_value")
    return [
        ("expected next order", when(scores["next_order_at"])
         if scores.get("next_order_at") else "none expected"),
        (f"expected value ({horizon:g} days)" if horizon else "expected value",
         f"{expected:.2f}" if isinstance(expected, int | float) else None),
        ("expected orders", scores.get("expected_orders")),
    ]


def facts(profile: dict[str, Any], scores: dict[str, Any]) -> str:
    return rows(fact_rows(profile, scores))


def fact_rows(profile: dict[str, Any], scores: dict[str, Any]) -> list[tuple[str, Any]]:
    """The profile's facts as (label, value) pairs; a value of None is not shown."""
    orders_count = profile.get("orders") or 0
    gap = scores.get("usual_gap_days")
    tenure = ((profile.get("last_seen") or 0) - (profile.get("first_seen") or 0)) / DAY_MS
    sentiment = profile.get("sentiment")
    return [
        ("first seen", when(profile.get("first_seen") or None)),
        ("tenure", f"{tenure:.0f} days"),
        ("country", profile.get("country")),
        ("time zone", profile.get("timezone")),
        ("orders", orders_count),
        ("revenue", f"{profile.get('revenue') or 0:.2f}"),
        ("average order", scores.get("average_order_value")),
        ("days since last order", scores.get("recency_days")),
        ("usual gap", f"{gap} days" if gap else None),
        ("returns", f"{profile.get('returns') or 0} ({profile.get('defective_returns') or 0} "
                    "defective)"),
        ("refunded", f"{profile.get('refunded') or 0:.2f}"),
        ("reviews", profile.get("reviews") or 0),
        ("last rating", profile.get("last_review_rating")),
        ("support contacts", len(profile.get("support_contacts") or ())),
        ("sentiment", f"{sentiment:+.2f}" if isinstance(sentiment, int | float) else None),
        ("email click rate", scores.get("email_click_rate")),
        ("last complaint", when(profile["last_complaint_at"])
         if profile.get("last_complaint_at") else None),
    ]


def consent(recorded: dict[str, bool]) -> str:
    """Each channel: granted, revoked, or no record (messages allowed: only a revocation stops
    them)."""
    items = [f'<dt>{esc(channel)}</dt><dd class="{css}" data-channel="{esc(channel)}">'
             f'{label}</dd>' for channel, label, css in consent_states(recorded)]
    return "<dl>" + "".join(items) + "</dl>"


def consent_states(recorded: dict[str, bool]) -> list[tuple[str, str, str]]:
    """(channel, what was recorded in words, its kind: granted, revoked or unset).

    >>> consent_states({"sms": False})[1]
    ('sms', 'revoked', 'revoked')
    """
    states = []
    for channel in [*CHANNELS, *sorted(c for c in recorded if c not in CHANNELS)]:
        state = recorded.get(channel)
        if state is True:
            states.append((channel, "granted", "granted"))
        elif state is False:
            states.append((channel, "revoked", "revoked"))
        else:
            states.append((channel, "no record (allowed)", "unset"))
    return states


def conversation(current: dict[str, Any] | None) -> str:
    if not current:
        return '<p class="note">No support conversation.</p>'
    state = "resolved" if current.get("resolved") else "open"
    head = rows([("conversation", current.get("conversation_id")), ("state", state),
                 ("channel", current.get("channel")), ("opened", when(current.get("opened_at"))),
                 ("order", current.get("order_id"))])
    if current.get("resolved"):
        return '<p class="note">No open conversation; the last one:</p>' + head
    messages = "".join(
        f'<div class="msg"><span class="who">{esc(m.get("author"))}</span> '
        f'<span class="when">{esc(when(m.get("time")))}</span>'
        f'<blockquote>{esc(m.get("text"))}</blockquote></div>'
        for m in current.get("messages") or ())
    return head + messages


def identifiers(known: dict[str, list[str]]) -> str:
    kinds = [k for k in IDENTIFIER_KINDS if known.get(k)]
    if not kinds:
        return '<p class="note">None.</p>'
    return rows([(kind.replace("_", " "), ", ".join(known[kind])) for kind in kinds])


def orders(recent: list[dict[str, Any]]) -> str:
    if not recent:
        return '<p class="note">No orders yet.</p>'
    lines = "".join(
        f"<tr><td>{esc(when(o.get('time')))}</td><td>{esc(o.get('order_id'))}</td>"
        f"<td>{o.get('total') or 0:.2f}</td><td>{esc(o.get('channel'))}</td>"
        f"<td>{esc(', '.join(o.get('categories') or ()))}</td></tr>"
        for o in reversed(recent))
    return ('<div class="scroll"><table><thead><tr><th>when</th><th>order</th><th>total</th>'
            f'<th>channel</th><th>categories</th></tr></thead><tbody>{lines}</tbody></table>'
            '</div>')


def timeline_list(entries: list[Entry]) -> str:
    if not entries:
        return '<p class="note">No events or decisions kept yet.</p>'
    return '<ol class="timeline">' + "".join(map(timeline_item, entries)) + "</ol>"


def timeline_item(entry: Entry) -> str:
    parts = [f'<span class="when">{esc(when(entry.time))}</span><span class="what">'
             f'{esc(entry.title)}</span>']
    verdict = entry.verdict
    if verdict is not None:
        parts.append(f'<span class="verdict v-{esc(verdict.status)}">{esc(verdict.label)}'
                     '</span>')
    if entry.details:
        parts.append(f'<div class="details">{esc(" · ".join(entry.details))}</div>')
    if verdict is not None and verdict.text:
        parts.append(f'<div class="details">{esc(verdict.text)}</div>')
    if entry.cause:
        parts.append(f'<div class="details">caused by: {esc(entry.cause)}</div>')
    if entry.text:
        parts.append(f"<blockquote>{esc(entry.text)}</blockquote>")
    if entry.reasons:
        parts.append('<div class="details">Why this:</div><ul class="why">'
                     + "".join(f"<li>{esc(r)}</li>" for r in entry.reasons) + "</ul>")
    if entry.scores:
        parts.append('<div class="scores">' + esc(", ".join(
            f"{k.replace('_', ' ')} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in entry.scores.items())) + "</div>")
    marks = (f' data-decision="{esc(entry.decision_id)}" data-status="{esc(verdict.status)}"'
             if entry.decision_id and verdict else "")
    return f'<li class="{esc(entry.kind)}"{marks}>{"".join(parts)}</li>'
