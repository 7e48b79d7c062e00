"""PromQL as the monitoring tests evaluate it: Grafana's variables filled in, and an alert's
expression cut into the queries that must each return series when the alert is healthy.

An alert's ``expr`` usually returns nothing while all is well (``X > 0.2`` is empty below the
threshold), so evaluating it proves little. :func:`checked_queries` keeps what it tests instead:

- it splits the expression at the set operators outside any brackets (``and``, ``or``,
  ``unless``, with their ``on (...)`` / ``ignoring (...)``),
- then each piece at a comparison outside brackets (``==``, ``!=``, ``>=``, ``<=``, ``>``, ``<``,
  with ``bool`` and matching modifiers), dropping the sides that are plain numbers (thresholds),
- a piece in parentheses is opened and cut again, ``vector(0)`` (a default) is dropped,
- and ``absent(X)`` (empty while X exists) becomes ``X``.

>>> checked_queries('histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > 0.2')
['histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))']
>>> checked_queries('(sum(increase(d[30m])) or vector(0)) == 0 and on () sum(rate(e[30m])) > 0')
['sum(increase(d[30m]))', 'sum(rate(e[30m]))']
>>> checked_queries('absent(up{job="nextbest"})')
['up{job="nextbest"}']
>>> checked_queries('up{job!="a>b"} != bool 0')
['up{job!="a>b"}']
>>> grafana_query('sum(rate(x{instance=~"$instance"}[$__rate_interval]))', window="90s",
...               variables={"instance": "(a|b)"})
'sum(rate(x{instance=~"(a|b)"}[90s]))'
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

SET_OPERATORS = ("and", "or", "unless")
COMPARISONS = ("==", "!=", ">=", "<=", ">", "<")
_MODIFIERS = re.compile(r"^\s*(?:bool\b\s*)?(?:(?:on|ignoring)\s*\([^)]*\)\s*)?"
                        r"(?:(?:group_left|group_right)\s*(?:\([^)]*\))?\s*)?")
_CONSTANT = re.compile(r"^(?:vector\s*\(\s*)?[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?"
                       r"(?:\s*\))?$", re.IGNORECASE)
_ABSENT = re.compile(r"^absent\s*\((?P<inner>.*)\)$", re.DOTALL)
_OPENING, _CLOSING = "([{", ")]}"
_WORD = re.compile(r"[A-Za-z0-9_:]")
_BUILTIN_INTERVALS = re.compile(r"\$__(?:rate_interval|interval|range)\b")
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


def _top_level(expr: str) -> Iterator[int]:
    """Positions of the characters outside brackets and string literals."""
    depth, quote, escaped = 0, "", False
    for i, ch in enumerate(expr):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
            continue
        if ch in "\"'`":
            quote = ch
        elif ch in _OPENING:
            depth += 1
        elif ch in _CLOSING:
            depth -= 1
        elif depth == 0:
            yield i


def _split(expr: str, at: list[tuple[int, int]]) -> list[str]:
    """``expr`` cut at the (start, end) spans, each following piece without its modifiers."""
    pieces, start = [], 0
    for begin, end in at:
        pieces.append(expr[start:begin])
        start = end
    pieces.append(expr[start:])
    return [pieces[0].strip(), *(_MODIFIERS.sub("", p, count=1).strip() for p in pieces[1:])]


def _set_operators(expr: str) -> list[tuple[int, int]]:
    spans = []
    for i in _top_level(expr):
        for word in SET_OPERATORS:
            end = i + len(word)
            if (expr.startswith(word, i) and (i == 0 or not _WORD.match(expr[i - 1]))
                    and (end == len(expr) or not _WORD.match(expr[end]))):
                spans.append((i, end))
    return spans


def _comparisons(expr: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    positions = set(_top_level(expr))
    i = 0
    while i < len(expr):
        if i in positions:
            op = next((c for c in COMPARISONS if expr.startswith(c, i)), None)
            if op is not None:
                spans.append((i, i + len(op)))
                i += len(op)
                continue
        i += 1
    return spans


def checked_queries(expr: str) -> list[str]:
    """The queries of an alert expression that must return series (see the module's doc)."""
    queries = []
    for part in _split(expr, _set_operators(expr)):
        for side in _split(part, _comparisons(part)):
            if not side or _CONSTANT.match(side):
                continue
            if side.startswith("(") and not any(True for _ in _top_level(side)):
                queries.extend(checked_queries(side[1:-1]))  # all of it in parentheses
                continue
            absent = _ABSENT.match(side)
            queries.append(absent.group("inner").strip() if absent else side)
    return queries


def grafana_query(expr: str, *, window: str, variables: Mapping[str, str]) -> str:
    """``expr`` as Grafana would send it: ``$__rate_interval``, ``$__interval`` and
    ``$__range`` become ``window``; template variables (``$name``, ``${name}``,
    ``${name:format}``, ``[[name]]``) their value. An unknown variable raises KeyError."""
    expr = _BUILTIN_INTERVALS.sub(window, expr)

    def value(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        if name not in variables:
            raise KeyError(f"variable ${name} is not defined by the dashboard")
        return variables[name]

    return _VARIABLE.sub(value, expr)
