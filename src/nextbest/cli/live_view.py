"""The demo's view: what the worker and the decision topics show, as a live terminal dashboard
(rich, redrawn in place) or as plain lines when the output is not a terminal.

Every number comes from a source named here: the publisher's own counts (messages sent), the
worker's ``/metrics`` (events in, decisions, verdicts, dead letters) and ``/models`` (model
quality), and the decision topics (latency from sending an event to reading its decision, the
example decision). Rates are the change between two readings of the worker's counters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from nextbest.cli.panels import listing, pair, table, titled
from nextbest.cli.watch import percentile
from nextbest.cli.worker_reading import WorkerReading
from nextbest.streams.settings import WorkerSettings

EVENTS = "nextbest_events_in_total"
DECISIONS = "nextbest_decisions_total"
VERDICTS = "nextbest_decision_verdicts_total"
DEADLETTERS = "nextbest_deadletters_total"
QUALITY = {"recommender": "hit rate@10", "sentiment": "accuracy", "churn": "accuracy"}
"""What each model's prequential quality measures (``ModelSuite.stats``)."""
LEARNT = {"recommender": ("recommender", "item interactions"),
          "sentiment": ("sentiment", "rated reviews"), "churn": ("churn_labels", "churn labels")}


@dataclass(frozen=True)
class DemoState:
    """What one refresh shows, as read."""

    elapsed: float
    """Seconds since the traffic started."""
    sent: int
    malformed: int
    send_rate: float
    worker_url: str
    reading: WorkerReading | None
    """The worker's latest metrics and models (None: it did not answer)."""
    earlier: WorkerReading | None
    """A reading a few seconds before, for rates."""
    latencies_ms: Sequence[float]
    """Event -> decision latencies of the most recent decisions matched to their event."""
    matched: int
    """Decisions matched to their causing event so far (the latencies are the last of them)."""
    example: dict[str, Any] | None
    """The latest decision read from the decision topics."""
    token_set: bool = False
    """The worker needs the API token for customer data."""


@dataclass(frozen=True)
class Figures:
    """The numbers shown, derived from a :class:`DemoState`."""

    events: float | None
    event_rate: float | None
    decision_rate: float | None
    decisions: list[tuple[str, float, float | None]]
    """(decision type, total, per second)."""
    verdicts: list[tuple[str, float]]
    deadletters: list[tuple[str, float]]
    """(reason, count), most first."""
    latency: tuple[float | None, float | None, float | None]
    models: list[tuple[str, str, float | None, int | None, int | None, float | None]]
    """(model, what quality means, quality, learnt, drift alarms, cost in us per event)."""
    models_events: int | None


def rate(state: DemoState, name: str, labels: tuple[str, ...] = (),
         key: tuple[str, ...] = ()) -> float | None:
    """Per second between the earlier and the latest reading (None without two readings, or
    after a counter reset)."""
    now, before = state.reading, state.earlier
    if now is None or before is None or now.at <= before.at:
        return None
    if labels:
        change = now.metrics.by(name, *labels).get(key, 0.0) - before.metrics.by(
            name, *labels).get(key, 0.0)
    else:
        change = now.metrics.total(name) - before.metrics.total(name)
    return change / (now.at - before.at) if change >= 0 else None


def verdict_label(status: str, rule: str) -> str:
    """A verdict in words, as the customer-360 page says it.

    >>> verdict_label("suppressed", "frequency_cap"), verdict_label("control", "")
    ('suppressed by frequency_cap', 'held out')
    """
    if status == "control":
        return "held out"
    if status in ("suppressed", "deferred") and rule:
        return f"{status} by {rule}"
    return status


def figures(state: DemoState) -> Figures:
    reading = state.reading
    lat = list(state.latencies_ms)
    latency = (percentile(lat, 0.5), percentile(lat, 0.95), percentile(lat, 0.99))
    if reading is None:
        return Figures(None, None, None, [], [], [], latency, [], None)
    metrics = reading.metrics
    decisions = sorted(
        ((key[0], total, rate(state, DECISIONS, ("decision_type",), key))
         for key, total in metrics.by(DECISIONS, "decision_type").items()),
        key=lambda row: -row[1])
    verdicts: dict[str, float] = {}
    for (status, rule), n in metrics.by(VERDICTS, "status", "rule").items():
        label = verdict_label(status, rule)
        verdicts[label] = verdicts.get(label, 0.0) + n
    by_reason = metrics.by(DEADLETTERS, "reason")
    deadletters = sorted(((reason, n) for (reason,), n in by_reason.items()),
                         key=lambda row: -row[1])
    return Figures(
        events=metrics.total(EVENTS), event_rate=rate(state, EVENTS),
        decision_rate=rate(state, DECISIONS), decisions=decisions,
        verdicts=sorted(verdicts.items(), key=lambda row: -row[1]),
        deadletters=deadletters, latency=latency, models=model_rows(reading.models),
        models_events=(reading.models or {}).get("events"))


def model_rows(stats: dict[str, Any] | None
               ) -> list[tuple[str, str, float | None, int | None, int | None, float | None]]:
    if not stats:
        return []
    rows = []
    for model, meaning in QUALITY.items():
        learnt_key, _ = LEARNT[model]
        rows.append((model, meaning, stats.get("quality", {}).get(model),
                     stats.get("learnt", {}).get(learnt_key),
                     stats.get("drift_alarms", {}).get(model), stats.get("cost_us", {}).get(model)))
    return rows


def page_url(worker_url: str, customer_id: str, *, token_set: bool) -> str:
    """The customer's 360 page; with a token, signed in by ``?token=`` - named by its variable,
    never printed.

    >>> page_url("http://127.0.0.1:6066", "nb-1", token_set=True)
    'http://127.0.0.1:6066/360/nb-1?token=$NEXTBEST_API_TOKEN'
    """
    url = f"{worker_url}/360/{quote(customer_id, safe='')}"
    return url + "?token=$NEXTBEST_API_TOKEN" if token_set else url


def customer_command(worker_url: str, customer_id: str) -> str:
    """The customer's view in the terminal (``nextbest customer``).

    >>> customer_command("http://127.0.0.1:6066", "nb-1")
    'nextbest customer nb-1'
    >>> customer_command("http://127.0.0.1:7000", "nb-1")
    'nextbest customer nb-1 --url http://127.0.0.1:7000'
    """
    default = WorkerSettings.model_fields
    if worker_url == f"http://{default['web_host'].default}:{default['web_port'].default}":
        return f"nextbest customer {customer_id}"
    return f"nextbest customer {customer_id} --url {worker_url}"


# --- formatting --------------------------------------------------------------------------------

def per_second(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}/s"


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


def count(value: float | int | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def quality(value: float | None) -> str:
    return "not yet" if value is None else f"{value:.2f}"


def reasons_of(example: dict[str, Any]) -> list[str]:
    return [f"{r.get('code')}: {r.get('text')}" for r in example.get("reasons") or ()]


def example_headline(example: dict[str, Any]) -> str:
    arm = example.get("experiment_arm")
    return (f"{example['decision_type']} for {example['customer_id']}: {example.get('action')} "
            f"via {example.get('channel')}" + (f" ({arm} arm)" if arm else ""))


# --- the live view ------------------------------------------------------------------------------

def render(state: DemoState) -> RenderableType:
    """The dashboard: one frame, redrawn in place by ``rich.live.Live``."""
    fig = figures(state)
    status = ("worker not answering" if state.reading is None else
              f"worker {state.worker_url}")
    header = Text.assemble(("nextbest demo", "bold"), f"  {state.elapsed:,.0f} s  ",
                           (status, "dim"), "  Ctrl-C to stop")
    return Group(header, pair(traffic_panel(state, fig), latency_panel(state, fig)),
                 pair(decisions_panel(fig), verdicts_panel(fig)),
                 pair(deadletters_panel(fig), models_panel(fig), ratios=(2, 3)),
                 example_panel(state))


def traffic_panel(state: DemoState, fig: Figures) -> Panel:
    grid = table("", "total", "rate")
    grid.add_row("messages sent", count(state.sent), per_second(state.send_rate))
    grid.add_row("  of them malformed", count(state.malformed), "")
    grid.add_row("events in (valid)", count(fig.events), per_second(fig.event_rate))
    sent = sum(row[1] for row in fig.decisions) if state.reading is not None else None
    grid.add_row("decisions sent", count(sent), per_second(fig.decision_rate))
    return titled("Traffic", grid)


def latency_panel(state: DemoState, fig: Figures) -> Panel:
    p50, p95, p99 = fig.latency
    grid = table("", "")
    grid.add_row("p50", ms(p50))
    grid.add_row("p95", ms(p95))
    grid.add_row("p99", ms(p99))
    note = (f"{state.matched:,} decisions matched to their event, sent -> read on the "
            f"decision topic (percentiles of the last {len(state.latencies_ms):,})")
    return titled("Latency event -> decision", Group(grid, Text(note, style="dim")))


def decisions_panel(fig: Figures) -> Panel:
    return listing("Decisions by type", ("type", "sent", "rate"), [
        (decision_type, count(total), per_second(per_s))
        for decision_type, total, per_s in fig.decisions], "none yet")


def verdicts_panel(fig: Figures) -> Panel:
    return listing("Verdicts", ("verdict", "count"), [
        (label, count(total)) for label, total in fig.verdicts], "none yet")


def deadletters_panel(fig: Figures) -> Panel:
    return listing("Dead letters by reason", ("reason", "count"), [
        (reason, count(total)) for reason, total in fig.deadletters], "none")


def models_panel(fig: Figures) -> Panel:
    if not fig.models:
        return titled("Models", Text("/models not answering", style="dim"))
    grid = table("model", "quality", "learnt", "drift", "us/event")
    for model, meaning, value, learnt, drift, cost in fig.models:
        grid.add_row(model, f"{meaning}: {quality(value)}", count(learnt), count(drift),
                     count(cost))
    title = f"Models: {count(fig.models_events)} events learnt, prequential quality"
    return titled(title, grid)


def example_panel(state: DemoState) -> Panel:
    example = state.example
    if example is None:
        return titled("Example decision", Text("no decision read yet", style="dim"))
    lines = [Text(example_headline(example), style="bold")]
    lines += [Text(f"  why: {reason}") for reason in reasons_of(example)]
    url = page_url(state.worker_url, example["customer_id"], token_set=state.token_set)
    lines.append(Text.assemble("  customer 360: ", (url, "underline")))
    lines.append(Text("  in the terminal: " + customer_command(state.worker_url,
                                                                  example["customer_id"])))
    return titled("Example decision", Group(*lines))


# --- plain lines ---------------------------------------------------------------------------------

def plain_lines(state: DemoState) -> list[str]:
    """The same as :func:`render`, as lines for a log or a pipe."""
    fig = figures(state)
    p50, p95, p99 = fig.latency
    lines = [
        f"--- {state.elapsed:,.0f} s: {state.sent} messages sent ({state.send_rate:.0f}/s), "
        f"{state.malformed} malformed; events in {count(fig.events)} "
        f"({per_second(fig.event_rate)}), decisions {per_second(fig.decision_rate)}"
        + ("" if state.reading is not None else "; worker not answering"),
        "    decisions: " + (", ".join(f"{t} {count(n)}" for t, n, _ in fig.decisions)
                             or "none yet"),
        "    verdicts: " + (", ".join(f"{label} {count(n)}" for label, n in fig.verdicts)
                            or "none yet"),
        "    dead letters: " + (", ".join(f"{r} {count(n)}" for r, n in fig.deadletters)
                                or "none"),
        f"    event->decision latency (last {len(state.latencies_ms)} of {state.matched} "
        f"matched): p50 {ms(p50)}, p95 {ms(p95)}, p99 {ms(p99)}",
    ]
    if fig.models:
        lines.append("    models: " + ", ".join(
            f"{model} {meaning}: {quality(value)} ({count(learnt)} learnt)"
            for model, meaning, value, learnt, _, _ in fig.models))
    example = state.example
    if example is not None:
        lines.append(f"    e.g. {example_headline(example)}")
        lines += [f"      why: {reason}" for reason in reasons_of(example)]
        lines.append("    customer 360: " + page_url(state.worker_url, example["customer_id"],
                                                       token_set=state.token_set))
        lines.append("    in the terminal: " + customer_command(state.worker_url,
                                                                 example["customer_id"]))
    return lines
