"""core.figures: the charts' axes read as people expect."""

from __future__ import annotations

from core.figures import distribution_figure


def test_a_distribution_counts_whole_people_on_its_axis():
    small = distribution_figure(["< 50 %", "≥ 120 %"], [2, 1])
    assert small["layout"]["yaxis"]["dtick"] == 1  # 0, 1, 2 - never 0, 1, 1, 2, 2
    assert small["layout"]["yaxis"]["tickformat"] == ",d"
    large = distribution_figure(["a", "b"], [480, 12])
    assert large["layout"]["yaxis"]["dtick"] == 96  # about five steps, whole numbers
    assert distribution_figure([], [])["layout"]["yaxis"]["dtick"] == 1
