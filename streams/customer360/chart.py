"""An inline SVG bar chart of a customer's category affinity (no script, scales with the page)."""

from __future__ import annotations

from html import escape

BARS = 8
ROW = 28
LABEL_WIDTH = 130
BAR_WIDTH = 220
VALUE_WIDTH = 50


def affinity_chart(affinity: dict[str, float]) -> str:
    """Horizontal bars, strongest category first, each bar's length relative to the strongest.

    >>> svg = affinity_chart({"coffee": 3.0, "<b>": 1.5, "tea": 0.0})
    >>> svg.count("<rect"), "&lt;b&gt;" in svg, "<b>" in svg
    (2, True, False)
    >>> affinity_chart({})
    ''
    """
    top = sorted(((c, w) for c, w in affinity.items() if w > 0), key=lambda cw: -cw[1])[:BARS]
    if not top:
        return ""
    strongest = top[0][1]
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    height = ROW * len(top)
    rows = []
    for n, (category, weight) in enumerate(top):
        y = n * ROW
        length = max(2.0, BAR_WIDTH * weight / strongest)
        name = escape(category)
        rows.append(
            f'<g><title>{name}: {weight:.2f}</title>'
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 18}" text-anchor="end">{name}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 6}" width="{length:.1f}" height="16" rx="3"/>'
            f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{y + 18}">{weight / strongest:.0%}'
            f'</text></g>')
    label = escape(", ".join(f"{c} {w / strongest:.0%}" for c, w in top))
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="Category affinity: {label}" preserveAspectRatio="xMinYMin meet">'
            f'{"".join(rows)}</svg>')
