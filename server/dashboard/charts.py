"""Charts as inline SVG drawn on the server from the figures: no JavaScript, nothing fetched.

Colours come from CSS classes in ``static/dashboard.css`` so the Content-Security-Policy
needs no inline styles.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape


def _nice_max(value: int) -> int:
    """A round axis maximum at or above ``value`` (1, 2, 5 × 10ⁿ)."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def bars(
    items: Sequence[tuple[str, int, str]], title: str, width: int = 560, label_width: int = 150
) -> Markup:
    """A horizontal bar chart: one (label, value, css class) per bar, the value written at its end."""
    row, gap = 22, 8
    height = max(1, len(items)) * (row + gap) + gap
    top = max((v for _, v, _ in items), default=0)
    scale = (width - label_width - 60) / max(top, 1)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for i, (label, value, css) in enumerate(items):
        y = gap + i * (row + gap)
        w = max(value * scale, 1 if value else 0)
        baseline = y + row - 6
        parts.append(
            f'<text class="axis-label" x="{label_width - 8}" y="{baseline}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect class="bar {escape(css)}" x="{label_width}" y="{y}" width="{w:.1f}" height="{row}"'
            ' rx="3"/>'
            f'<text class="bar-value" x="{label_width + w + 6:.1f}" y="{baseline}">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def lines(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], str]],
    title: str,
    width: int = 620,
    height: int = 230,
    peak: float | None = None,
    unit: str = "",
) -> Markup:
    """A line chart: x ``labels`` and one (name, values, css class) per line, with a legend.

    ``peak`` fixes the top of the axis (100 for percentages); a None value leaves a gap.
    """
    left, right, top, bottom = 44, 30, 28, 28
    inner_w, inner_h = width - left - right, height - top - bottom
    known = [v for _, values, _ in series for v in values if v is not None]
    top_value = peak if peak is not None else _nice_max(int(max(known, default=0) + 0.999))
    n = max(len(labels), 1)

    def x(i: int) -> float:
        return left + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    def y(v: float) -> float:
        return top + inner_h - inner_h * v / top_value

    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for tick in (0, top_value / 2, top_value):
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
            f'<text class="axis-label" x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
            f"{tick:g}{escape(unit)}</text>"
        )
    every = max(1, -(-n // 12))
    for i, label in enumerate(labels):
        if i % every == 0 or i == n - 1:
            parts.append(
                f'<text class="axis-label" x="{x(i):.1f}" y="{height - bottom + 18}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    legend_x = left
    for name, values, css in series:
        run: list[str] = []
        for i, v in enumerate([*values, None]):
            if v is not None:
                run.append(f"{x(i):.1f},{y(v):.1f}")
                parts.append(f'<circle class="dot {escape(css)}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3"/>')
            elif run:
                parts.append(f'<polyline class="line {escape(css)}" points="{" ".join(run)}"/>')
                run = []
        parts.append(
            f'<rect class="legend {escape(css)}" x="{legend_x}" y="6" width="14" height="4"/>'
            f'<text class="axis-label" x="{legend_x + 20}" y="13">{escape(name)}</text>'
        )
        legend_x += 34 + 13 * len(name)
    parts.append("</svg>")
    return Markup("".join(parts))
