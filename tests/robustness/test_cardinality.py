"""Series caps (per agent and global) and flat memory over a simulated week of churning strings."""

from __future__ import annotations

import gc
import logging
import random
import re
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from factorydash.client import AgentClient
from factorydash.collector import FactorydashCollector
from factorydash.config import parse_config
from factorydash.exporter import Exporter
from factorydash.follower import AgentFollower, Phase
from factorydash.limits import SeriesBudget
from factorydash.simulator import ReplayFloor, SimulatorServer
from factorydash.state import AgentState, StateSettings
from tests.exporter import agentdocs

from .agents import FaultyAgent, Reply, agent_config, catch_up, step_until, wait_until
from .conftest import START

pytestmark = pytest.mark.integration  # every test here starts a server or a process


def exposition(states) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FactorydashCollector(lambda: states))
    return generate_latest(registry).decode()


def data_series(text: str, agent: str) -> list[str]:
    """Series of data items (not the agent's own health series) of one agent."""
    return [
        line
        for line in text.splitlines()
        if f'agent="{agent}"' in line and 'data_item_id="' in line and not line.startswith("#")
    ]


def dropped(text: str, agent: str) -> float:
    return float(re.search(rf'^mtconnect_series_dropped_total\{{agent="{agent}"\}} (\S+)$', text, re.M).group(1))


def conditions(count: int, sequence: int) -> bytes:
    return agentdocs.streams(
        [agentdocs.condition(sequence + i, "Fault", 1, code=f"F{i}", message=f"fault {i}") for i in range(count)],
        last=sequence + count - 1,
        next_=sequence + count,
    )


@pytest.fixture
def two_agents(scripted: FaultyAgent):
    scripted.script("probe", Reply(agentdocs.probe()))
    scripted.script("current", Reply(agentdocs.current_mill()))
    scripted.script("sample", Reply(conditions(40, 7)))

    def start(settings: str) -> Exporter:
        config = parse_config(
            f"""
global: {settings}
defaults: {{poll_interval: 20ms, timeout: 300ms}}
agents:
  - {{name: first, url: "{scripted.url}"}}
  - {{name: second, url: "{scripted.url}"}}
"""
        )
        exporter = Exporter(config)
        exporter.start()
        started.append(exporter)
        wait_until(lambda: all(s.up and s.counters.observations >= 40 for s in exporter.states()))
        return exporter

    started: list[Exporter] = []
    yield start
    for exporter in started:
        exporter.stop()


def test_beyond_the_per_agent_cap_no_new_series_are_created_and_the_drop_is_counted_and_named(
    two_agents, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="factorydash"):
        exporter = two_agents("{max_series_per_agent: 60}")
    text = exposition(exporter.states())
    for agent in ("first", "second"):
        assert len(data_series(text, agent)) <= 60
        assert dropped(text, agent) > 0
    names = " ".join(record.getMessage() for record in caplog.records if "series cap" in record.getMessage())
    assert "agent=first" in names and "agent=second" in names
    assert re.search(r"data_item=\w+|first: \w+", names)


def test_the_global_cap_limits_the_sum_over_agents(two_agents) -> None:
    exporter = two_agents("{max_series_per_agent: 1000, max_series_total: 100}")
    text = exposition(exporter.states())
    assert len(data_series(text, "first")) + len(data_series(text, "second")) <= 100
    assert dropped(text, "first") + dropped(text, "second") > 0
    assert exporter.total_budget.used <= 100


def test_active_conditions_beyond_the_cap_still_count_onsets_but_add_no_series(two_agents) -> None:
    exporter = two_agents("{max_series_per_agent: 95}")
    state = exporter.agents["first"].state
    with state.lock:
        condition = state.trackers["system"]
        assert condition.activations["fault"] == 40  # every onset counted
        assert len(condition.active) < 40  # ...but not every activation got a series
        assert condition.level == "fault"
    assert state.budget.used <= 95


# -- a simulated week ------------------------------------------------------------------------

MESSAGE_ITEM = '<DataItem category="EVENT" id="msg" type="MESSAGE"/>'


def week_of_churn(path: Path) -> None:
    """Every two minutes for 7 days: a new PROGRAM, a new alarm code and text, a new MESSAGE."""
    rng = random.Random(1)
    lines = []
    for minute in range(0, 7 * 24 * 60, 2):
        at = START + timedelta(minutes=minute)
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        clear = (at + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        code = f"E{rng.randrange(10**9)}"
        lines.append(
            f"{stamp}|exec|ACTIVE|program|O{minute:06d}-{rng.randrange(10**6)}|pc|{minute}"
            f"|system|fault|{code}|2||Alarm {code}: spindle {rng.random()}|msg|M{minute}|operator note {minute}"
        )
        lines.append(f"{clear}|exec|READY|system|normal||||")
    path.write_text("\n".join(lines) + "\n")


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_memory_and_series_stay_flat_over_a_simulated_week_of_churning_programs_and_alarms(tmp_path: Path) -> None:
    devices = tmp_path / "devices.xml"
    devices.write_bytes(agentdocs.probe(data_items=agentdocs.MILL_DATA_ITEMS.replace("<DataItems>", "<DataItems>" + MESSAGE_ITEM, 1)))
    log = tmp_path / "week.shdr"
    week_of_churn(log)
    floor = ReplayFloor(log, devices, clock="manual", start=START, buffer_size=8192, schema_version="2.0")
    with SimulatorServer(floor) as server:
        config = agent_config(server.url, "week", sample_count=1000)
        state = AgentState(
            "week", config.url, StateSettings(event_info_types=frozenset({"PROGRAM", "MESSAGE"})), SeriesBudget(10_000)
        )
        follower = AgentFollower(config, state, AgentClient(config, 1 << 22), 1 << 22, rng=random.Random(0))
        step_until(follower, Phase.SAMPLE)
        measured: dict[int, tuple[int, int]] = {}
        for hour in range(1, 7 * 24 + 1):
            floor.advance(3600)
            catch_up(follower)
            if hour in (24, 7 * 24):
                gc.collect()
                measured[hour] = (rss_kib(), len(data_series(exposition([state]), "week")))
    assert state.counters.lost == 0
    assert state.counters.observations > 7 * 24 * 30 * 6
    (rss_day1, series_day1), (rss_week, series_week) = measured[24], measured[7 * 24]
    assert series_week <= series_day1 + 2  # the alarm of the minute may or may not be active
    assert rss_week - rss_day1 < 16 * 1024, f"resident memory grew by {rss_week - rss_day1} KiB over six days"
    with state.lock:
        assert len(state.trackers["system"].active) <= 1
        assert len(state._warned) < 20


# -- exact budget accounting: re-probes, reloads, retired agents ------------------------------------

# Static series of agentdocs.probe(), counted by hand from MILL_DATA_ITEMS: the device 5 (info, available,
# last observation, planned production, ideal cycle time); AVAILABILITY 2 values x 3 (one-hot, seconds,
# transitions) = 6; EMERGENCY_STOP 3 x 3 = 9; X, C speed, C load 1 each = 3; the SYSTEM condition 4 levels
# + 1 = 5; EXECUTION 11 x 3 = 33; CONTROLLER_MODE 7 x 3 = 21; PROGRAM 1; two PART_COUNTs 2 each = 4;
# PATH_POSITION 3 axes = 3; feed rate and cutting time 1 each = 2; the VARIABLE data set 0 (until entries).
MILL_SERIES = 92
MILL_TRACKED = 15  # every item but BLOCK (free text not enabled)
# After messy_sample, EXECUTION keeps its four out-of-vocabulary values across re-probes (their counters
# carry over while the item keeps its id and type): 3 series each.
CARRIED_SERIES = 3 * 4
BAD_MODEL_SERIES = 97


def carried_series(cap: int) -> int:
    """... and the device keeps the alarm seconds series of messy_sample's 30 fault codes (counters of the
    device, kept across re-probes): all of them with room, else those that fit beside the bad model's
    series and the execution states at one activation series and one alarm series each."""
    return CARRIED_SERIES + min(30, (cap - BAD_MODEL_SERIES - CARRIED_SERIES) // 2)

# The same items twice under the same ids, in a second device too: a leak per duplicate before.
DUPLICATED_ITEMS = agentdocs.MILL_DATA_ITEMS.replace(
    "<DataItems>", '<DataItems><DataItem category="EVENT" id="exec" type="EXECUTION"/>'
    '<DataItem category="CONDITION" id="system" type="SYSTEM"/>', 1
)
SECOND_DEVICE = (
    '<Device id="d2" name="Twin" uuid="twin-1"><DataItems>'
    '<DataItem category="EVENT" id="exec" type="EXECUTION"/><DataItem category="SAMPLE" id="xpos" type="POSITION"'
    ' units="MILLIMETER"/></DataItems></Device>'
)


def messy_sample(sequence: int) -> bytes:
    """Out-of-vocabulary EXECUTION values, a flood of fault codes and DATA_SET entries: dynamic series."""
    observations = [agentdocs.execution(sequence + i, f"NOT_A_STATE_{i}", i) for i in range(4)]
    observations += [agentdocs.condition(sequence + 4 + i, "Fault", 5, code=f"F{i}") for i in range(30)]
    entries = "".join(f'<Entry key="k{i}">{i}</Entry>' for i in range(20))
    observations.append(agentdocs.Obs("vars", sequence + 40, "", agentdocs.ts(6), "VariableDataSet", children=entries))
    return agentdocs.streams(observations, first=1, last=sequence + 40, next_=sequence + 41)


def test_a_thousand_re_probes_with_bad_then_good_models_return_the_budget_to_the_exact_value() -> None:
    from factorydash.parser import parse_document

    good = parse_document(agentdocs.probe(), 1 << 20)
    bad = parse_document(agentdocs.probe(data_items=DUPLICATED_ITEMS, extra_devices=SECOND_DEVICE), 1 << 20)
    messy = parse_document(messy_sample(100), 1 << 20)
    total = SeriesBudget(10_000)
    for cap in (10_000, 140):  # plenty, and a cap the messy values run into (the refused path too)
        state = AgentState("churn", "http://127.0.0.1:9/", StateSettings(), SeriesBudget(cap, parent=total))
        for cycle in range(500):
            state.load_model(bad)
            state.apply_sample(messy)
            assert state.budget.used <= cap
            state.load_model(good)
            expected = MILL_SERIES + carried_series(cap)
            assert (state.budget.used, total.used) == (expected, expected), f"cycle {cycle}, cap {cap}"
        assert len(state.trackers) == MILL_TRACKED
        assert len(data_series(exposition([state]), "churn")) > 0
        state.release()
        assert (state.budget.used, total.used) == (0, 0)


def restart_and_follow(follower: AgentFollower) -> None:
    if follower.phase is Phase.SAMPLE:
        follower.step()  # sees the new instanceId: re-probes
    step_until(follower, Phase.SAMPLE)


def test_re_probes_of_a_real_agent_with_messy_models_leave_the_fixed_model_fully_exported(
    scripted: FaultyAgent,
) -> None:
    """Over HTTP: each cycle the agent restarts (new instanceId) with a bad model, then with the good one."""
    from .agents import follower_for

    follower = follower_for(scripted.url, name="messy", budget=140)
    for cycle in range(25):
        bad, fixed = f"{cycle}0", f"{cycle}1"
        scripted.script("probe", Reply(agentdocs.probe(instance_id=bad, data_items=DUPLICATED_ITEMS,
                                                       extra_devices=SECOND_DEVICE)))
        scripted.script("current", Reply(agentdocs.current_mill(instance_id=bad)))
        scripted.script("sample", Reply(messy_sample(100).replace(b'instanceId="1700000000"', f'instanceId="{bad}"'.encode())))
        restart_and_follow(follower)
        follower.step()  # the messy sample
        scripted.script("probe", Reply(agentdocs.probe(instance_id=fixed)))
        scripted.script("current", Reply(agentdocs.current_mill(instance_id=fixed)))
        scripted.script("sample", Reply(agentdocs.streams([], first=1, last=6, next_=7, instance_id=fixed)))
        restart_and_follow(follower)
        assert follower.state.budget.used == MILL_SERIES + carried_series(140), f"cycle {cycle}"
    assert follower.state.counters.restarts >= 49
    assert len(follower.state.trackers) == MILL_TRACKED


def test_a_retired_agent_gives_its_budget_back_for_good_even_when_its_probe_answers_after_the_reload(
    scripted: FaultyAgent, tmp_path: Path
) -> None:
    scripted.script("probe", Reply(agentdocs.probe()))
    scripted.script("current", Reply(agentdocs.current_mill()))
    scripted.script("sample", Reply(agentdocs.streams([], first=1, last=6, next_=7)))
    with FaultyAgent() as slow:
        slow.script("probe", Reply(agentdocs.probe(), delay=1.0))  # longer than the reload waits for a follower
        slow.script("current", Reply(agentdocs.current_mill()))
        keep = f'  - {{name: keep, url: "{scripted.url}"}}\n'
        both = parse_config(
            f'defaults: {{poll_interval: 20ms, timeout: 3s}}\nagents:\n{keep}  - {{name: gone, url: "{slow.url}"}}\n'
        )
        exporter = Exporter(both)
        exporter.start()
        try:
            wait_until(lambda: exporter.agents["keep"].state.up and slow.requests)
            gone = exporter.agents["gone"]
            exporter.reload(parse_config(f"defaults: {{poll_interval: 20ms, timeout: 3s}}\nagents:\n{keep}"))
            gone.follower._thread.join(5)  # the late probe has been answered and applied (or not)
            assert not gone.follower._thread.is_alive()
            assert gone.state.budget.used == 0
            assert exporter.total_budget.used == MILL_SERIES  # only the kept agent's series
            for limit in (5000, 6000, 5000):  # settings change: every agent is new, the old ones retire
                exporter.reload(parse_config(
                    f"global: {{max_series_per_agent: {limit}}}\ndefaults: {{poll_interval: 20ms, timeout: 3s}}\n"
                    f"agents:\n{keep}"
                ))
                wait_until(lambda: exporter.agents["keep"].state.budget.used == MILL_SERIES)
                assert exporter.total_budget.used == MILL_SERIES
        finally:
            exporter.stop()


def test_a_flood_of_fault_codes_beyond_the_cap_costs_bounded_memory_and_constant_time_per_observation(
    scripted: FaultyAgent,
) -> None:
    import time

    from factorydash.conditions import MAX_UNEXPORTED_ACTIVATIONS

    from .agents import follower_for

    batch = 4000
    scripted.script("probe", Reply(agentdocs.probe()))
    scripted.script("current", Reply(agentdocs.current_mill()))
    follower = follower_for(scripted.url, name="flood", budget=MILL_SERIES + 10, max_document_bytes=8 << 20)
    step_until(follower, Phase.SAMPLE)
    seconds = []
    for index in range(4):
        first = 7 + index * batch
        faults = [agentdocs.condition(first + i, "Fault", 1, code=f"E{first + i}") for i in range(batch)]
        scripted.script("sample", Reply(agentdocs.streams(faults, first=1, last=first + batch - 1, next_=first + batch)))
        started = time.process_time()
        follower.step()
        seconds.append(time.process_time() - started)
    state = follower.state
    with state.lock:
        condition = state.trackers["system"]
        # The ten series the cap left: five activations, each with the device's alarm seconds series.
        assert len(condition.active) == 5
        assert len(state.accounts["Mill"].losses.alarms["SYSTEM"]) == 5
        assert len(condition.unexported) == MAX_UNEXPORTED_ACTIVATIONS
        assert condition.activations["fault"] == 4 * batch  # every onset is still counted
        assert condition.level == "fault"
        # Every activation beyond the cap, and the alarm series of those remembered (the others are not
        # known to the device's account at all).
        assert state.counters.dropped_series == (4 * batch - 5) + MAX_UNEXPORTED_ACTIVATIONS
    assert state.budget.used == MILL_SERIES + 10
    # Before, each observation scanned every remembered activation: the fourth batch cost ~7x the first.
    assert seconds[3] < 2.5 * seconds[0], seconds


def test_a_200k_item_probe_keeps_only_the_items_within_the_cap(scripted: FaultyAgent) -> None:
    from factorydash.parser import DataItem

    from .agents import follower_for

    def alive_data_items() -> int:
        gc.collect()
        return sum(1 for thing in gc.get_objects() if isinstance(thing, DataItem))

    # Other tests of the session (a session-scoped live stack, say) keep their own items alive: count ours.
    before = alive_data_items()
    items = "".join(
        f'<DataItem category="SAMPLE" id="s{i}" name="sensor{i}" type="TEMPERATURE" units="CELSIUS"/>'
        for i in range(200_000)
    )
    scripted.script("probe", Reply(agentdocs.probe(data_items=f"<DataItems>{items}</DataItems>")))
    del items
    follower = follower_for(scripted.url, name="huge", budget=1000, max_document_bytes=64 << 20, timeout=30.0)
    follower.step()
    assert follower.phase is Phase.CURRENT, follower.state.last_error  # the probe was read and loaded
    scripted.script("probe", Reply(agentdocs.probe()))  # the agent's copy of the big document goes away
    alive = alive_data_items() - before
    state = follower.state
    assert len(state.trackers) == 995  # of the cap of 1000 the device takes 5, each TEMPERATURE 1
    assert state.counters.dropped_series == 200_000 - 995
    assert alive <= len(state.trackers) + 50, f"{alive} data items kept for {len(state.trackers)} trackers"
