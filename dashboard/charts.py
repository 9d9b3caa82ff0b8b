"""Charts drawn on the server as plain SVG: no script, no styles, no CDN, readable on a 360-px screen.

Hand-written rather than a library: pygal, the obvious candidate, puts inline <script> and <style>
into its output (and links its tooltip script from a CDN), which the Content-Security-Policy forbids.
Every label is escaped; the SVG scales to its container through its viewBox.
"""

from datetime import date

from markupsafe import Markup, escape

WIDTH = 360
BAR_HEIGHT = 14
BAR_GAP = 34
COLOURS = ("#198754", "#0d6efd", "#fd7e14", "#6f42c1", "#20c997", "#d63384", "#6c757d")
TEXT = "#212529"
MUTED = "#6c757d"
GRID = "#dee2e6"


def _number(value) -> str:
    """SVG coordinates with at most one decimal, so output is stable and small."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _svg(height, title, body) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {_number(height)}" width="100%" '
        f'role="img" aria-label="{escape(title)}" class="pinbang-chart" font-family="sans-serif" font-size="12">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def bar_chart(items, title, value_text=str, limit=12) -> Markup:
    """Horizontal bars, largest first: one bar per (label, value), the label above and the value beside it.

    :param items: (label, value) pairs with non-negative numeric values.
    :param value_text: how a value is written (e.g. in yuan or kg).
    :param limit: at most this many bars; the rest are summed into one "…" bar so nothing silently vanishes.
    """
    items = sorted(((str(label), value or 0) for label, value in items), key=lambda pair: -pair[1])
    if len(items) > limit:
        rest = sum(value for _label, value in items[limit - 1 :])
        items = items[: limit - 1] + [("…", rest)]
    if not items:
        return _svg(30, title, f'<text x="0" y="20" fill="{MUTED}">{escape(title)}: –</text>')
    largest = max(value for _label, value in items) or 1
    usable = WIDTH - 90  # room on the right for the value
    parts = []
    for index, (label, value) in enumerate(items):
        top = index * BAR_GAP
        length = max(usable * value / largest, 1 if value else 0)
        colour = COLOURS[index % len(COLOURS)]
        shown = escape(value_text(value))
        parts.append(
            f"<g><title>{escape(label)}: {shown}</title>"
            f'<text x="0" y="{top + 12}" fill="{TEXT}">{escape(label)}</text>'
            f'<rect x="0" y="{top + 16}" width="{_number(length)}" height="{BAR_HEIGHT}" rx="2" fill="{colour}"/>'
            f'<text x="{_number(length + 6)}" y="{top + 27}" fill="{MUTED}">{shown}</text></g>'
        )
    return _svg(len(items) * BAR_GAP + 4, title, "".join(parts))


def line_chart(points, title, value_text=str) -> Markup:
    """A line over calendar days; days without sales are drawn at zero so gaps are not hidden.

    :param points: (date or ISO date string, value) pairs.
    """
    series = {}
    for day, value in points:
        day = date.fromisoformat(day) if isinstance(day, str) else day
        series[day] = series.get(day, 0) + (value or 0)
    if not series:
        return _svg(30, title, f'<text x="0" y="20" fill="{MUTED}">{escape(title)}: –</text>')
    first, last = min(series), max(series)
    span = (last - first).days
    days = [date.fromordinal(first.toordinal() + offset) for offset in range(span + 1)]
    largest = max(series.values()) or 1
    left, right, top, bottom = 8, WIDTH - 8, 22, 150
    height = bottom + 24

    def x(day):
        return left + (right - left) * ((day - first).days / span if span else 0.5)

    def y(value):
        return bottom - (bottom - top) * value / largest

    coords = [(x(day), y(series.get(day, 0))) for day in days]
    parts = [
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{GRID}"/>',
        f'<line x1="{left}" y1="{top}" x2="{right}" y2="{top}" stroke="{GRID}" stroke-dasharray="3 3"/>',
        f'<text x="{left}" y="{top - 6}" fill="{MUTED}">{escape(value_text(largest))}</text>',
        '<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>'.format(
            COLOURS[0], " ".join(f"{_number(px)},{_number(py)}" for px, py in coords)
        ),
    ]
    for day, (px, py) in zip(days, coords, strict=True):
        value = series.get(day, 0)
        parts.append(
            f'<circle cx="{_number(px)}" cy="{_number(py)}" r="3" fill="{COLOURS[0]}">'
            f"<title>{day.isoformat()}: {escape(value_text(value))}</title></circle>"
        )
    parts.append(f'<text x="{left}" y="{bottom + 18}" fill="{MUTED}">{first.isoformat()}</text>')
    if span:
        parts.append(f'<text x="{right}" y="{bottom + 18}" fill="{MUTED}" text-anchor="end">{last.isoformat()}</text>')
    return _svg(height, title, "".join(parts))
