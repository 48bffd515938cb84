"""The booking rule of docs/time-accounting.md (sections 1-4): every expected second is worked out by hand here.

Times are seconds after T0 (2026-11-23T10:00:00Z, `ts`); each document says when the agent created
it (`creation_time`), which is A, the only clock that makes open intervals grow.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from factorydash.collector import FactorydashCollector
from factorydash.exposition import render_metrics
from factorydash.limits import SeriesBudget
from factorydash.parser import parse_document
from factorydash.planning import calendar_for
from factorydash.state import AgentState, StateSettings

from .agentdocs import T0, Obs, condition, execution, part_count, probe, streams, ts


def new_state(limit: int = 100_000) -> AgentState:
    state = AgentState("mill", "http://agent.test/", StateSettings(), SeriesBudget(limit))
    state.load_model(parse_document(probe()))
    return state


def stamp_2016(seconds: float) -> str:
    """The adapter's clock of a replayed 2016 log: 2016-05-02T10:00:00Z plus `seconds`."""
    moment = datetime(2016, 5, 2, 10, 0, 0, tzinfo=timezone.utc) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def mill_current(at: str, creation: str, execution_value: str = "READY", available: str = "AVAILABLE",
                 sample_at: str | None = None, **header_kw) -> object:
    observations = [
        Obs("avail", 1, available, at, "Availability", "Events", "Device", "d1"),
        Obs("exec", 2, execution_value, at, "Execution"),
        Obs("mode", 3, "AUTOMATIC" if available == "AVAILABLE" else "UNAVAILABLE", at, "ControllerMode"),
        Obs("pc", 4, "0" if available == "AVAILABLE" else "UNAVAILABLE", at, "PartCount"),
        Obs("system", 5, "", at, "Normal" if available == "AVAILABLE" else "Unavailable", "Condition", "Controller",
            "cont", {"type": "SYSTEM"}),
    ]
    if sample_at is not None:
        observations.append(Obs("xpos", 6, "1.5", sample_at, "Position", "Samples", "Linear", "x"))
    return parse_document(streams(observations, creation_time=creation, first=1, last=6, next_=7, **header_kw))


def doc(*observations: Obs, creation: float, **header_kw) -> object:
    return parse_document(streams(observations, creation_time=ts(creation), **header_kw))


def heartbeat(creation: float, **header_kw) -> object:
    return parse_document(streams([], creation_time=ts(creation), **header_kw))


def exec_at(sequence: int, value: str, timestamp: str) -> Obs:
    return Obs("exec", sequence, value, timestamp, "Execution")


def seconds(state: AgentState) -> dict[str, float]:
    """Seconds per EXECUTION value as a scrape reads them now (open interval included), zeros left out."""
    tracker = state.trackers["exec"]
    return {value: amount for value, amount in tracker.seconds_at(state.clock.now).items() if amount}


def device_time(state: AgentState, device: str = "Mill") -> dict[str, float]:
    account = state.accounts[device]
    plan = state.plan_for(state.name, device)
    totals = account.view(state.clock.now, plan, calendar_for(plan)).totals.seconds
    return {element: amount for element, amount in totals.items() if amount}


def rejected(state: AgentState) -> dict[str, int]:
    return {reason: count for reason, count in state.counters.timestamps_rejected.items() if count}


# -- two clocks ------------------------------------------------------------------------------------


def test_adapter_data_of_2016_behind_an_agent_clock_of_2026_is_booked_exactly():
    state = new_state()
    # cppagent's start-up: every item UNAVAILABLE, stamped with the agent's clock (2026).
    state.apply_current(mill_current(ts(0), ts(0), "UNAVAILABLE", "UNAVAILABLE"), initial=True)
    # The adapter connects and replays its 2016 log.
    state.apply_sample(doc(exec_at(7, "READY", stamp_2016(0)),
                           Obs("avail", 8, "AVAILABLE", stamp_2016(0), "Availability", "Events", "Device", "d1"),
                           Obs("mode", 9, "AUTOMATIC", stamp_2016(0), "ControllerMode"), creation=10))
    state.apply_sample(doc(exec_at(10, "ACTIVE", stamp_2016(100)), creation=20))
    state.apply_sample(doc(exec_at(11, "READY", stamp_2016(400)), creation=30))
    state.apply_sample(doc(exec_at(12, "ACTIVE", stamp_2016(450)), creation=40))

    # READY 0..100 and 400..450, ACTIVE 100..400 of the 2016 clock (and since 450: nothing shown yet); the
    # 2026 start-up books nothing (its interval had exposed nothing when the first 2016 observation closed it).
    assert seconds(state) == {"READY": 150.0, "ACTIVE": 300.0}
    assert device_time(state) == {"planned_busy": 450.0, "down": 150.0, "production": 300.0}
    assert rejected(state) == {}  # the jump to 2016 was confirmed by the next observation: no outlier


# -- steps back, outliers, jumps, the future --------------------------------------------------------


def test_a_step_back_books_nothing_and_the_next_interval_counts_from_the_new_time():
    state = new_state()
    state.apply_current(mill_current(ts(0), ts(0)), initial=True)
    state.apply_sample(doc(execution(10, "ACTIVE", 100), execution(11, "FEED_HOLD", 90), execution(12, "ACTIVE", 120),
                           creation=120))
    # READY 0..100; ACTIVE 100, then back to 90: nothing; FEED_HOLD 90..120; ACTIVE since 120 (nothing exposed yet).
    assert seconds(state) == {"READY": 100.0, "FEED_HOLD": 30.0}
    assert state.trackers["exec"].transitions["ACTIVE"] == 2


def test_a_lone_past_outlier_books_nothing_and_is_counted():
    state = new_state()
    state.apply_current(mill_current(ts(0), ts(0)), initial=True)
    state.apply_sample(doc(execution(10, "ACTIVE", 100), creation=100))
    state.apply_sample(heartbeat(150))  # ACTIVE has shown 50 s
    a_year_ago = "2025-11-23T10:03:20.000000Z"
    state.apply_sample(doc(exec_at(11, "FEED_HOLD", a_year_ago), creation=200))
    state.apply_sample(doc(execution(12, "READY", 300), creation=300))
    state.apply_sample(doc(execution(13, "ACTIVE", 400), creation=400))

    # READY 0..100 and 300..400; ACTIVE keeps the 50 s it showed (a jump tells nothing about how long it
    # lasted); the outlier's FEED_HOLD books what it showed: nothing (its document was the newest).
    assert seconds(state) == {"READY": 200.0, "ACTIVE": 50.0}
    assert rejected(state) == {"outlier": 1}
    assert state.trackers["exec"].transitions["FEED_HOLD"] == 1  # its value was applied


def test_an_observation_stamped_9999_12_31_books_nothing_and_active_time_goes_on_after_it():
    state = new_state()
    state.apply_current(mill_current(ts(0), ts(0)), initial=True)
    state.apply_sample(doc(execution(10, "ACTIVE", 100), creation=100))
    state.apply_sample(heartbeat(150))
    state.apply_sample(doc(exec_at(11, "READY", "9999-12-31T23:59:59.000000Z"), creation=200))
    state.apply_sample(doc(execution(12, "ACTIVE", 300), creation=300))
    state.apply_sample(doc(execution(13, "READY", 400), creation=400))

    # READY 0..100 (+ 0 for the outlier); ACTIVE 50 shown before the outlier, then 300..400.
    assert seconds(state) == {"READY": 100.0, "ACTIVE": 150.0}
    assert rejected(state) == {"future": 1, "outlier": 1}


def test_a_device_clock_that_really_jumps_is_followed_after_its_second_observation():
    state = new_state()
    state.apply_current(mill_current(ts(0), ts(0)), initial=True)
    day = 86400
    state.apply_sample(doc(execution(10, "ACTIVE", 100), creation=100))
    state.apply_sample(heartbeat(160))
    state.apply_sample(doc(execution(11, "READY", 200 - day), creation=200))  # the adapter reconnects a day behind
    state.apply_sample(doc(execution(12, "ACTIVE", 250 - day), creation=250))
    state.apply_sample(doc(execution(13, "READY", 300 - day), creation=300))

    # READY 0..100, ACTIVE shown 60 s before the jump; then the new timeline: READY 50, ACTIVE 50.
    assert seconds(state) == {"READY": 150.0, "ACTIVE": 110.0}
    assert rejected(state) == {}


def test_a_time_beyond_the_agents_clock_is_clamped_to_creation_time_plus_the_skew():
    state = new_state()
    state.apply_current(mill_current(ts(0), ts(0)), initial=True)
    state.apply_sample(doc(execution(10, "ACTIVE", 100), creation=100))
    state.apply_sample(doc(execution(11, "READY", 600), creation=200))  # 400 s ahead of its document: clamped to 500
    state.apply_sample(doc(execution(12, "ACTIVE", 300), creation=300))  # back to 300: READY books nothing

    assert seconds(state) == {"READY": 100.0, "ACTIVE": 400.0}
    assert rejected(state) == {"future": 1}


def test_an_unparsable_timestamp_applies_the_value_and_books_exposed_parts_only():
    state = new_state()
    state.apply_current(mill_current(ts(0), ts(0)), initial=True)
    state.apply_sample(doc(exec_at(10, "ACTIVE", "yesterday at noon"), creation=100))
    state.apply_sample(heartbeat(160))
    state.apply_sample(doc(execution(11, "READY", 200), creation=200))

    # READY had shown nothing when the unparsable ACTIVE closed it; ACTIVE's start is unknown: it books
    # the 60 s it showed (100 .. 160).
    assert seconds(state) == {"ACTIVE": 60.0}
    assert state.trackers["exec"].transitions["ACTIVE"] == 1
    assert rejected(state) == {"unparsable": 1}


# -- exposure and restarts -----------------------------------------------------------------------


def test_what_a_scrape_showed_is_never_taken_back():
    state = new_state()
    state.apply_current(mill_current(ts(0), ts(0)), initial=True)
    script = [
        doc(execution(10, "ACTIVE", 100), creation=100),
        heartbeat(200),  # ACTIVE shows 100 s
        doc(execution(11, "READY", 150), creation=210),  # the agent says ACTIVE ended at 150: 100 s stay
        doc(execution(12, "ACTIVE", 140), creation=220),  # a step back: READY books what it showed (0)
        heartbeat(300),
        doc(execution(13, "STOPPED", 290), creation=310),
    ]
    shown = []
    for document in script:
        state.apply_sample(document)
        shown.append((seconds(state), device_time(state)))
    for (before, elements_before), (after, elements_after) in zip(shown, shown[1:]):
        assert all(after.get(value, 0.0) >= amount for value, amount in before.items())
        assert all(elements_after.get(element, 0.0) >= amount for element, amount in elements_before.items())
    # READY 0..100; ACTIVE 100 (shown), then 140..290 (150 s)
    assert seconds(state) == {"READY": 100.0, "ACTIVE": 250.0}


def test_an_exporter_restarted_after_a_weekend_books_from_the_documents_time_not_from_friday():
    friday_evening = "2026-11-20T18:00:00.000000Z"
    monday_7 = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)

    def monday(seconds: float) -> str:
        return (monday_7 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    state = new_state()
    # Every value was set on Friday; one sample moved a minute ago, so the two clocks agree.
    state.apply_current(mill_current(friday_evening, monday(0), sample_at=monday(-60)), initial=True)
    state.apply_sample(parse_document(streams([exec_at(10, "ACTIVE", monday(25))], creation_time=monday(30))))

    assert seconds(state) == {"READY": 25.0}  # 07:00:00 .. 07:00:25, not 61 hours
    assert device_time(state) == {"planned_busy": 25.0, "down": 25.0}


def test_counters_survive_a_re_probe_and_a_new_agent_instance_whose_gap_is_unavailable():
    state = new_state()
    state.apply_current(mill_current(ts(0), ts(0)), initial=True)
    state.apply_sample(doc(execution(10, "ACTIVE", 100), part_count(11, "3", 100),
                           condition(12, "Fault", 100, "A1", "overload"), condition(13, "Normal", 100, "A1"),
                           creation=100))
    old_tracker = state.trackers["exec"]

    state.load_model(parse_document(probe()))  # a re-probe, same instance (an undeclared item, say)
    assert state.trackers["exec"] is not old_tracker
    state.apply_current(parse_document(streams([execution(10, "ACTIVE", 100), part_count(11, "3", 100)],
                                               creation_time=ts(150))), initial=True)
    state.apply_sample(doc(execution(20, "READY", 200), part_count(21, "4", 200), creation=200))
    assert seconds(state) == {"READY": 100.0, "ACTIVE": 100.0}  # the ACTIVE interval went on through the re-probe
    assert state.trackers["pc"].parts_total == 4
    assert state.trackers["system"].activations == {"warning": 0, "fault": 1}

    # The agent restarts: its last document said 200 s, the new instance's first one says 260 s.
    state.load_model(parse_document(probe(instance_id="1700000002")))
    state.apply_current(mill_current(ts(255), ts(260), "UNAVAILABLE", "UNAVAILABLE", instance_id="1700000002"),
                        initial=True)
    state.apply_sample(doc(execution(7, "READY", 300), creation=300, instance_id="1700000002"))
    # READY 0..100 and 200..200 (closed at the restart with what it showed: 0), then 300 .. now (0).
    # UNAVAILABLE 260..300.
    assert seconds(state) == {"READY": 100.0, "ACTIVE": 100.0, "UNAVAILABLE": 40.0}
    assert state.trackers["pc"].parts_total == 4
    elements = device_time(state)
    # production 100..200, down 0..100, then the restart gap 200..260 and the start-up 260..300 unavailable.
    assert elements == {"planned_busy": 300.0, "down": 100.0, "production": 100.0, "unavailable": 100.0}


def test_an_out_of_vocabulary_value_refused_by_the_cap_still_ends_the_previous_state():
    state = new_state()
    state.apply_current(mill_current(ts(0), ts(0)), initial=True)
    state.apply_sample(doc(execution(10, "ACTIVE", 100), creation=100))
    state.budget.limit = state.budget.used  # no room for a new state series
    state.apply_sample(doc(execution(11, "WARMING_UP", 200), creation=200))
    state.apply_sample(doc(execution(12, "ACTIVE", 1300), creation=1300))
    state.apply_sample(doc(execution(13, "READY", 1400), creation=1400))

    assert seconds(state) == {"READY": 100.0, "ACTIVE": 200.0}  # 100..200 and 1300..1400, not 1,200
    assert "WARMING_UP" not in list(state.trackers["exec"].all_states())
    assert state.counters.dropped_series == 3


def test_a_catch_up_read_in_several_answers_books_what_happened_not_when_it_was_read():
    state = new_state()
    state.apply_current(mill_current(ts(0), ts(0)), initial=True)
    state.apply_sample(doc(execution(10, "ACTIVE", 50), creation=100, last=10, next_=11))
    # The exporter falls behind: at 400 s the agent holds sequences 11..13 and answers them in two parts.
    state.apply_sample(doc(Obs("xpos", 11, "1.0", ts(120), "Position", "Samples", "Linear", "x"),
                           creation=400, last=13, next_=12))  # more is buffered: this is not the present
    assert state.clock.now == T0 + 100  # A stays at the last answer that reached the head of the buffer
    assert seconds(state) == {"READY": 50.0}
    state.apply_sample(doc(execution(12, "READY", 150), execution(13, "ACTIVE", 300), creation=400, last=13, next_=14))

    # ACTIVE 50..150 (not the 350 s up to the answer that did not hold its end), READY 0..50 and 150..300.
    assert seconds(state) == {"READY": 50.0 + 150.0, "ACTIVE": 100.0}


def test_a_scrape_reads_the_state_and_changes_nothing():
    state = new_state()
    state.apply_current(mill_current(ts(0), ts(0)), initial=True)
    state.apply_sample(doc(execution(10, "ACTIVE", 100), creation=100))
    state.apply_sample(heartbeat(160))
    tracker = state.trackers["exec"]
    closed, since = dict(tracker.seconds), tracker.since
    collector = FactorydashCollector(lambda: [state])
    first, second = render_metrics(collector), render_metrics(collector)
    assert first == second
    assert tracker.seconds == closed and tracker.since is since
    assert b'state="ACTIVE",sub_type=""} 60.0' in first  # 100 .. 160 on the agent's clock, nothing more
