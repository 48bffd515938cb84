"""Every panel and variable query of every dashboard, run against a real Prometheus holding a shop-floor run.

The Prometheus is the end-to-end stack's (simulator -> exporter -> Prometheus with the
recording rules). Each query must succeed and return data, except panels whose
description says "Empty when ..." (no lost observations in a healthy run, say);
no query may return a series of the MTConnect Agent device, and the "Machines"
stat counts the simulator's machines.
"""

from __future__ import annotations

import pytest
import requests

from grafana_dashboards import iter_panel_queries, iter_variable_queries

pytestmark = pytest.mark.integration


def substitutions(stack) -> dict[str, str]:
    seconds = int(stack.last_scrape - stack.first_scrape) + 5
    # The machine that made the most parts: every per-machine panel has something to show for it.
    busiest = max(
        stack.shop.devices,
        key=lambda machine: stack.shop.ground_truth(machine.name, 0, stack.simulated_seconds).parts.get("ALL", 0),
    )
    return {
        "datasource": "prometheus",
        "agent": "shopfloor",
        "device": busiest.name,
        "__rate_interval": "10s",  # Grafana: 4 x the 1 s scrape interval, plus the step
        "__interval": "5s",
        "__range": f"{seconds}s",
        "__range_s": str(seconds),
    }


def run(stack, expr: str, instant: bool) -> dict:
    if instant:
        params = {"query": expr, "time": stack.last_scrape}
        url = f"{stack.prometheus.url}/api/v1/query"
    else:
        params = {"query": expr, "start": stack.first_scrape, "end": stack.last_scrape, "step": 5}
        url = f"{stack.prometheus.url}/api/v1/query_range"
    return requests.get(url, params=params, timeout=10).json()


def agent_devices(stack) -> set[str]:
    """The names of the MTConnect Agent devices, as the exporter marks them."""
    return {series["metric"]["device"] for series in stack.at_end('mtconnect_device_info{is_agent="true"}')}


def test_every_panel_query_succeeds_returns_data_and_no_agent_device(live_stack):
    queries = list(iter_panel_queries(substitutions(live_stack)))
    assert len(queries) > 40
    not_machines = agent_devices(live_stack)
    assert not_machines, "the scenario's 2.0 agent reports an Agent device"
    failures = []
    for query in queries:
        answer = run(live_stack, query.expr, query.instant)
        where = f"{query.dashboard_uid} / {query.panel_title} / {query.ref_id}: {query.expr}"
        if answer.get("status") != "success":
            failures.append(f"{where}: {answer.get('error')}")
        elif not answer["data"]["result"] and not query.may_be_empty:
            failures.append(f"{where}: no data")
        elif any(series["metric"].get("device") in not_machines for series in answer["data"]["result"]):
            failures.append(f"{where}: lists the Agent device")
    assert not failures, "\n".join(failures)


def test_the_machines_stat_counts_the_machines_not_the_agent_device(live_stack):
    all_machines = {**substitutions(live_stack), "device": ".*"}
    (query,) = [q for q in iter_panel_queries(all_machines) if q.panel_title == "Machines"]
    (series,) = run(live_stack, query.expr, instant=True)["data"]["result"]
    assert float(series["value"][1]) == len(live_stack.shop.devices)


def test_every_variable_query_lists_the_agent_and_its_devices(live_stack):
    devices = {machine.name for machine in live_stack.shop.devices}
    for query in iter_variable_queries(substitutions(live_stack)):
        answer = run(live_stack, query.expr, instant=True)
        assert answer["status"] == "success", query
        values = {series["metric"].get(query.variable) for series in answer["data"]["result"]}
        if query.variable == "agent":
            assert values == {"shopfloor"}, query
        elif query.variable == "device":
            assert values == devices, query
