"""The usage panel's chart: inline SVG drawn on the server from `usage_summary`.

No JavaScript and nothing fetched from elsewhere (the admin may run without internet): bars
for requests per day with the errors stacked in red over them, and a quota-burn line when
the quota is daily. Every text is escaped; each bar carries a <title> tooltip.
"""
from __future__ import annotations

from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 40, 40, 12, 28
REQUEST_COLOUR, ERROR_COLOUR, QUOTA_COLOUR, GRID_COLOUR = "#417690", "#ba2121", "#e8a33d", "#d0d0d0"


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 x 10^n at or above `value`, so the axis reads in round numbers."""
    ceiling = 1
    while True:
        for step in (1, 2, 5):
            if step * ceiling >= value:
                return step * ceiling
        ceiling *= 10


def usage_chart_svg(summary: dict) -> SafeString:
    series = summary["series"]
    days = len(series)
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_value = _nice_ceiling(max([d["requests"] for d in series] + [1]))
    slot = plot_width / max(days, 1)
    bar_width = max(slot * 0.7, 1.0)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
             f'role="img" aria-label="{escape(_summary_text(summary))}" class="usage-chart">',
             f"<title>{escape(_summary_text(summary))}</title>"]
    for fraction in (0.0, 0.5, 1.0):  # grid lines with the request axis on the left
        y = TOP + plot_height * (1 - fraction)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{GRID_COLOUR}" '
                     'stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="#666">'
                     f"{_number(top_value * fraction)}</text>")
    for index, day in enumerate(series):
        x = LEFT + index * slot + (slot - bar_width) / 2
        requests, errors = day["requests"], day["errors"]
        tooltip = escape(f"{day['day']}: {requests} requests, {errors} errors"
                         + (f", quota burn {day['quota_burn_percent']}%" if day["quota_burn_percent"] is not None
                            else ""))
        parts.append(f'<g class="usage-day" data-day="{escape(day["day"])}" data-requests="{requests}" '
                     f'data-errors="{errors}"><title>{tooltip}</title>')
        if requests:
            height = plot_height * requests / top_value
            parts.append(f'<rect x="{x:.1f}" y="{TOP + plot_height - height:.1f}" width="{bar_width:.1f}" '
                         f'height="{height:.1f}" fill="{REQUEST_COLOUR}"/>')
        if errors:
            height = plot_height * min(errors, requests or errors) / top_value
            parts.append(f'<rect x="{x:.1f}" y="{TOP + plot_height - height:.1f}" width="{bar_width:.1f}" '
                         f'height="{height:.1f}" fill="{ERROR_COLOUR}"/>')
        parts.append("</g>")
    parts.extend(_quota_line(series, slot, plot_height))
    for index in (0, days // 2, days - 1):  # first, middle and last day under the axis
        if 0 <= index < days:
            x = LEFT + index * slot + slot / 2
            label = date.fromisoformat(series[index]["day"]).strftime("%d %b")
            parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" font-size="10" text-anchor="middle" fill="#666">'
                         f"{escape(label)}</text>")
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every interpolated text above is escaped or a number


def _quota_line(series: list[dict], slot: float, plot_height: float) -> list[str]:
    points = [(index, day["quota_burn_percent"]) for index, day in enumerate(series)
              if day["quota_burn_percent"] is not None]
    if not points:
        return []
    coordinates = " ".join(f"{LEFT + i * slot + slot / 2:.1f},{TOP + plot_height * (1 - min(p, 100) / 100):.1f}"
                           for i, p in points)
    return [f'<polyline points="{coordinates}" fill="none" stroke="{QUOTA_COLOUR}" stroke-width="2"/>',
            f'<text x="{WIDTH - RIGHT + 6}" y="{TOP + 4}" font-size="10" fill="{QUOTA_COLOUR}">100%</text>']


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _summary_text(summary: dict) -> str:
    totals, quota = summary["totals"], summary["quota"]
    text = (f"Last {summary['days']} days: {totals['requests']} requests, {totals['errors']} errors")
    if quota["limit"]:
        text += f"; quota {quota['used']} of {quota['limit']} per {quota['period']} ({quota['burn_percent']}%)"
    return text
