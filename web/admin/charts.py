"""Small bar charts drawn as inline SVG on the server: no script, no chart library.

The SVG is an image to assistive technology (`role="img"`), named by its `<title>` and
summed up in words by its `<desc>`; each bar's own `<title>` is a tooltip for a mouse.
Colours come from the admin stylesheet (`.chart .bar`), so a chart follows its theme.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from markupsafe import Markup, escape

#: The drawing's coordinate system; the stylesheet scales it to the column's width.
WIDTH = 600
HEIGHT = 170
#: Room for the value axis (left), the time axis (bottom) and a label overhang.
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 10, 34
#: Horizontal gap between bars, in drawing units.
BAR_GAP = 1.0


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above `value` (at least 1): a top
    for the value axis that reads at a glance."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _clock(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%H:%M")


def bar_chart(
    chart_id: str,
    title: str,
    starts: Sequence[dt.datetime],
    values: Sequence[int],
    unit: str,
) -> Markup:
    """One bar per period: `starts[i]` is when period i began (UTC), `values[i]` its count
    of `unit` ("calls"). `chart_id` must be unique on the page."""
    top = nice_ceiling(max(values, default=0))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    bar_w = plot_w / max(len(values), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        f' aria-labelledby="{chart_id}-title {chart_id}-desc" id="{chart_id}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(_summary(starts, values, unit))}</desc>',
    ]
    for index, (start, value) in enumerate(zip(starts, values, strict=True)):
        if value:
            height = plot_h * value / top
            x = LEFT + index * bar_w
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_h - height:.1f}"'
                f' width="{max(bar_w - BAR_GAP, 0.5):.1f}" height="{height:.1f}">'
                f"<title>{_clock(start)} UTC: {value} {escape(unit)}</title></rect>"
            )
    parts += _axes(starts, top, unit, plot_w, plot_h)
    parts.append("</svg>")
    return Markup("".join(parts))


def _axes(
    starts: Sequence[dt.datetime], top: int, unit: str, plot_w: float, plot_h: float
) -> list[str]:
    """Both axis lines, the value axis's 0 / half / top, and three times along the bottom."""
    base = TOP + plot_h
    parts = [
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{LEFT + plot_w}" y2="{base}"/>',
    ]
    ticks = [0, top] if top < 2 else [0, top // 2, top]
    for tick in ticks:
        y = base - plot_h * tick / top
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    parts.append(
        f'<text class="axis-title" x="{LEFT - 36}" y="{TOP + plot_h / 2:.1f}"'
        f' text-anchor="middle" transform="rotate(-90 {LEFT - 36} {TOP + plot_h / 2:.1f})">'
        f"{escape(unit)}</text>"
    )
    if starts:
        bar_w = plot_w / len(starts)
        for index, anchor in ((0, "start"), (len(starts) // 2, "middle"), (-1, "end")):
            position = index % len(starts)
            x = LEFT + (position + (1 if anchor == "end" else 0)) * bar_w
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{base + 16}" text-anchor="{anchor}">'
                f"{_clock(starts[index])}</text>"
            )
        parts.append(
            f'<text class="axis-title" x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 2}"'
            ' text-anchor="middle">minute (UTC)</text>'
        )
    return parts


def _summary(starts: Sequence[dt.datetime], values: Sequence[int], unit: str) -> str:
    """The chart in one sentence, for those who cannot see it."""
    total = sum(values)
    if not total:
        return f"No {unit} in this period."
    peak = max(range(len(values)), key=values.__getitem__)
    return (
        f"{total} {unit} from {_clock(starts[0])} to {_clock(starts[-1])} UTC; "
        f"the most, {values[peak]}, at {_clock(starts[peak])} UTC."
    )
