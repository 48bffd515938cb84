"""Buffer and sequence semantics: firstSequence/lastSequence/nextSequence, errors, restarts."""

from __future__ import annotations

import pytest

from factorydash.simulator import AgentRestart, ShopFloor, SimulatorServer

from .helpers import START, error_code, get, header, observations

pytestmark = pytest.mark.integration  # every test here starts a server or a process


def test_next_sequence_is_the_first_sequence_not_in_the_document(served):
    shop, url = served
    shop.advance(600)
    h = header(get(url + "current").root)
    root = get(url + f"sample?from={int(h['lastSequence']) - 40}&count=25").root
    sequences = [int(o.get("sequence")) for o in observations(root)]
    assert sequences == list(range(int(h["lastSequence"]) - 40, int(h["lastSequence"]) - 15))
    assert int(header(root)["nextSequence"]) == sequences[-1] + 1


def test_sample_from_the_end_is_empty_and_points_at_the_next_observation(served):
    shop, url = served
    shop.advance(60)
    last = int(header(get(url + "current").root)["lastSequence"])
    root = get(url + f"sample?from={last + 1}").root
    assert observations(root) == [] and root.find("{*}Streams") is not None
    assert int(header(root)["nextSequence"]) == last + 1


def test_path_filter_makes_next_sequence_jump_past_non_matching_observations(served):
    shop, url = served
    shop.advance(1800)
    h = header(get(url + "current").root)
    root = get(url + "sample?from=1&count=5&path=//DataItem[@type='EXECUTION']").root
    found = observations(root)
    assert {o.get("dataItemId").split("_", 1)[1] for o in found} == {"execution"}
    assert len(found) == 5
    assert int(header(root)["nextSequence"]) == int(found[-1].get("sequence")) + 1
    # fewer matches than count: the cursor moves past everything held
    root = get(url + "Lathe-02/sample?from=1&count=1000&path=//Door").root
    assert 0 < len(observations(root)) < 1000
    assert int(header(root)["nextSequence"]) == int(h["lastSequence"]) + 1


def test_path_selects_the_data_items_under_matched_components(served):
    shop, url = served
    shop.advance(120)
    root = get(url + "current?path=//Axes").root
    components = {cs.get("component") for cs in root.iter("{*}ComponentStream")}
    assert components == {"Axes", "Linear", "Rotary"}


@pytest.mark.parametrize(
    ("version", "expected_status"), [("1.3", 200), ("1.8", 400), ("2.0", 400), ("2.5", 400)]
)
def test_from_older_than_the_buffer_after_it_wrapped_is_out_of_range(version, expected_status):
    shop = ShopFloor(seed=3, clock="manual", start=START, schema_version=version, buffer_size=1024)
    with SimulatorServer(shop) as server:
        shop.advance(900)
        h = header(get(server.url + "current").root)
        assert int(h["firstSequence"]) > 1
        assert int(h["lastSequence"]) - int(h["firstSequence"]) + 1 == 1024
        reply = get(server.url + "sample?from=1&count=10")
        assert reply.status == expected_status
        assert error_code(reply.root) == "OUT_OF_RANGE"
        assert reply.root.find("{*}Errors/{*}Error").text == f"'from' must be greater than {int(h['firstSequence']) - 1}"
        assert reply.root.nsmap[None] == f"urn:mtconnect.org:MTConnectError:{version}"


@pytest.mark.parametrize(("version", "expected_status"), [("1.3", 200), ("2.0", 400)])
def test_from_in_the_future_is_out_of_range(version, expected_status):
    shop = ShopFloor(seed=3, clock="manual", start=START, schema_version=version)
    with SimulatorServer(shop) as server:
        last = int(header(get(server.url + "current").root)["lastSequence"])
        reply = get(server.url + f"sample?from={last + 2}")
        assert (reply.status, error_code(reply.root)) == (expected_status, "OUT_OF_RANGE")
        assert reply.root.find("{*}Errors/{*}Error").text == f"'from' must be less than {last + 2}"


def test_errors_carry_cppagent_codes_and_statuses(served):
    _, url = served
    cases = {
        "NoSuchDevice/current": (404, "NO_DEVICE"),
        "nonexistent/thing/here": (404, "INVALID_URI"),
        "current?path=//NoSuchComponent": (400, "INVALID_XPATH"),
        "current?path=//%5B%5B": (400, "INVALID_XPATH"),
        "sample?from=abc": (400, "INVALID_PARAMETER_VALUE"),
        "sample?count=100000000": (400, "OUT_OF_RANGE"),
        "current?at=0": (400, "OUT_OF_RANGE"),
    }
    for path, expected in cases.items():
        reply = get(url + path)
        assert (reply.status, error_code(reply.root)) == expected, path


def test_current_at_a_sequence_shows_the_values_of_that_moment(served):
    shop, url = served
    shop.advance(300)
    full = get(url + "sample?from=1&count=2000&path=//DataItem[@type='EXECUTION']").root
    first_change = [o for o in observations(full) if o.text != "UNAVAILABLE"][3]
    at = int(first_change.get("sequence"))
    root = get(url + f"current?at={at}&path=//DataItem[@type='EXECUTION']").root
    values = {o.get("dataItemId"): o for o in observations(root)}
    assert values[first_change.get("dataItemId")].text == first_change.text
    assert int(header(root)["nextSequence"]) == at + 1


def test_restart_changes_instance_id_and_starts_a_new_buffer(served):
    shop, url = served
    shop.advance(60)
    before = header(get(url + "current").root)
    shop.schedule(90, AgentRestart())
    shop.advance(60)
    after = header(get(url + "current").root)
    assert after["instanceId"] != before["instanceId"]
    assert after["firstSequence"] == "1"
    assert after["deviceModelChangeTime"] == "2026-01-05T06:01:30.000000Z"
    old_cursor = int(before["lastSequence"]) + 1
    reply = get(url + f"sample?from={old_cursor + 100000}")
    assert error_code(reply.root) == "OUT_OF_RANGE"
    current = get(url + "Mill5X-01/current").root
    assert current.find(".//{*}Availability").text == "AVAILABLE"
    shop.restart()
    assert header(get(url + "current").root)["instanceId"] != after["instanceId"]
