"""The console's charts: SVG drawn on the server, thresholds drawn in, values escaped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.api.console.charts import Series, Threshold, svg_chart

DAY = datetime(2026, 11, 20, 8, tzinfo=UTC)


def test_a_series_is_drawn_with_its_points_and_threshold_lines() -> None:
    points = [(DAY + timedelta(days=d), v) for d, v in enumerate([3, 6, 8])]
    svg = str(svg_chart(Series("Craving (0-10)", points, 0, 10, (Threshold(7, "CRV-1 ≥ 7"),))))

    assert svg.startswith("<svg")
    assert svg.count('class="point"') == 3
    assert svg.count('class="threshold"') == 1
    assert "CRV-1 ≥ 7" in svg
    assert "style=" not in svg  # the console's CSP allows no inline style
    assert "<script" not in svg


def test_an_empty_series_says_nothing_was_recorded_and_labels_are_escaped() -> None:
    assert "No mood recorded" in str(svg_chart(Series("Mood", [], 0, 10)))
    svg = str(svg_chart(Series("<b>x</b>", [(DAY, 1.0)], 0, 10)))
    assert "<b>" not in svg
    assert "&lt;b&gt;" in svg
