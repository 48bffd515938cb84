"""Prometheus' answers about a scripted shop-floor run equal the simulator's ground truth.

A real Prometheus scrapes the exporter that follows the simulator at 120x
real time; its recording rules must match the exact KPIs the simulator
computed for the same simulated window: utilization and time in state within
2 percentage points, parts exactly, and the scripted emergency stop alerting.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def by_device(result: list[dict], label: str = "device") -> dict[str, float]:
    return {sample["metric"][label]: float(sample["value"][1]) for sample in result}


def truths(stack):
    return {m.name: stack.shop.ground_truth(m.name, 0, stack.simulated_seconds) for m in stack.shop.devices}


def test_utilization_equals_the_simulated_share_of_active_time(live_stack):
    measured = by_device(live_stack.at_end('device:mtconnect_utilization:ratio_5m{agent="shopfloor"}'))
    assert set(measured) == {m.name for m in live_stack.shop.devices}
    for device, truth in truths(live_stack).items():
        total = sum(truth.execution_seconds.values())
        expected = truth.execution_seconds.get("ACTIVE", 0.0) / total
        assert measured[device] == pytest.approx(expected, abs=0.02), device


def test_time_in_each_execution_state_equals_the_ground_truth(live_stack):
    result = live_stack.at_end('device_state:mtconnect_execution:ratio_5m{agent="shopfloor"}')
    shares: dict[tuple[str, str], float] = {
        (s["metric"]["device"], s["metric"]["state"]): float(s["value"][1]) for s in result
    }
    for device, truth in truths(live_stack).items():
        total = sum(truth.execution_seconds.values())
        for state, seconds in truth.execution_seconds.items():
            assert shares.get((device, state), 0.0) == pytest.approx(seconds / total, abs=0.02), (device, state)


def test_availability_equals_the_simulated_share_of_available_time(live_stack):
    measured = by_device(live_stack.at_end('device:mtconnect_availability:ratio_5m{agent="shopfloor"}'))
    for device, truth in truths(live_stack).items():
        total = sum(truth.availability_seconds.values())
        expected = truth.availability_seconds.get("AVAILABLE", 0.0) / total
        assert measured[device] == pytest.approx(expected, abs=0.02), device


def test_parts_are_counted_exactly(live_stack):
    expr = 'sum by (device, sub_type) (mtconnect_parts_total{agent="shopfloor"})'
    first = {(s["metric"]["device"], s["metric"]["sub_type"]): float(s["value"][1])
             for s in live_stack.prometheus.query(expr, live_stack.first_scrape)}
    last = {(s["metric"]["device"], s["metric"]["sub_type"]): float(s["value"][1]) for s in live_stack.at_end(expr)}
    made = 0
    for device, truth in truths(live_stack).items():
        for sub_type in ("ALL", "GOOD", "BAD"):
            counted = last[(device, sub_type)] - first[(device, sub_type)]
            assert counted == truth.parts.get(sub_type, 0), (device, sub_type)
            made += counted
    assert made > 0


def test_fault_onsets_are_counted_exactly(live_stack):
    expr = 'sum by (device) (mtconnect_condition_activations_total{agent="shopfloor",level="fault"})'
    first = by_device(live_stack.prometheus.query(expr, live_stack.first_scrape))
    last = by_device(live_stack.at_end(expr))
    for device, truth in truths(live_stack).items():
        assert last[device] - first[device] == len(truth.fault_onsets), device


def test_the_scripted_emergency_stop_is_firing_in_prometheus(live_stack):
    alerts = live_stack.prometheus.api("alerts")["alerts"]
    firing = [a for a in alerts if a["labels"]["alertname"] == "MTConnectEmergencyStopTriggered" and a["state"] == "firing"]
    assert [a["labels"]["device"] for a in firing] == [live_stack.estop_device]
    alert = firing[0]
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["summary"].endswith(".")
    assert live_stack.estop_device in alert["annotations"]["description"]
    assert alert["annotations"]["runbook_url"].startswith("https://")


def test_every_recording_rule_evaluates_without_error(live_stack):
    groups = live_stack.prometheus.api("rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules
    unhealthy = [(rule["name"], rule.get("lastError")) for rule in rules if rule["health"] != "ok"]
    assert unhealthy == []
