"""ISO 22400 KPIs of the live stack equal the simulator's ground truth, across a shift change and breaks.

The stack (tests/integration/stack.py) runs Monday 06:00-08:00 of a plant whose shifts change at
07:00, each with a 15-minute break (06:20-06:35, 07:30-07:45), with job cycles of minutes. The
simulator's ground truth (simulator/truth.py) books the same elements from its own record of the
emitted observations and its own calendar; here it is compared with

- the exporter's shift gauges: period="previous" is the finished 06:00-07:00 (the exporter
  started at 06:00), exact to the second; period="current" the running shift, whose open
  interval lags by at most one small step of the scenario's end (stack.FINAL_STEP_SECONDS);
- the 1h recording rules evaluated by Prometheus at the end: at 120x the 1h window holds the
  whole run, so they compare with the truth over 06:00-08:00;
- parts produced and good, exactly.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from factorydash.simulator.truth import IN_PLANNED_BUSY, TimeElements
from tests.integration.stack import FINAL_STEP_SECONDS

pytestmark = pytest.mark.integration

POINT = 0.01  # one percentage point
CLOSED_SECONDS = 0.01  # a finished shift: every interval in it is closed, booked from device stamps
KPIS = ("availability", "performance", "quality", "oee")
RULES = {"availability": "oee_availability", "performance": "oee_performance", "quality": "oee_quality", "oee": "oee"}
# 15-minute breaks: each hour of the scenario is 45 minutes of planned busy time (hand computation)
PLANNED_BUSY_PER_HOUR = 45 * 60


def series(results: Iterable[dict], *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(s["metric"][label] for label in labels): float(s["value"][1]) for s in results}


def shifts_truth(stack, device: str) -> tuple[TimeElements, TimeElements]:
    plan = stack.plans[device]
    previous, current = stack.shop.time_elements(device, 0, stack.simulated_seconds, plan.ideal, plan.quality_source)
    return previous, current


def run_truth(stack, device: str) -> TimeElements:
    plan = stack.plans[device]
    (whole,) = stack.shop.time_elements(device, 0, stack.simulated_seconds, plan.ideal, plan.quality_source,
                                        per_shift=False)
    return whole


def shift_gauges(stack, period: str) -> tuple[dict, dict, dict]:
    """(seconds by (device, element), parts by (device, kind), KPI by (kpi, device)) of one period."""
    selector = f'{{agent="shopfloor", period="{period}"}}'
    seconds = series(stack.at_end(f"mtconnect_device_shift_seconds{selector}"), "device", "element")
    parts = series(stack.at_end(f"mtconnect_device_shift_parts{selector}"), "device", "kind")
    kpis = {
        (kpi, device): value
        for kpi in KPIS
        for (device,), value in series(stack.at_end(f"mtconnect_device_shift_{kpi}_ratio{selector}"), "device").items()
    }
    return seconds, parts, kpis


def machines(stack) -> list[str]:
    return [machine.name for machine in stack.shop.devices]


def expected(truth: TimeElements, kpi: str) -> float | None:
    """The truth's KPI; OEE is 0, not undefined, for planned busy time in which no part was made
    by a machine with an ideal cycle time and a quality source (docs/time-accounting.md section 5:
    every machine of the scenario has both)."""
    value = getattr(truth, kpi)
    if kpi == "oee" and value is None and truth.microseconds["planned_busy"] > 0 and truth.parts_good is not None:
        return 0.0
    return value


def compare_kpis(measured: dict[tuple[str, str], float], truths: dict[str, TimeElements]) -> list[str]:
    """Each KPI within a point of the truth's; absent exactly where the truth's is undefined."""
    problems = []
    for device, truth in truths.items():
        for kpi in KPIS:
            expected_value, got = expected(truth, kpi), measured.get((kpi, device))
            if expected_value is None or got is None:
                if expected_value is not got:
                    problems.append(f"{device} {kpi}: truth {expected_value}, exporter {got}")
            elif abs(got - expected_value) > POINT:
                problems.append(f"{device} {kpi}: truth {expected_value:.4f}, measured {got:.4f}")
    return problems


def test_the_scenario_crosses_a_shift_change_and_breaks_with_cycles_of_minutes(live_stack):
    for device in machines(live_stack):
        previous, current = shifts_truth(live_stack, device)
        assert (previous.start.hour, current.start.hour, current.end.hour) == (6, 7, 8)
        # the break is not planned busy time: 60 - 15 minutes in each hour
        assert previous.seconds("planned_busy") == current.seconds("planned_busy") == PLANNED_BUSY_PER_HOUR
    shifts = [shift for device in machines(live_stack) for shift in shifts_truth(live_stack, device)]
    # every element of the partition occurs, a part was cut into a break (unplanned production),
    # a bad part was made
    for element in (*IN_PLANNED_BUSY, "unplanned_production"):
        assert any(shift.microseconds[element] > 0 for shift in shifts), element
    assert any(shift.parts_good < shift.parts_produced for shift in shifts)
    # cycles of minutes: a machine makes several parts in each hour-long shift
    assert any(all(shift.parts_produced >= 3 for shift in shifts_truth(live_stack, device))
               for device in machines(live_stack))


def test_the_finished_shift_gauges_equal_the_ground_truth(live_stack):
    seconds, parts, kpis = shift_gauges(live_stack, "previous")
    truths = {device: shifts_truth(live_stack, device)[0] for device in machines(live_stack)}
    problems = [
        f"{device} {element}: truth {truth.seconds(element):.3f} s, exporter {seconds[(device, element)]:.3f} s"
        for device, truth in truths.items()
        for element in truth.microseconds
        if abs(seconds[(device, element)] - truth.seconds(element)) > CLOSED_SECONDS
    ]
    problems += compare_kpis(kpis, truths)
    assert not problems, "\n".join(problems)
    start = series(live_stack.at_end('mtconnect_device_shift_start_timestamp_seconds{period="previous"}'), "device")
    assert set(start.values()) == {live_stack.shop.start.replace(hour=0).timestamp()}


def test_the_running_shift_gauges_equal_the_ground_truth(live_stack):
    seconds, parts, kpis = shift_gauges(live_stack, "current")
    truths = {device: shifts_truth(live_stack, device)[1] for device in machines(live_stack)}
    # The open interval of each machine started in the final stretch: it lags by one small step at most.
    problems = [
        f"{device} {element}: truth {truth.seconds(element):.3f} s, exporter {seconds[(device, element)]:.3f} s"
        for device, truth in truths.items()
        for element in truth.microseconds
        if abs(seconds[(device, element)] - truth.seconds(element)) > FINAL_STEP_SECONDS
    ]
    problems += compare_kpis(kpis, truths)
    assert not problems, "\n".join(problems)
    start = series(live_stack.at_end('mtconnect_device_shift_start_timestamp_seconds{period="current"}'), "device")
    assert set(start.values()) == {live_stack.shop.start.replace(hour=7).timestamp()}


@pytest.mark.parametrize("period", ["previous", "current"])
def test_the_elements_of_a_shift_add_up_to_its_planned_busy_time_without_the_break(live_stack, period):
    seconds, _, _ = shift_gauges(live_stack, period)
    lag = 0.0 if period == "previous" else FINAL_STEP_SECONDS
    for device in machines(live_stack):
        planned = seconds[(device, "planned_busy")]
        assert sum(seconds[(device, element)] for element in IN_PLANNED_BUSY) == pytest.approx(planned, abs=1e-6)
        assert PLANNED_BUSY_PER_HOUR - lag - CLOSED_SECONDS <= planned <= PLANNED_BUSY_PER_HOUR + CLOSED_SECONDS


def test_parts_produced_and_good_in_each_shift_are_exact(live_stack):
    for period, index in (("previous", 0), ("current", 1)):
        _, parts, _ = shift_gauges(live_stack, period)
        for device in machines(live_stack):
            truth = shifts_truth(live_stack, device)[index]
            assert parts[(device, "produced")] == truth.parts_produced, (period, device)
            assert parts[(device, "good")] == truth.parts_good, (period, device)


def test_the_counters_of_the_whole_run_equal_the_ground_truth(live_stack):
    """The exporter started at 06:00 with every counter at 0: their values at the end are the run's."""
    elements = series(live_stack.at_end('mtconnect_device_time_seconds_total{agent="shopfloor"}'), "device", "element")
    produced = series(live_stack.at_end('mtconnect_device_parts_produced_total{agent="shopfloor"}'), "device")
    good = series(live_stack.at_end('mtconnect_device_parts_good_total{agent="shopfloor"}'), "device")
    bad = series(live_stack.at_end('mtconnect_device_parts_bad_total{agent="shopfloor"}'), "device")
    problems = []
    for device in machines(live_stack):
        truth = run_truth(live_stack, device)
        for element in truth.microseconds:
            if abs(elements[(device, element)] - truth.seconds(element)) > FINAL_STEP_SECONDS:
                problems.append(f"{device} {element}: truth {truth.seconds(element):.3f}, "
                                f"exporter {elements[(device, element)]:.3f}")
        assert produced[(device,)] == truth.parts_produced, device
        if live_stack.plans[device].quality_source == "bad_count":
            assert produced[(device,)] - bad[(device,)] == truth.parts_good, device
        else:
            assert good[(device,)] == truth.parts_good, device
    assert not problems, "\n".join(problems)


def test_the_1h_rules_equal_the_ground_truth_of_the_whole_run(live_stack):
    truths = {device: run_truth(live_stack, device) for device in machines(live_stack)}
    measured = {
        (kpi, device): value
        for kpi, rule in RULES.items()
        for (device,), value in series(live_stack.at_end(f'device:mtconnect_{rule}:ratio_1h{{agent="shopfloor"}}'),
                                       "device").items()
    }
    problems = compare_kpis(measured, truths)
    assert not problems, "\n".join(problems)


def test_the_plant_1h_rules_are_ratios_of_the_sums_of_the_ground_truth(live_stack):
    truths = [run_truth(live_stack, device) for device in machines(live_stack)]
    planned = sum(t.seconds("planned_busy") for t in truths)
    production = sum(t.seconds("production") for t in truths)
    sums = {
        "availability": production / planned,
        "performance": sum(t.ideal_production_seconds for t in truths) / production,
        "quality": sum(t.parts_good for t in truths) / sum(t.parts_produced for t in truths),
        # fully productive time over planned busy time: each machine weighs with its planned time
        "oee": sum(expected(t, "oee") * t.seconds("planned_busy") for t in truths) / planned,
    }
    for kpi, rule in RULES.items():
        (sample,) = live_stack.at_end(f"plant:mtconnect_{rule}:ratio_1h")
        assert float(sample["value"][1]) == pytest.approx(sums[kpi], abs=POINT), kpi
