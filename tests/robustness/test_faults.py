"""Faults of a real HTTP agent on 127.0.0.1: the follower counts them, keeps its state, and recovers.

The follower is driven synchronously with step() against the simulator
(behind a proxy that injects the fault) or a scripted agent, so every test
is deterministic and takes milliseconds of simulated time.
"""

from __future__ import annotations

import time

import pytest

from factorydash.follower import Phase
from factorydash.simulator import ShopFloor, SimulatorServer
from tests.exporter import agentdocs
from tests.exporter.agentdocs import Obs, ts

from .agents import REFUSE, FaultyAgent, Reply, catch_up, follower_for, free_port, step_until
from .conftest import START

pytestmark = pytest.mark.integration  # every test here starts a server or a process


def applied_sequences(follower) -> int:
    return follower.state.counters.observations


def test_an_agent_unreachable_at_start_is_down_and_followed_once_it_appears(shop: ShopFloor, simulator: str) -> None:
    port = free_port()
    follower = follower_for(f"http://127.0.0.1:{port}/")
    delay = follower.step()
    assert not follower.state.up
    assert follower.state.counters.errors == {"connection": 1}
    assert 0 < delay <= 30
    with FaultyAgent(simulator, port=port):
        step_until(follower, Phase.SAMPLE)
        shop.advance(30)
        catch_up(follower)
    assert follower.state.up
    assert follower.cursor == shop.agent.last_sequence + 1


def test_an_agent_going_away_and_coming_back_with_the_same_instance_loses_nothing(
    shop: ShopFloor, proxy: FaultyAgent
) -> None:
    follower = follower_for(proxy.url)
    step_until(follower, Phase.SAMPLE)
    catch_up(follower)
    before, cursor = applied_sequences(follower), follower.cursor
    proxy.script("*", REFUSE)
    shop.advance(60)
    follower.step()
    follower.step()
    assert not follower.state.up and follower.state.counters.errors["connection"] == 2
    assert follower.cursor == cursor  # retries from the same place
    proxy.heal()
    catch_up(follower)
    assert follower.state.up
    assert applied_sequences(follower) - before == shop.agent.last_sequence + 1 - cursor
    assert follower.state.counters.lost == 0
    assert follower.state.counters.restarts == 0


def test_an_agent_coming_back_with_a_new_instance_is_re_probed_and_counted_as_a_restart(
    shop: ShopFloor, proxy: FaultyAgent
) -> None:
    follower = follower_for(proxy.url)
    step_until(follower, Phase.SAMPLE)
    old_instance = follower.instance_id
    proxy.script("*", REFUSE)
    follower.step()
    shop.restart()
    shop.advance(5)
    proxy.heal()
    step_until(follower, Phase.SAMPLE)
    catch_up(follower)
    assert follower.state.counters.restarts == 1
    assert follower.instance_id != old_instance
    assert follower.instance_id == str(shop.agent.instance_id)
    assert follower.cursor == shop.agent.last_sequence + 1
    assert any("/probe" in path for path in proxy.requests[-6:])


def test_an_answer_slower_than_the_timeout_is_a_timeout_and_costs_no_more_than_the_timeout(
    proxy: FaultyAgent,
) -> None:
    follower = follower_for(proxy.url, timeout=0.2)
    step_until(follower, Phase.SAMPLE)
    proxy.script("sample", Reply(agentdocs.streams([]), delay=2.0))
    started = time.monotonic()
    follower.step()
    assert time.monotonic() - started < 1.0
    assert follower.state.counters.errors == {"timeout": 1}
    assert not follower.state.up


def test_an_agent_hanging_mid_body_is_a_timeout(proxy: FaultyAgent) -> None:
    follower = follower_for(proxy.url, timeout=0.2)
    step_until(follower, Phase.SAMPLE)
    proxy.script("sample", Reply(agentdocs.streams([]), cut_after=200, hang=True))
    started = time.monotonic()
    follower.step()
    assert time.monotonic() - started < 1.0
    assert follower.state.counters.errors == {"timeout": 1}


def test_a_connection_closed_mid_body_is_a_connection_error_and_nothing_is_applied(proxy: FaultyAgent) -> None:
    follower = follower_for(proxy.url)
    step_until(follower, Phase.SAMPLE)
    cursor, before = follower.cursor, applied_sequences(follower)
    proxy.script("sample", Reply(agentdocs.streams([agentdocs.execution(cursor, "ACTIVE", 1)]), cut_after=120))
    follower.step()
    assert follower.state.counters.errors == {"connection": 1}
    assert (follower.cursor, applied_sequences(follower)) == (cursor, before)


def _multipart(boundary: str, *documents: bytes, cut_last: int | None = None) -> bytes:
    parts = [
        f"--{boundary}\r\nContent-type: text/xml\r\nContent-length: {len(doc)}\r\n\r\n".encode() + doc + b"\r\n"
        for doc in documents
    ]
    if cut_last is not None:
        parts[-1] = parts[-1][:cut_last]
    return b"".join(parts)


def test_a_stream_closed_mid_part_keeps_the_parts_before_it_and_resumes_after_them(scripted: FaultyAgent) -> None:
    scripted.script("probe", Reply(agentdocs.probe()))
    scripted.script("current", Reply(agentdocs.current_mill()))  # next 7
    first = agentdocs.streams([agentdocs.execution(7, "ACTIVE", 1)], first=1, last=7, next_=8)
    second = agentdocs.streams([agentdocs.execution(8, "FEED_HOLD", 2)], first=1, last=8, next_=9)
    scripted.script(
        "sample",
        Reply(_multipart("XYZ", first, second, cut_last=90), content_type="multipart/mixed; boundary=XYZ", length=False),
    )
    follower = follower_for(scripted.url, stream=True)
    step_until(follower, Phase.SAMPLE)
    follower.step()
    assert follower.state.counters.errors == {"stream_closed": 1}
    assert follower.cursor == 8
    assert follower.state.trackers["exec"].current == "ACTIVE"
    assert applied_sequences(follower) == 1


def test_a_buffer_overrun_while_away_counts_exactly_the_lost_observations_and_resynchronises(proxy: FaultyAgent) -> None:
    shop = ShopFloor(seed=5, clock="manual", start=START, machines=1, buffer_size=256)
    with SimulatorServer(shop) as server:
        proxy.upstream = server.url
        follower = follower_for(proxy.url, sample_count=100)
        step_until(follower, Phase.SAMPLE)
        catch_up(follower)
        cursor = follower.cursor
        proxy.script("*", REFUSE)
        follower.step()
        shop.advance(600)  # far more than 256 observations
        assert shop.agent.first_sequence > cursor
        proxy.heal()
        applied = applied_sequences(follower)
        follower.step()  # OUT_OF_RANGE
        assert follower.phase is Phase.RESYNC
        follower.step()  # /current: what the agent still holds
        follower.step()  # /current?at=firstSequence: the state as of the oldest held observation
        assert follower.state.counters.lost == shop.agent.first_sequence - cursor
        assert applied_sequences(follower) == applied + 1  # the observation at firstSequence, nothing invented
        assert follower.state.counters.errors["mtconnect_out_of_range"] == 1
        for item_id, tracker in follower.state.trackers.items():
            value = shop.agent.value(item_id)
            if hasattr(tracker, "current") and isinstance(value, str):
                assert tracker.current == value, item_id
        catch_up(follower)
        assert follower.cursor == shop.agent.last_sequence + 1


ERROR_BODY = agentdocs.error("NO_DEVICE", "Could not find the device 'x'")


@pytest.mark.parametrize("status", [200, 400, 404, 500])
def test_an_error_document_is_recognised_by_its_root_element_under_any_status(
    scripted: FaultyAgent, status: int
) -> None:
    scripted.script("probe", Reply(ERROR_BODY, status))
    follower = follower_for(scripted.url)
    follower.step()
    assert follower.state.counters.errors == {"mtconnect_no_device": 1}
    assert "NO_DEVICE" in follower.state.last_error
    assert follower.phase is Phase.PROBE


PROXY_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"
CAPTIVE = b"<!DOCTYPE html><html><body><form action='/login'><input name=user></form></body></html>"


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(PROXY_PAGE, 502, "text/html"), "http_status"),
        (Reply(CAPTIVE, 200, "text/html"), "forbidden_dtd"),
        (Reply(b"<html><body>Sign in</body></html>", 200, "text/html"), "unexpected_root"),
        (Reply(b"", 200), "invalid_document"),
        (Reply(b"", 503), "http_status"),
        (Reply(agentdocs.streams([])[:-40], 200), "invalid_document"),
        (Reply(b'{"MTConnectStreams": {}}', 200, "application/json"), "invalid_document"),
    ],
    ids=["proxy-html-502", "captive-portal-200", "html-200", "empty-200", "empty-503", "truncated-xml", "json"],
)
def test_a_sample_that_is_not_an_mtconnect_document_is_counted_and_the_state_is_kept(
    scripted: FaultyAgent, reply: Reply, reason: str
) -> None:
    scripted.script("probe", Reply(agentdocs.probe()))
    scripted.script("current", Reply(agentdocs.current_mill()))
    scripted.script("sample", reply)
    follower = follower_for(scripted.url)
    step_until(follower, Phase.SAMPLE)
    follower.step()
    follower.step()
    assert follower.state.counters.errors == {reason: 2}
    assert not follower.state.up
    assert follower.cursor == 7
    assert follower.state.trackers["exec"].current == "READY"  # the state from /current is kept


@pytest.mark.parametrize("content_type", ["text/html", "application/octet-stream", ""])
def test_a_valid_document_under_a_wrong_content_type_is_still_used(scripted: FaultyAgent, content_type: str) -> None:
    scripted.script("probe", Reply(agentdocs.probe(), content_type=content_type))
    scripted.script("current", Reply(agentdocs.current_mill(), content_type=content_type))
    follower = follower_for(scripted.url)
    step_until(follower, Phase.SAMPLE)
    assert follower.state.up and follower.cursor == 7


def _follow_scripted(scripted: FaultyAgent, *samples: bytes, **current_kw: object):
    scripted.script("probe", Reply(agentdocs.probe()))
    scripted.script("current", Reply(agentdocs.current_mill(**current_kw)))
    scripted.script("sample", *(Reply(sample) for sample in samples))
    follower = follower_for(scripted.url)
    step_until(follower, Phase.SAMPLE)
    for _ in samples:
        follower.step()
    return follower


def test_timestamps_going_backwards_or_without_a_zone_never_take_time_away(scripted: FaultyAgent) -> None:
    follower = _follow_scripted(
        scripted,
        agentdocs.streams([Obs("exec", 7, "ACTIVE", ts(100)), Obs("exec", 8, "FEED_HOLD", ts(50))], last=8, next_=9),
        agentdocs.streams([Obs("exec", 9, "ACTIVE", ts(160).removesuffix("Z"))], last=9, next_=10),
    )
    tracker = follower.state.trackers["exec"]
    seconds = tracker.seconds_at(agentdocs.T0 + 160)
    assert follower.state.counters.errors == {}
    assert all(value >= 0 for value in seconds.values())
    assert seconds["READY"] == pytest.approx(100)  # 0 -> 100, the zone-less stamp read as UTC
    # The step back (ACTIVE 100 -> FEED_HOLD 50) books nothing; FEED_HOLD counts from its own time: 50 -> 160.
    assert seconds["FEED_HOLD"] == pytest.approx(110)
    assert tracker.transitions == {**tracker.transitions, "ACTIVE": 2, "FEED_HOLD": 1}


def test_sequence_numbers_near_two_to_the_64_are_followed_exactly(scripted: FaultyAgent) -> None:
    top = 2**64 - 1
    follower = _follow_scripted(
        scripted,
        agentdocs.streams([Obs("exec", top - 1, "ACTIVE", ts(10))], first=top - 10, last=top - 1, next_=top),
        agentdocs.streams([Obs("exec", top, "STOPPED", ts(20))], first=top - 10, last=top, next_=top + 1),
        sequence_base=top - 10,
        first=top - 10,
    )
    assert follower.state.counters.errors == {}
    assert follower.cursor == top + 1
    assert f"from={top}" in scripted.requests[-1]
    assert follower.state.trackers["exec"].current == "STOPPED"
    assert follower.state.sequence_lag() == 0


def test_duplicated_observations_are_not_counted_twice(scripted: FaultyAgent) -> None:
    twice = [
        agentdocs.part_count(7, "5", 10),
        agentdocs.part_count(7, "5", 10),
        agentdocs.execution(8, "ACTIVE", 10),
        agentdocs.execution(8, "ACTIVE", 10),
        agentdocs.condition(9, "Fault", 10, code="F1", message="Door open"),
        agentdocs.condition(9, "Fault", 10, code="F1", message="Door open"),
    ]
    document = agentdocs.streams(twice, last=9, next_=10)
    follower = _follow_scripted(scripted, document, agentdocs.streams(twice, first=1, last=9, next_=10))
    trackers = follower.state.trackers
    assert trackers["pc"].parts_total == 5
    assert trackers["exec"].transitions["ACTIVE"] == 1
    assert trackers["system"].activations["fault"] == 1
    assert len(trackers["system"].active) == 1


def test_observations_of_undeclared_data_items_trigger_a_re_probe_not_a_crash(scripted: FaultyAgent) -> None:
    new_item = '<DataItem category="EVENT" id="newmode" type="FUNCTIONAL_MODE"/>'
    items = agentdocs.MILL_DATA_ITEMS.replace("<DataItems>", "<DataItems>" + new_item, 1)
    scripted.script("probe", Reply(agentdocs.probe()), Reply(agentdocs.probe(data_items=items)))
    setup = Obs("newmode", 7, "SETUP", ts(1), "FunctionalMode", "Events", "Device", "d1")
    scripted.script("current", Reply(agentdocs.current_mill()), Reply(agentdocs.streams([setup], last=7, next_=8)))
    scripted.script("sample", Reply(agentdocs.streams([setup], last=7, next_=8)))
    follower = follower_for(scripted.url)
    step_until(follower, Phase.SAMPLE)
    follower.step()
    assert follower.phase is Phase.PROBE
    assert follower.state.counters.undeclared == 1
    step_until(follower, Phase.SAMPLE)
    assert "newmode" in follower.state.trackers
    assert follower.state.trackers["newmode"].current == "SETUP"  # from /current?at=7: read once, then applied
    assert follower.state.counters.errors == {}
    assert follower.state.up
