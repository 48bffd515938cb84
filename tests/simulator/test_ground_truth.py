"""Ground truth equals what the emitted observation stream implies; seeds are deterministic."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from factorydash.simulator import (
    AdapterDropout,
    ConditionFault,
    ConditionWarning,
    EmergencyStop,
    FeedHold,
    RealClock,
    ShopFloor,
    SimulatorServer,
)

from .helpers import get, header, local, observations

NOON = datetime(2026, 1, 5, 12, 20, tzinfo=UTC)  # the window crosses a break (12:30) and a shift change (14:00)
HOURS = 2


def _us(timestamp: str) -> int:
    moment = datetime.fromisoformat(timestamp)
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))


def _read_whole_stream(url: str) -> list:
    found, cursor = [], 1
    while True:
        root = get(url + f"sample?from={cursor}&count=20000").root
        found += observations(root)
        cursor = int(header(root)["nextSequence"])
        if cursor > int(header(root)["lastSequence"]):
            return found


def _integrate(items: dict, stream: list, device: str, start_us: int, end_us: int) -> dict:
    """What a client following the stream computes, written independently of the simulator."""
    timelines: dict[str, list[tuple[int, str]]] = defaultdict(list)
    parts: dict[str, int] = defaultdict(int)
    last_count: dict[str, int] = {}
    active: dict[str, set[str]] = defaultdict(set)
    onsets: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for obs in stream:
        di = items[obs.get("dataItemId")]
        if di.device != device:
            continue
        t = _us(obs.get("timestamp"))
        if di.category == "CONDITION":
            level, code = local(obs), obs.get("nativeCode", "")
            if level in ("Fault", "Warning"):
                if code not in active[di.id]:
                    active[di.id].add(code)
                    onsets[level].append((t, code))
            elif level == "Normal" and code:
                active[di.id].discard(code)
            else:
                active[di.id].clear()
        elif di.type in ("EXECUTION", "AVAILABILITY", "CONTROLLER_MODE", "EMERGENCY_STOP"):
            timelines[di.type].append((t, obs.text))
        elif di.type == "PART_COUNT" and obs.text.isdigit():
            value = int(obs.text)
            previous = last_count.get(di.sub_type)
            if previous is not None and start_us <= t < end_us:
                parts[di.sub_type] += value - previous if value >= previous else value
            last_count[di.sub_type] = value

    def seconds(kind: str) -> dict[str, float]:
        totals: dict[str, int] = defaultdict(int)
        timeline = timelines[kind]
        for i, (t, value) in enumerate(timeline):
            t_next = timeline[i + 1][0] if i + 1 < len(timeline) else end_us
            overlap = min(t_next, end_us) - max(t, start_us)
            if overlap > 0:
                totals[value] += overlap
        return {k: v / 1e6 for k, v in totals.items()}

    return {
        "execution": seconds("EXECUTION"),
        "availability": seconds("AVAILABILITY"),
        "mode": seconds("CONTROLLER_MODE"),
        "parts": dict(parts),
        "faults": [(t, c) for t, c in onsets["Fault"] if start_us <= t < end_us],
        "warnings": [(t, c) for t, c in onsets["Warning"] if start_us <= t < end_us],
        "estops": [t for i, (t, v) in enumerate(timelines["EMERGENCY_STOP"])
                   if v == "TRIGGERED" and start_us <= t < end_us],
    }


@pytest.mark.integration
def test_ground_truth_equals_what_the_sample_stream_implies():
    shop = ShopFloor(seed=11, clock="manual", start=NOON, buffer_size=500_000)
    shop.schedule(60, EmergencyStop("Mill5X-01", 120))
    shop.schedule(600, FeedHold("Lathe-02", 900))
    shop.schedule(1200, ConditionFault("VMC-03", 300, condition="actuator", native_code="SV0401", text="SERVO V-READY OFF"))
    shop.schedule(1300, ConditionWarning("VMC-03", 600, condition="coolant", native_code="2025"))
    shop.schedule(1310, ConditionWarning("VMC-03", 600, condition="coolant", native_code="2026"))
    shop.schedule(2000, AdapterDropout("Mill5X-01", 300))
    with SimulatorServer(shop) as server:
        shop.advance(HOURS * 3600)
        stream = _read_whole_stream(server.url)
    items = shop.agent.items
    assert len(stream) == shop.agent.last_sequence
    for device in ("Mill5X-01", "Lathe-02", "VMC-03"):
        for start_s, end_s in ((0, HOURS * 3600), (1800, 7200)):
            truth = shop.ground_truth(device, start_s, end_s)
            implied = _integrate(items, stream, device, shop.time_us(start_s), shop.time_us(end_s))
            assert truth.execution_seconds == pytest.approx(implied["execution"], abs=1e-6)
            assert truth.availability_seconds == pytest.approx(implied["availability"], abs=1e-6)
            assert truth.controller_mode_seconds == pytest.approx(implied["mode"], abs=1e-6)
            assert sum(truth.execution_seconds.values()) == pytest.approx(end_s - start_s)
            assert truth.parts == implied["parts"]
            assert [(_us(o.time.isoformat()), o.native_code) for o in truth.fault_onsets] == implied["faults"]
            assert [(_us(o.time.isoformat()), o.native_code) for o in truth.warning_onsets] == implied["warnings"]
            assert [_us(t.isoformat()) for t in truth.emergency_stop_onsets] == implied["estops"]

    mill = shop.ground_truth("Mill5X-01", 0, HOURS * 3600)
    assert mill.emergency_stop_onsets[0] == NOON + timedelta(seconds=60)
    assert mill.availability_seconds["UNAVAILABLE"] == pytest.approx(300)
    assert mill.execution_seconds["STOPPED"] >= 120
    lathe = shop.ground_truth("Lathe-02", 0, HOURS * 3600)
    assert lathe.execution_seconds["FEED_HOLD"] >= 900
    assert lathe.parts["ALL"] > 0 and lathe.parts["GOOD"] > 0
    vmc = shop.ground_truth("VMC-03", 1000, 2000)
    assert ("SV0401", "ACTUATOR") in {(o.native_code, o.condition_type) for o in vmc.fault_onsets}
    assert {"2025", "2026"} <= {o.native_code for o in vmc.warning_onsets}


def test_part_counts_reset_at_the_shift_change_but_parts_keep_counting():
    # The demo calendar's shift change is 14:00 Europe/Berlin: 13:00 UTC in January, an hour in.
    shop = ShopFloor(seed=2, clock="manual", start=datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    shop.advance(3600 + 600)
    lathe = shop.machine("Lathe-02")
    count_item = lathe.items["part_count_all"]
    assert int(shop.agent.value(count_item)) < 5
    assert shop.ground_truth("Lathe-02", 0, 3600 + 600).parts["ALL"] > int(shop.agent.value(count_item))


def test_the_same_seed_gives_the_same_observations_whatever_the_request_pattern():
    a = ShopFloor(seed=42, clock="manual", start=NOON)
    b = ShopFloor(seed=42, clock="manual", start=NOON)
    a.advance(1800)
    for _ in range(180):
        b.advance(10)
        b.agent.current(None)
    assert a.agent.sample(None, 1, 100_000)[0].replace(b"06:00", b"") == b.agent.sample(None, 1, 100_000)[0].replace(b"06:00", b"")
    c = ShopFloor(seed=43, clock="manual", start=NOON)
    c.advance(1800)
    assert a.agent.last_sequence != c.agent.last_sequence or a.agent.sample(None, 1, 5000)[0] != c.agent.sample(None, 1, 5000)[0]


def test_hours_of_simulated_time_run_in_seconds_without_sleeping():
    shop = ShopFloor(seed=1, clock="manual", start=NOON, buffer_size=4096)
    began = time.monotonic()
    shop.advance(2 * 3600)
    assert time.monotonic() - began < 30
    truth = shop.ground_truth("VMC-03", 0, 2 * 3600)
    assert sum(truth.execution_seconds.values()) == pytest.approx(2 * 3600)
    assert truth.parts["ALL"] > 4
    assert shop.agent.first_sequence > 1


def test_speed_multiplies_real_time(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    clock = RealClock(start_us=0, speed=60)
    now[0] += 2.5
    assert clock.now_us() == 150_000_000


def test_extra_items_change_at_the_configured_rate():
    shop = ShopFloor(seed=1, clock="manual", start=NOON, machines=1, extra_items=20, change_rate=2.0)
    before = shop.agent.last_sequence
    shop.advance(10)
    extras = [o for o in shop.agent.sample(None, before + 1, 100_000)[0].split(b"<") if b'name="extra_' in o]
    assert len(extras) == pytest.approx(20 * 2 * 10, rel=0.05)
