"""The page frame of the customer-360 view: style, search form, sign-in and notice pages.

Everything that comes from data is escaped (``esc``); the pages load nothing else (no script,
no external style or font)."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

STYLE = """
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
 color:#1d2330;background:#f3f5f8}
header{background:#1d2a44;color:#fff;padding:12px 16px}
header .bar{max-width:1200px;margin:0 auto;display:flex;flex-wrap:wrap;gap:8px 16px;
 align-items:center;justify-content:space-between}
header a{color:#fff;text-decoration:none;font-weight:600}
main{max-width:1200px;margin:0 auto;padding:16px}
form.search{display:flex;gap:6px;flex:1 1 260px;max-width:520px}
form input{flex:1;min-width:0;padding:7px 9px;border:1px solid #9aa5b8;border-radius:6px;
 font:inherit}
form button{padding:7px 12px;border:0;border-radius:6px;background:#3d6fd8;color:#fff;
 font:inherit;cursor:pointer}
h1{font-size:1.35rem;margin:0 0 2px;overflow-wrap:anywhere}
h2{font-size:1rem;margin:0 0 10px;color:#33415c}
.sub{color:#5b6478;margin:0 0 14px;overflow-wrap:anywhere}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(290px,1fr));gap:14px}
.card{background:#fff;border-radius:10px;padding:14px 16px;
 box-shadow:0 1px 3px rgba(20,30,60,.12);min-width:0}
.wide{grid-column:1/-1}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;margin:0}
dt{color:#5b6478}dd{margin:0;overflow-wrap:anywhere}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px 4px 0;border-bottom:1px solid #e4e8ef;vertical-align:top}
.tier{display:inline-block;padding:2px 10px;border-radius:12px;background:#e6ecf8;font-weight:600}
.tier-top{background:#ffe7b3}.tier-low{background:#eceff3}
.risk{font-size:1.6rem;font-weight:700}
.chart{width:100%;max-width:460px;height:auto;font-size:13px}
.chart rect{fill:#3d6fd8}.chart text{fill:#1d2330}
.granted{color:#17803d;font-weight:600}.revoked{color:#b42318;font-weight:600}
.unset{color:#5b6478}
ol.timeline{list-style:none;margin:0;padding:0}
ol.timeline>li{border-left:3px solid #c9d2e3;padding:4px 0 8px 12px;margin-left:4px}
ol.timeline>li.decision{border-left-color:#3d6fd8;background:#f7f9fd}
.when{color:#5b6478;font-size:.85rem;margin-right:6px;white-space:nowrap}
.what{font-weight:600}
.details{color:#33415c;overflow-wrap:anywhere}
.verdict{display:inline-block;padding:1px 8px;border-radius:10px;font-size:.85rem;
 font-weight:600;margin-left:4px}
.v-sent{background:#d9f2e1;color:#17603a}.v-suppressed{background:#fde2e0;color:#9b1c14}
.v-control{background:#e4e7ec;color:#344054}.v-deferred{background:#fff0c7;color:#7a4b00}
.why{margin:4px 0 0;padding-left:18px}
blockquote{margin:4px 0;padding:4px 10px;border-left:3px solid #d0d5dd;background:#f8f9fb;
 white-space:pre-wrap;overflow-wrap:anywhere}
.msg{margin:6px 0}.msg .who{font-weight:600}
.scores{color:#5b6478;font-size:.85rem;overflow-wrap:anywhere}
.note{color:#5b6478}
"""


def esc(value: Any) -> str:
    """Any value as HTML text (customer data is untrusted)."""
    return escape("" if value is None else str(value), quote=True)


def when(ms: int | None) -> str:
    """An epoch-ms moment as ``2026-01-03 14:05 UTC``."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def search_form(query: str = "") -> str:
    return ('<form class="search" method="post" action="/360" role="search">'
            '<input name="q" aria-label="Find a customer" autocomplete="off" '
            'placeholder="email, phone, loyalty id, customer number or nb-id" '
            f'value="{esc(query)}">'
            '<button type="submit">Find</button></form>')


def document(title: str, body: str, *, query: str = "", search: bool = True) -> str:
    bar = search_form(query) if search else ""
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="referrer" content="no-referrer">'
            f'<title>{esc(title)} - nextbest</title><style>{STYLE}</style></head><body>'
            f'<header><div class="bar"><a href="/360">nextbest customer 360</a>{bar}</div>'
            f'</header><main>{body}</main></body></html>')


def notice_page(title: str, message: str, *, query: str = "") -> str:
    return document(title, f'<div class="card"><h1>{esc(title)}</h1>'
                           f'<p>{esc(message)}</p></div>', query=query)


def search_page() -> str:
    return notice_page("Find a customer",
                       "Any identifier finds the customer: an email address (any case), a "
                       "phone number (any format), a loyalty, POS or device id, the shop's "
                       "customer number, or nextbest's own id (nb-...). kind:value "
                       "(email:lisa@example.com) looks in one kind only.")


def sign_in_page(next_path: str, *, failed: bool = False) -> str:
    note = "That token is not the one this worker expects. " if failed else ""
    return document("Sign in", (
        '<div class="card"><h1>Sign in</h1>'
        f'<p>{esc(note)}This page shows customer data: enter the worker\'s API token '
        '(NEXTBEST_API_TOKEN). The browser keeps a session cookie for this page only.</p>'
        '<form class="search" method="post" action="/360/sign-in">'
        f'<input type="hidden" name="next" value="{esc(next_path)}">'
        '<input type="password" name="token" aria-label="API token" '
        'autocomplete="current-password" placeholder="API token" required>'
        '<button type="submit">Sign in</button></form></div>'), search=False)
