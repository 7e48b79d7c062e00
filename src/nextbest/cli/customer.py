"""``nextbest customer REF``: a customer's 360 view in the terminal.

Reads the worker's served view (``GET /customers/{ref}``, the same one the customer-360 page
shows) with the API token of ``NEXTBEST_API_TOKEN`` when one is set, and lays it out with the
page's own wording (``streams/customer360``): value and churn, profile facts, consent,
identifiers, category affinity, the support conversation, recent orders and the timeline of
events and decisions with their verdicts and reasons."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

import orjson
from pydantic import SecretStr
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from nextbest.cli.panels import pair, table, titled
from nextbest.identity.graph import IDENTIFIER_KINDS
from nextbest.streams.access import is_loopback
from nextbest.streams.customer360.chart import BARS
from nextbest.streams.customer360.layout import when
from nextbest.streams.customer360.page import consent_states, fact_rows, headline, value_rows
from nextbest.streams.customer360.timeline import Entry, timeline
from nextbest.streams.settings import WorkerSettings

VERDICT_STYLE = {"sent": "green", "suppressed": "red", "control": "blue", "deferred": "yellow"}
CONSENT_STYLE = {"granted": "green", "revoked": "red", "unset": "dim"}
BAR_CELLS = 24


class LookupFailed(Exception):
    """The worker did not give the view; the message says why and what to do."""


def worker_url(settings: WorkerSettings) -> str:
    """Where this machine reaches the worker its settings describe (a worker listening on every
    address is reached on the loopback address).

    >>> worker_url(WorkerSettings(web_host="0.0.0.0", web_port=6066))
    'http://127.0.0.1:6066'
    """
    host = settings.web_host if is_loopback(settings.web_host) else "127.0.0.1"
    return f"http://{host}:{settings.web_port}"


def fetch_view(url: str, ref: str, token: SecretStr | None, *, timeout: float = 10.0
               ) -> dict[str, Any]:
    """The worker's served view of the customer ``ref`` names."""
    headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
    request = urllib.request.Request(f"{url}/customers/{quote(ref, safe='')}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            view: dict[str, Any] = orjson.loads(response.read())
            return view
    except urllib.error.HTTPError as exc:
        raise LookupFailed(refusal(exc.code, ref, url, token is not None,
                                   exc.read().decode(errors="replace"))) from None
    except OSError as exc:
        raise LookupFailed(f"no worker answers at {url} ({exc}): start one (nextbest worker, "
                           "or the demo) or point --url at one") from None


def refusal(status: int, ref: str, url: str, token_sent: bool, body: str) -> str:
    """What a refusal of the worker means, in words.

    >>> refusal(401, "nb-1", "http://w", False, "")
    'the worker at http://w needs the API token: set NEXTBEST_API_TOKEN to it'
    """
    if status == 404:
        return (f"no customer known as {ref!r} at {url} (an identifier like email:... or the "
                "nb-... id; the view follows the events within a second)")
    if status == 401:
        if token_sent:
            return f"the worker at {url} refused the token in NEXTBEST_API_TOKEN"
        return f"the worker at {url} needs the API token: set NEXTBEST_API_TOKEN to it"
    try:
        said = str(orjson.loads(body).get("error") or body)
    except (orjson.JSONDecodeError, AttributeError):
        said = body
    return f"the worker at {url} answered {status}: {said.strip()[:300]}"


# --- the view ---------------------------------------------------------------------------------

def render_customer(view: dict[str, Any]) -> RenderableType:
    profile, scores = view["profile"], view.get("scores") or {}
    name = headline(profile) or view["customer_id"]
    title = Text.assemble((name, "bold"), (f"  nextbest id {view['customer_id']}, last seen "
                                           f"{when(profile.get('last_seen') or None)}", "dim"))
    return Group(
        title,
        pair(titled("Value and churn", value_and_churn(scores)),
             titled("Profile", facts(fact_rows(profile, scores)))),
        pair(titled("Consent per channel", consent(profile.get("consent") or {})),
             titled("Identifiers", identifiers(profile.get("identifiers") or {}))),
        pair(titled("Category affinity", affinity(profile.get("category_affinity") or {})),
             titled("Support conversation", conversation(profile.get("conversation")))),
        titled("Recent orders", orders(profile.get("recent_orders") or [])),
        titled("Timeline: events and decisions, newest first", timeline_view(timeline(view))),
    )


def facts(rows: list[tuple[str, Any]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    for label, value in rows:
        if value is not None:
            grid.add_row(label, str(value))
    return grid


def value_and_churn(scores: dict[str, Any]) -> RenderableType:
    tier, risk = scores.get("value_tier"), scores.get("churn_risk")
    if tier is None and risk is None:
        return Text("Not scored by the models yet.", style="dim")
    rows = [("value tier", tier)]
    if isinstance(risk, int | float):
        rows.append(("churn risk", f"{risk:.0%}"))
    return facts(rows + value_rows(scores))


def consent(recorded: dict[str, bool]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim")
    grid.add_column()
    for channel, label, kind in consent_states(recorded):
        grid.add_row(channel, Text(label, style=CONSENT_STYLE[kind]))
    return grid


def identifiers(known: dict[str, list[str]]) -> RenderableType:
    rows = [(kind.replace("_", " "), ", ".join(known[kind])) for kind in IDENTIFIER_KINDS
            if known.get(kind)]
    return facts(rows) if rows else Text("None.", style="dim")


def affinity(weights: dict[str, float]) -> RenderableType:
    """Bars, strongest category first, each relative to the strongest (as the page's chart)."""
    top = sorted(((c, w) for c, w in weights.items() if w > 0), key=lambda cw: -cw[1])[:BARS]
    if not top:
        return Text("No category interest seen yet.", style="dim")
    strongest = top[0][1]
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(style="blue", no_wrap=True)
    grid.add_column(justify="right")
    for category, weight in top:
        grid.add_row(category, "█" * max(1, round(BAR_CELLS * weight / strongest)),
                     f"{weight / strongest:.0%}")
    return grid


def conversation(current: dict[str, Any] | None) -> RenderableType:
    if not current:
        return Text("No support conversation.", style="dim")
    state = "resolved" if current.get("resolved") else "open"
    head = facts([("conversation", current.get("conversation_id")), ("state", state),
                  ("channel", current.get("channel")), ("opened", when(current.get("opened_at"))),
                  ("order", current.get("order_id"))])
    if current.get("resolved"):
        return Group(Text("No open conversation; the last one:", style="dim"), head)
    messages = [Text.assemble((f"{m.get('author')} ", "bold"), (when(m.get("time")), "dim"),
                              f"\n  {m.get('text') or ''}")
                for m in current.get("messages") or ()]
    return Group(head, *messages)


def orders(recent: list[dict[str, Any]]) -> RenderableType:
    if not recent:
        return Text("No orders yet.", style="dim")
    grid = table("when", "order", "total", "channel", "categories")
    grid.expand = False
    for order in reversed(recent):
        grid.add_row(when(order.get("time")), str(order.get("order_id")),
                     f"{order.get('total') or 0:.2f}", str(order.get("channel") or ""),
                     ", ".join(order.get("categories") or ()))
    return grid


def timeline_view(entries: list[Entry]) -> RenderableType:
    if not entries:
        return Text("No events or decisions kept yet.", style="dim")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    for entry in entries:
        grid.add_row(when(entry.time), timeline_entry(entry))
    return grid


def timeline_entry(entry: Entry) -> RenderableType:
    text = Text(entry.title, style="bold" if entry.kind == "decision" else "")
    verdict = entry.verdict
    if verdict is not None:
        text.append(f"  [{verdict.label}]", style=VERDICT_STYLE.get(verdict.status, ""))
    if entry.details:
        text.append("  " + " · ".join(entry.details), style="dim")
    lines = []
    if verdict is not None and verdict.text:
        lines.append(verdict.text)
    if entry.cause:
        lines.append(f"caused by: {entry.cause}")
    if entry.text:
        lines.append(f"“{entry.text}”")
    lines += [f"why: {reason}" for reason in entry.reasons]
    if entry.scores:
        lines.append(", ".join(f"{k.replace('_', ' ')} {v:.2f}" if isinstance(v, float)
                               else f"{k.replace('_', ' ')} {v}"
                               for k, v in entry.scores.items()))
    return Group(text, *(Padding(Text(line), (0, 0, 0, 2)) for line in lines))
