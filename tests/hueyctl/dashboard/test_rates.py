"""Per-minute series from sampled counter totals."""

from __future__ import annotations

from hueyctl.dashboard.rates import Rates

T0 = 1_800_000_000.0


def test_increases_land_in_the_minute_they_were_seen() -> None:
    rates = Rates(minutes=5)
    for offset, finished in ((0, 10), (30, 14), (90, 20), (150, 21)):
        rates.observe("a", T0 + offset, {"finished": finished, "failed": None})
    series = rates.per_minute("a", T0 + 150)
    assert series == {"finished": [0, 0, 4, 6, 1]}  # 2, 1 and 0 minutes ago: +4, +6, +1
    assert rates.per_minute("b", T0) == {}


def test_a_drop_is_a_restart_not_negative_work_and_old_samples_go() -> None:
    rates = Rates(minutes=2)
    rates.observe("a", T0, {"finished": 50})
    rates.observe("a", T0 + 10, {"finished": 3})  # the consumer restarted: counts from 0
    rates.observe("a", T0 + 20, {"finished": 5})
    assert rates.per_minute("a", T0 + 20) == {"finished": [0, 2]}
    rates.observe("a", T0 + 600, {"finished": 9})
    assert len(rates.samples["a"]) == 1
    assert rates.per_minute("a", T0 + 600) == {}
