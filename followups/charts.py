"""Bar charts as inline SVG, drawn by the server: no JavaScript, nothing fetched from the
internet (an admin may have none). Each chart has a <title> and a <desc> for screen readers;
the page shows the same numbers in a table under it."""

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

# Django admin's blue, then colours told apart with the common colour-vision deficiencies.
PALETTE = ("#417690", "#e69f00", "#009e73", "#cc79a7", "#d55e00")
WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 16, 46  # margins around the plot area
MAX_VALUE_LABELS = 12  # a single series' bars, up to this many, carry their value
MIN_LABEL_GAP = 44  # pixels between two x labels


@dataclass
class Series:
    name: str
    values: list[float | None]  # one per label; None: nothing to draw (no data)


def nice_step(top: float, ticks: int = 5) -> float:
    """A round step (1, 2 or 5 × 10ⁿ) giving about `ticks` ticks up to `top`."""
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _number(value: float) -> str:
    return f"{value:g}" if value < 1e6 else f"{value:.3g}"


def bar_chart(
    chart_id: str,
    title: str,
    desc: str,
    labels: list[str],
    series: list[Series],
    *,
    unit: str = "",
    top: float | None = None,
) -> str | None:
    """Stacked bars, one per label, and a y axis from 0 to `top` (or the highest stack); the
    title and description are for screen readers (the page shows the title as a heading).
    None when there is nothing to draw: the page says so instead of showing an empty frame."""
    stacks = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    if not labels or not any(v is not None for s in series for v in s.values):
        return None
    top = top or max(stacks) or 1
    step = nice_step(top)
    top = step * math.ceil(top / step)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(labels)
    bar = max(1.0, slot * 0.72)
    every = max(1, math.ceil(MIN_LABEL_GAP / slot))

    def y(value: float) -> float:
        return TOP + plot_h - plot_h * value / top

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" class="chart" '
        f'font-family="sans-serif" font-size="11">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]  # the page shows the title as a heading
    tick = 0.0
    while tick <= top + step / 2:
        ty = y(tick)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">'
            f"{_number(tick)}{escape(unit)}</text>"
        )
        tick += step
    for i, label in enumerate(labels):
        x = LEFT + slot * i + (slot - bar) / 2
        base = 0.0
        for n, s in enumerate(series):
            value = s.values[i]
            if not value:
                continue
            parts.append(
                f'<rect x="{x:.1f}" y="{y(base + value):.1f}" width="{bar:.1f}" '
                f'height="{y(base) - y(base + value):.1f}" fill="{PALETTE[n % len(PALETTE)]}">'
                f"<title>{escape(f'{label}, {s.name}: {_number(value)}{unit}')}</title></rect>"
            )
            base += value
        if len(series) == 1 and len(labels) <= MAX_VALUE_LABELS and base:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{y(base) - 4:.1f}" text-anchor="middle">'
                f"{_number(round(base))}{escape(unit)}</text>"
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{TOP + plot_h + 14}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        'stroke="#333"/>'
    )
    if len(series) > 1:
        x = LEFT
        for n, s in enumerate(series):
            parts.append(
                f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" '
                f'fill="{PALETTE[n % len(PALETTE)]}"/>'
                f'<text x="{x + 14}" y="{HEIGHT - 5}">{escape(s.name)}</text>'
            )
            x += 24 + 7 * len(s.name)
    parts.append("</svg>")
    return "".join(parts)
