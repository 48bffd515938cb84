"""No hot loops: against a misbehaving agent on 127.0.0.1, the follower's own thread runs for a bounded
time and its request rate stays under a bound (issue 11, defect 5: each loop ran at 100-370 requests/s).

One rule covers every loop: a step that makes no progress backs off like a transport failure (from the
poll interval, doubling, jittered), counts a reason and logs once.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections.abc import Callable

import pytest
from lxml import etree

from factorydash.follower import Phase
from factorydash.simulator import ShopFloor
from tests.conftest import require_sample
from tests.exporter import agentdocs

from .agents import FaultyAgent, Reply, follower_for, step_until

pytestmark = pytest.mark.integration  # every test here starts a server or a process

POLL = 0.05
RUN_SECONDS = 1.0
# A healthy agent polled every 50 ms costs at most 20 requests a second; a backing-off loop far fewer.
MAX_REQUESTS = 25


def run_follower(url: str, while_running: Callable[[], None] = lambda: None, **overrides: object):
    """The follower in its own thread for RUN_SECONDS; `while_running` is called every 50 ms meanwhile."""
    follower = follower_for(url, poll_interval=POLL, **overrides)
    follower.start()
    stop = threading.Event()
    deadline = time.monotonic() + RUN_SECONDS
    while time.monotonic() < deadline and not stop.wait(0.05):
        while_running()
    follower.stop(timeout=2.0)
    assert not follower._thread.is_alive()
    return follower


def simulator_probe(simulator: str) -> bytes:
    with urllib.request.urlopen(simulator + "probe", timeout=5) as response:
        return response.read()


def count(agent: FaultyAgent, request: str) -> int:
    return sum(1 for path in agent.requests if path.split("?")[0].endswith("/" + request))


def test_undeclared_items_re_probe_once_and_the_stream_is_still_read_to_its_end(
    shop: ShopFloor, simulator: str, proxy: FaultyAgent
) -> None:
    # The probe hides the execution items the floor keeps producing: every sample carries undeclared ones.
    model = simulator_probe(simulator)
    hidden = model.replace(b'type="EXECUTION"', b'type="EXECUTION" hidden="1"')
    lines = [line for line in hidden.split(b"<DataItem ") if b'hidden="1"' not in line]
    proxy.script("probe", Reply(b"<DataItem ".join(lines)))
    start = shop.agent.last_sequence + 1

    follower = run_follower(proxy.url, lambda: shop.advance(30))
    counters = follower.state.counters

    assert counters.undeclared > 0
    assert count(proxy, "probe") == 2  # first contact, then at most one re-probe a minute
    assert count(proxy, "current") == 1  # the same model: no resynchronisation
    assert counters.restarts == 0 and counters.lost == 0
    assert counters.observations >= follower.cursor - start - 1  # everything up to the cursor was read
    assert follower.cursor >= shop.agent.last_sequence - 2000  # and the cursor kept up with the floor


def test_a_probe_whose_instance_id_disagrees_with_the_stream_backs_off_and_counts_no_restart(
    simulator: str, proxy: FaultyAgent
) -> None:
    model = simulator_probe(simulator)
    proxy.script("probe", Reply(model.replace(b'instanceId="', b'instanceId="9', 1)))

    follower = run_follower(proxy.url)

    assert len(proxy.requests) <= MAX_REQUESTS
    assert follower.state.counters.restarts == 0
    assert follower.state.counters.errors.get("identity_mismatch", 0) >= 2


def test_a_probe_whose_model_change_time_disagrees_with_the_stream_is_probed_once_and_followed(
    shop: ShopFloor, simulator: str, proxy: FaultyAgent
) -> None:
    model = simulator_probe(simulator)
    assert b"deviceModelChangeTime" in model
    proxy.script("probe", Reply(model.replace(b'deviceModelChangeTime="', b'deviceModelChangeTime="1999', 1)))

    follower = run_follower(proxy.url, lambda: shop.advance(5))

    assert count(proxy, "probe") == 1
    assert follower.state.counters.restarts == 0
    assert follower.state.counters.errors == {}
    assert follower.state.counters.observations > 0


NEGATIVE = agentdocs.streams([], last=9, next_=7).replace(b'nextSequence="7"', b'nextSequence="-5"')


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        (Reply(agentdocs.streams([], first=1, last=5, next_=6)), "invalid_document"),  # backwards from 7
        (Reply(NEGATIVE), "invalid_document"),
        (Reply(agentdocs.streams([], first=1, last=100, next_=7)), "stalled"),  # next == from, more claimed
        (Reply(agentdocs.error("OUT_OF_RANGE", "'from' must be greater than 6"), 400), "out_of_range_held"),
    ],
    ids=["nextSequence backwards", "nextSequence negative", "nextSequence == from", "OUT_OF_RANGE every time"],
)
def test_a_sample_that_makes_no_progress_backs_off(scripted: FaultyAgent, sample: Reply, reason: str) -> None:
    scripted.script("probe", Reply(agentdocs.probe()))
    scripted.script("current", Reply(agentdocs.current_mill(last=100, next_=7)))  # the cursor is 7
    scripted.script("sample", sample)

    follower = run_follower(scripted.url)

    assert len(scripted.requests) <= MAX_REQUESTS
    assert follower.state.counters.errors.get(reason, 0) >= 2
    assert follower.state.counters.lost == 0


def between(current: bytes, start: int, end: int) -> bytes:
    """The real /current's observations with start <= sequence < end, as a /sample answer ending at `end`."""
    root = etree.fromstring(current)
    for element in list(root.iter()):
        sequence = element.get("sequence")
        if sequence is not None and not start <= int(sequence) < end:
            element.getparent().remove(element)
    header = next(element for element in root.iter() if etree.QName(element).localname == "Header")
    header.set("nextSequence", str(end))
    return etree.tostring(root)


def without_asset_items(probe: bytes) -> bytes:
    root = etree.fromstring(probe)
    for item in root.xpath("//*[local-name()='DataItem'][@type='ASSET_CHANGED' or @type='ASSET_REMOVED']"):
        item.getparent().remove(item)
    return etree.tostring(root)


def test_a_real_cppagent_buffer_with_two_undeclared_asset_items_is_read_to_its_end(scripted: FaultyAgent) -> None:
    # cppagent 2.5 fed the NIST Mazak03 log: its buffer holds the agent's own AssetChanged and AssetRemoved
    # observations (sequences 64, 65). The agent adds those two items to the model itself; a probe made from
    # the NIST device file alone - as in the NIST 2016 dumps - does not declare them.
    folder = "cppagent-2.5.0.11-mazak03-schema1.3/"
    probe = without_asset_items(require_sample(folder + "probe.xml").read_bytes())
    current = require_sample(folder + "current.xml").read_bytes()
    sample = require_sample(folder + "sample-200.xml").read_bytes()  # from=308: 308..507, nextSequence 508
    assert b"Mazak03_asset_chg" in current and b"Mazak03_asset_chg" not in probe
    scripted.script("probe", Reply(probe))
    scripted.script("current", Reply(between(current, 1, 64)))  # the follower joined at sequence 64
    scripted.script(
        "sample",
        Reply(between(current, 64, 308)),
        Reply(sample),
        Reply(between(current, 508, 608)),
        Reply(between(current, 608, 608)),
    )
    follower = follower_for(scripted.url, sample_count=1000, poll_interval=POLL)
    step_until(follower, Phase.SAMPLE)

    for _ in range(8):
        follower.step()

    counters = follower.state.counters
    assert follower.cursor == 608  # read to the end of the buffer
    assert counters.undeclared == 2
    assert count(scripted, "probe") == 2 and count(scripted, "current") == 1
    assert counters.errors == {"reprobe_unchanged": 1}
    assert counters.lost == 0 and counters.restarts == 0
    assert counters.observations == len(etree.fromstring(between(current, 64, 308)).xpath("//*[@sequence]")) + 200 + len(
        etree.fromstring(between(current, 508, 608)).xpath("//*[@sequence]")
    )
