"""Server-side SVG charts: escaped labels, proportional bars, every day on the line, no script."""

import re
from datetime import date

from dashboard.charts import bar_chart, line_chart


def test_bars_are_proportional_and_largest_first():
    svg = str(bar_chart([("鸡蛋", 50), ("雪毛鸡", 100)], "按商品"))
    widths = [float(w) for w in re.findall(r'<rect x="0" y="[\d.]+" width="([\d.]+)"', svg)]
    assert widths[0] == 2 * widths[1]
    assert svg.index("雪毛鸡") < svg.index("鸡蛋")


def test_labels_are_escaped_and_nothing_executable_is_drawn():
    svg = str(bar_chart([("<script>alert(1)</script>", 5), ('"onload="x', 3)], 'a "title"'))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert ' onload="' not in svg and "style=" not in svg


def test_many_bars_are_folded_into_one_so_nothing_vanishes():
    svg = str(bar_chart([(f"镇{i}", 10) for i in range(20)], "按镇", limit=5))
    assert svg.count("<rect") == 5 and "…: 160" in svg  # 16 towns of 10 in the last bar


def test_line_shows_days_without_sales_at_zero():
    svg = str(line_chart([("2026-03-01", 100), (date(2026, 3, 4), 50)], "每日"))
    assert svg.count("<circle") == 4  # 1st to 4th of March
    assert "2026-03-02: 0" in svg and "2026-03-04: 50" in svg


def test_empty_charts_still_render():
    assert "<svg" in str(bar_chart([], "空")) and "<svg" in str(line_chart([], "空"))
