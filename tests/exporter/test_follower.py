"""The loss-free loop, one exchange per `step()`, against scripted agent answers.

Most tests script http://agent.test/ with `responses`: every answer is
registered for the exact request (path and query) the follower must make, and
the mock fails the test if a scripted answer is never asked for. Refused
connections, timeouts and streaming use a real server on 127.0.0.1
(`LocalAgent`). Time in state is computed from the agent's timestamps, so
tests script hours of shop-floor time without waiting for any of it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses
from responses import matchers

from factorydash import follower as follower_module
from factorydash.client import AgentClient
from factorydash.conditions import ConditionTracker
from factorydash.config import AgentConfig, config_from_agent_flags
from factorydash.exporter import new_agent_state
from factorydash.follower import MAX_BACKOFF_SECONDS, AgentFollower, Phase
from factorydash.limits import SeriesBudget
from factorydash.trackers import NumericEventTracker, StateTracker

from .agentdocs import MILL_DATA_ITEMS, T0, Obs, condition, current_mill, error, execution, part_count, probe, streams, ts
from ..conftest import require_sample
from .test_client import Answer, LocalAgent, Route, agent_config, closed_port, part

FIXTURES = Path(__file__).parent / "fixtures"
SEED = 20261123


def make_follower(agent: AgentConfig | None = None, max_document_bytes: int | None = None) -> AgentFollower:
    """A follower wired like Exporter._follow, with a seeded jitter."""
    agent = agent or agent_config()
    settings = config_from_agent_flags([f"{agent.name}={agent.url}"]).settings
    limit = max_document_bytes or settings.max_document_bytes
    state = new_agent_state(agent, settings, SeriesBudget(settings.max_series_total))
    return AgentFollower(agent, state, AgentClient(agent, limit), limit, rng=random.Random(SEED))


class ScriptedAgent:
    """http://agent.test/ answering exactly the requests it is told to expect, in order."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.mock = mock

    def answer(
        self, request: str, body: bytes, status: int = 200, content_type: str = "text/xml", **query: object
    ) -> None:
        self.mock.get(
            "http://agent.test/" + request,
            body=body,
            status=status,
            content_type=content_type,
            match=[matchers.query_param_matcher({key: str(value) for key, value in query.items()})],
        )

    def sample(self, start: int, body: bytes, status: int = 200, count: int = 1000, **kw: object) -> None:
        self.answer("sample", body, status, **kw, **{"from": start, "count": count})

    def urls(self) -> list[str]:
        return [call.request.url.removeprefix("http://agent.test/") for call in self.mock.calls]


@pytest.fixture
def agent() -> Iterator[ScriptedAgent]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield ScriptedAgent(mock)


def follow_to_sample(
    follower: AgentFollower, agent: ScriptedAgent, current: bytes | None = None, **probe_kw: str
) -> None:
    """probe -> current: the follower is then at the /current's nextSequence (7 for current_mill())."""
    agent.answer("probe", probe(**probe_kw))
    agent.answer("current", current if current is not None else current_mill())
    assert follower.step() == 0.0
    assert follower.phase is Phase.CURRENT
    assert follower.step() == 0.0
    assert follower.phase is Phase.SAMPLE


def execution_tracker(follower: AgentFollower) -> StateTracker:
    tracker = follower.state.trackers["exec"]
    assert isinstance(tracker, StateTracker)
    return tracker


def nonzero(values: dict[str, float] | dict[str, int]) -> dict[str, float]:
    return {key: value for key, value in values.items() if value}


# -- following ----------------------------------------------------------------------


def test_following_continues_from_each_headers_next_sequence_and_asks_again_at_once_while_more_is_buffered(
    agent: ScriptedAgent,
) -> None:
    follower = make_follower(agent_config(poll_interval=2.5, sample_count=2))
    follow_to_sample(follower, agent)
    assert follower.cursor == 7
    agent.sample(7, streams([execution(7, "ACTIVE", 60), part_count(8, "1", 61)], last=11, next_=9), count=2)
    agent.sample(9, streams([part_count(9, "2", 62), part_count(10, "3", 63)], last=11, next_=11), count=2)
    agent.sample(11, streams([execution(11, "READY", 64)], last=11, next_=12), count=2)
    agent.sample(12, streams([], last=11, next_=12), count=2)

    delays = [follower.step() for _ in range(4)]

    assert delays == [0.0, 0.0, 2.5, 2.5]  # 9 <= 11 and 11 <= 11: more buffered; then caught up
    assert follower.cursor == 12
    assert agent.urls() == [
        "probe",
        "current",
        "sample?from=7&count=2",
        "sample?from=9&count=2",
        "sample?from=11&count=2",
        "sample?from=12&count=2",
    ]
    assert follower.state.counters.observations == 5  # the /current's six are a picture, not new observations
    assert follower.state.up is True
    assert follower.state.sequence_lag() == 0
    assert follower.state.counters.errors == {}


def test_a_path_style_next_sequence_jump_moves_the_cursor_to_next_sequence_not_past_the_largest_sequence(
    agent: ScriptedAgent,
) -> None:
    follower = make_follower()
    follow_to_sample(follower, agent)
    agent.sample(7, streams([execution(7, "ACTIVE", 60), execution(8, "READY", 61)], last=90_000, next_=5_000))
    agent.sample(5_000, streams([execution(60_000, "ACTIVE", 62)], last=90_000, next_=90_001))

    assert follower.step() == 0.0  # 5000 <= 90000: ask again at once
    assert follower.cursor == 5_000
    assert follower.step() == 1.0
    assert follower.cursor == 90_001
    assert agent.urls()[2:] == ["sample?from=7&count=1000", "sample?from=5000&count=1000"]
    assert follower.state.counters.lost == 0  # gaps in the sequences of a filtered answer are not losses


def test_sequences_above_2_to_the_63_are_followed_exactly_as_integers(agent: ScriptedAgent) -> None:
    big = 2**63 + 11
    follower = make_follower()
    follow_to_sample(follower, agent, current_mill(sequence_base=big - 6, first=big - 100))
    agent.sample(big, streams([execution(big, "ACTIVE", 60)], first=big - 100, last=big, next_=big + 1))

    assert follower.cursor == big
    assert follower.step() == 1.0
    assert follower.cursor == big + 1
    assert agent.urls()[-1] == f"sample?from={big}&count=1000"


def test_a_new_instance_is_re_probed_counted_once_and_read_from_its_first_sequence_nothing_skipped(
    agent: ScriptedAgent,
) -> None:
    follower = make_follower()
    follow_to_sample(follower, agent)
    agent.sample(7, streams([execution(7, "ACTIVE", 60)], last=7, next_=8))
    assert follower.step() == 1.0
    old_tracker = execution_tracker(follower)
    read_before = follower.state.counters.observations

    # The new instance produced 1..7 before we noticed: its start values (1..6) and ACTIVE at 160 s.
    new = {"instance_id": "1700009999", "creation_time": ts(160)}
    agent.sample(8, streams([execution(7, "ACTIVE", 160)], first=1, last=7, next_=8, **new))
    agent.answer("probe", probe(instance_id=new["instance_id"]))
    agent.answer("current", current_mill(at=100, last=7, next_=8, **new))
    agent.answer("current", streams([Obs("avail", 1, "AVAILABLE", ts(100), "Availability", "Events", "Device", "d1")],
                                    first=1, last=7, next_=8, **new), at=1)
    agent.sample(2, streams([execution(4, "READY", 100), execution(7, "ACTIVE", 160)], first=1, last=7, next_=8,
                            **new))

    assert follower.step() == 0.0
    assert follower.phase is Phase.PROBE
    assert follower.state.counters.observations == read_before  # the new instance's answer was not applied to the old model
    assert [follower.step() for _ in range(3)] == [0.0, 0.0, 0.0]  # probe, current (firstSequence), current?at=1
    assert follower.state.counters.restarts == 1
    assert follower.cursor == 2
    assert follower.step() == 1.0
    assert follower.cursor == 8

    tracker = execution_tracker(follower)
    assert tracker is not old_tracker
    # The counters go on across the restart (docs/time-accounting.md section 4): ACTIVE, then READY read
    # from the new instance's buffer, then ACTIVE again.
    assert tracker.current == "ACTIVE"
    assert nonzero(tracker.transitions) == {"ACTIVE": 2, "READY": 1}
    assert nonzero(tracker.seconds) == {"READY": 60.0 + 60.0}  # 0 .. 60 s, then 100 s .. 160 s of the new instance
    assert follower.state.counters.lost == 0
    # applied: sequence 1 by the rebase, then the two the sample listed; 3..6 were not in this scripted answer
    assert follower.state.counters.observations == read_before + 1 + 2
    assert agent.urls()[3:] == ["sample?from=8&count=1000", "probe", "current", "current?at=1", "sample?from=2&count=1000"]


def test_a_new_instance_noticed_after_its_buffer_wrapped_counts_only_what_it_no_longer_holds(
    agent: ScriptedAgent,
) -> None:
    follower = make_follower()
    follow_to_sample(follower, agent)
    agent.sample(7, streams([], last=9, next_=7))  # it announced 7..9, then went away before we read them
    new = {"instance_id": "1700009999"}
    agent.sample(7, streams([], first=300, last=900, next_=7, buffer_size=601, **new))
    agent.answer("probe", probe(**new))
    agent.answer("current", current_mill(sequence_base=895, first=300, last=900, next_=901, buffer_size=601, **new))
    agent.answer("current", current_mill(sequence_base=295, first=300, last=900, next_=901, buffer_size=601, **new),
                 at=300)

    delays = [follower.step() for _ in range(5)]

    assert delays[1:] == [0.0, 0.0, 0.0, 0.0]
    assert follower.cursor == 301
    assert follower.state.counters.lost == 3 + 299  # old 7..9 announced, never read; new 1..299 overwritten
    assert follower.state.counters.restarts == 1


@pytest.mark.parametrize("changed", [False, True], ids=["same model", "changed model"])
def test_a_new_device_model_change_time_re_probes_and_continues_from_the_cursor(
    agent: ScriptedAgent, changed: bool
) -> None:
    before, after = {"model_change": "2026-11-23T09:00:00Z"}, {"model_change": "2026-11-23T10:30:00Z"}
    follower = make_follower()
    follow_to_sample(follower, agent, current_mill(**before), **before)
    agent.sample(7, streams([execution(7, "ACTIVE", 60)], last=7, next_=8, **before))
    assert follower.step() == 1.0
    tracker = execution_tracker(follower)

    agent.sample(8, streams([execution(8, "FEED_HOLD", 70)], last=8, next_=9, **after))
    extra = '<DataItem category="EVENT" id="fmode" type="FUNCTIONAL_MODE"/>' if changed else ""
    agent.answer("probe", probe(data_items=MILL_DATA_ITEMS.replace("<DataItems>", "<DataItems>" + extra, 1), **after))
    if changed:
        agent.answer("current", current_mill(last=8, next_=9, **after))
        agent.answer("current", streams([execution(7, "ACTIVE", 60)], last=8, next_=9, **after), at=7)
    agent.sample(8, streams([execution(8, "FEED_HOLD", 70)], last=8, next_=9, **after))

    assert follower.step() == 0.0
    assert follower.phase is Phase.PROBE
    probe_delay = follower.step()
    if changed:
        assert probe_delay == 0.0
        assert [follower.step() for _ in range(2)] == [0.0, 0.0]  # current (firstSequence), current?at=7
        assert "fmode" in follower.state.trackers
        assert execution_tracker(follower) is not tracker
    else:
        assert 1.0 <= probe_delay <= 2.0  # a re-probe that changed nothing backs off...
        assert follower.state.counters.errors == {"reprobe_unchanged": 1}
        assert execution_tracker(follower) is tracker  # ...and keeps every tracker
    assert follower.cursor == 8
    assert follower.step() == 1.0
    assert follower.cursor == 9
    assert execution_tracker(follower).current == "FEED_HOLD"
    assert follower.state.counters.restarts == 0
    assert follower.state.counters.lost == 0
    assert follower.state.counters.observations == 2  # 7 and 8, each once


def test_next_sequence_going_backwards_under_the_same_instance_id_is_an_invalid_document_retried_with_backoff(
    agent: ScriptedAgent,
) -> None:
    follower = make_follower()
    follow_to_sample(follower, agent)
    agent.sample(7, streams([], first=1, last=3, next_=4))

    assert 1.0 <= follower.step() <= 2.0
    assert follower.phase is Phase.SAMPLE
    assert follower.state.counters.errors == {"invalid_document": 1}
    assert follower.state.counters.restarts == 0
    assert follower.cursor == 7


# -- OUT_OF_RANGE -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 400], ids=["HTTP 200 (cppagent 1.4, NIST)", "HTTP 400 (cppagent 1.8, 2.x)"])
def test_out_of_range_rebases_on_the_oldest_held_observation_and_counts_only_what_is_gone(
    agent: ScriptedAgent, status: int
) -> None:
    follower = make_follower()
    follow_to_sample(follower, agent)
    agent.sample(7, error("OUT_OF_RANGE", "'from' must be greater than 499"), status=status)
    agent.answer("current", current_mill(sequence_base=1000, at=900, first=500, last=1005, next_=1006))
    # cppagent answers at= with the head's nextSequence in the Header: the follower must not take it as the cursor
    agent.answer("current", current_mill(sequence_base=495, at=800, first=500, last=1005, next_=1006), at=500)
    agent.sample(501, streams([execution(501, "ACTIVE", 960)], first=500, last=1005, next_=502))

    assert follower.step() == 0.0
    assert follower.phase is Phase.RESYNC
    assert follower.step() == 0.0
    assert follower.phase is Phase.REBASE
    assert follower.step() == 0.0
    assert follower.state.counters.lost == 493  # sequences 7..499: the agent no longer holds them
    assert follower.state.counters.observations == 1  # sequence 500, whose effect the at=500 state carries
    assert follower.cursor == 501
    assert follower.step() == 0.0  # 502 <= 1005: more is buffered
    assert follower.cursor == 502
    assert follower.state.counters.errors == {"mtconnect_out_of_range": 1}
    assert follower.state.up is True
    assert nonzero(execution_tracker(follower).transitions) == {"ACTIVE": 1}
    assert agent.urls()[2:] == ["sample?from=7&count=1000", "current", "current?at=500", "sample?from=501&count=1000"]


def test_a_first_sequence_moving_on_during_the_rebase_is_asked_again(agent: ScriptedAgent) -> None:
    follower = make_follower()
    follow_to_sample(follower, agent)
    agent.sample(7, error("OUT_OF_RANGE", "'from' must be greater than 499"), status=400)
    agent.answer("current", current_mill(sequence_base=1000, first=500, last=1005, next_=1006))
    agent.answer("current", error("OUT_OF_RANGE", "'at' must be greater than 509"), status=400, at=500)
    agent.answer("current", current_mill(sequence_base=1010, first=510, last=1015, next_=1016))
    agent.answer("current", current_mill(sequence_base=505, first=510, last=1015, next_=1016), at=510)

    delays = [follower.step() for _ in range(5)]

    assert delays == [0.0] * 5  # firstSequence moved on: that is progress, asked again at once
    assert follower.cursor == 511
    assert follower.state.counters.lost == 510 - 7
    assert follower.state.counters.observations == 1
    assert follower.state.counters.errors == {"mtconnect_out_of_range": 2}


def test_a_restarted_agent_refusing_the_old_cursor_as_out_of_range_is_a_restart_not_a_loss(
    agent: ScriptedAgent,
) -> None:
    # The restarted agent's buffer ends far below our cursor: 'from' must be less than 7.
    follower = make_follower()
    follow_to_sample(follower, agent)
    new = {"instance_id": "1700009999"}
    agent.sample(7, streams([], last=4999, next_=5000))
    agent.sample(5000, error("OUT_OF_RANGE", "'from' must be less than 7"), status=400)
    agent.answer("current", current_mill(**new))
    agent.answer("probe", probe(**new))
    agent.answer("current", current_mill(**new))
    agent.answer("current", current_mill(**new), at=1)

    delays = [follower.step() for _ in range(6)]

    assert delays == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert follower.phase is Phase.SAMPLE
    assert follower.cursor == 2
    assert follower.state.counters.restarts == 1
    assert follower.state.counters.lost == 0
    assert follower.state.counters.errors == {"mtconnect_out_of_range": 1}


@pytest.mark.parametrize(
    ("sample", "status"),
    [("cppagent-1.8.0.3/error-from-too-old-1.xml", 400), ("cppagent-2.5.0.11/error-from-too-old-1.xml", 400)],
)
def test_the_real_out_of_range_answers_of_cppagent_lead_to_a_resynchronisation(
    agent: ScriptedAgent, sample: str, status: int
) -> None:
    follower = make_follower()
    follow_to_sample(follower, agent)
    agent.sample(7, require_sample(sample).read_bytes(), status=status)

    assert follower.step() == 0.0
    assert follower.phase is Phase.RESYNC
    assert follower.state.counters.errors == {"mtconnect_out_of_range": 1}


def test_the_sample_count_never_exceeds_the_agents_buffer_size(agent: ScriptedAgent) -> None:
    # cppagent answers count > bufferSize with OUT_OF_RANGE ("'count' must be less than 4097"): asking for
    # more than the buffer would look like falling behind on every poll and nothing would ever be sampled.
    follower = make_follower(agent_config(sample_count=10_000))
    follow_to_sample(follower, agent, current_mill(buffer_size=4096))
    agent.sample(7, streams([execution(7, "ACTIVE", 60)], last=7, next_=8, buffer_size=4096), count=4096)

    assert follower.step() == 1.0
    assert follower.cursor == 8


# -- failures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [
        (200, "INVALID_REQUEST", "mtconnect_invalid_request"),
        (400, "INVALID_XPATH", "mtconnect_invalid_xpath"),
        (404, "NO_DEVICE", "mtconnect_no_device"),
    ],
)
def test_an_error_document_is_recognised_by_its_root_whatever_the_http_status(
    agent: ScriptedAgent, status: int, code: str, reason: str
) -> None:
    follower = make_follower()
    follow_to_sample(follower, agent)
    agent.sample(7, error(code, "no such thing"), status=status)

    delay = follower.step()

    assert 1.0 <= delay <= 2.0  # backoff after one failure: between one and two poll intervals
    assert follower.cursor == 7
    assert follower.phase is Phase.SAMPLE
    assert follower.state.up is False
    assert follower.state.counters.errors == {reason: 1}
    assert follower.state.last_error == f"sample: {code}: no such thing"


@pytest.mark.parametrize(
    ("sample", "status", "reason"),
    [
        ("cppagent-2.5.0.11/error-no-device.xml", 404, "mtconnect_no_device"),
        ("cppagent-1.8.0.3/error-no-device.xml", 404, "mtconnect_no_device"),
        ("cppagent-2.5.0.11/error-invalid-uri.xml", 404, "mtconnect_invalid_request"),
        ("cppagent-1.8.0.3/error-invalid-uri.xml", 400, "mtconnect_invalid_request"),
    ],
)
def test_a_probe_answered_with_a_real_cppagent_error_keeps_the_follower_at_the_probe(
    agent: ScriptedAgent, sample: str, status: int, reason: str
) -> None:
    follower = make_follower()
    agent.answer("probe", require_sample(sample).read_bytes(), status=status)

    delay = follower.step()

    assert 1.0 <= delay <= 2.0
    assert follower.phase is Phase.PROBE
    assert follower.state.counters.errors == {reason: 1}
    assert follower.state.up is False


TRUNCATED = streams([execution(7, "ACTIVE", 60), execution(8, "READY", 61)], last=8, next_=9)[:300]


@pytest.mark.parametrize(
    ("status", "content_type", "body", "reason", "message"),
    [
        (
            502,
            "text/html",
            (FIXTURES / "follower-nginx-502.html").read_bytes(),
            "http_status",
            "sample: HTTP 502: malformed XML: ",
        ),
        (500, "text/plain", b"", "http_status", "sample: HTTP 500 with an empty body"),
        (200, "text/xml", TRUNCATED, "invalid_document", "invalid document: malformed XML: "),
        (
            200,
            "application/json",
            b'{"MTConnectStreams": {"Header": {"nextSequence": 9}}}',
            "invalid_document",
            "invalid document: malformed XML: ",
        ),
        (
            200,
            "text/html",
            (FIXTURES / "follower-captive-portal.html").read_bytes(),
            "unexpected_root",
            "invalid document: not an MTConnect document: root element <html>",
        ),
    ],
    ids=["proxy HTML page 502", "empty 500", "truncated XML", "JSON", "proxy login page 200"],
)
def test_a_broken_answer_is_a_clear_reason_not_a_crash_and_following_resumes_from_the_same_cursor(
    agent: ScriptedAgent, status: int, content_type: str, body: bytes, reason: str, message: str
) -> None:
    follower = make_follower()
    follow_to_sample(follower, agent)
    agent.sample(7, body, status=status, content_type=content_type)
    agent.sample(7, streams([execution(7, "ACTIVE", 60)], last=7, next_=8))

    delay = follower.step()

    assert 1.0 <= delay <= 2.0
    assert follower.cursor == 7
    assert follower.state.up is False
    assert follower.state.counters.errors == {reason: 1}
    assert follower.state.last_error.startswith(message)
    assert follower.step() == 1.0
    assert follower.cursor == 8
    assert follower.state.up is True
    assert follower.failures == 0


def test_a_valid_document_served_with_a_wrong_content_type_is_followed_the_root_decides(agent: ScriptedAgent) -> None:
    follower = make_follower()
    follow_to_sample(follower, agent)
    agent.sample(7, streams([execution(7, "ACTIVE", 60)], last=7, next_=8), content_type="text/plain")

    assert follower.step() == 1.0
    assert follower.cursor == 8
    assert follower.state.counters.errors == {}


def test_a_document_larger_than_max_document_bytes_is_refused_before_parsing(
    agent: ScriptedAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed_sizes: list[int] = []
    parse = follower_module.parse_document

    def spy(data: bytes, max_bytes: int):  # type: ignore[no-untyped-def]
        parsed_sizes.append(len(data))
        return parse(data, max_bytes)

    monkeypatch.setattr(follower_module, "parse_document", spy)
    follower = make_follower(max_document_bytes=4000)
    follow_to_sample(follower, agent)
    big = streams([execution(sequence, "ACTIVE", 60) for sequence in range(7, 57)], last=56, next_=57)
    assert len(big) > 4000
    agent.sample(7, big)

    assert 1.0 <= follower.step() <= 2.0

    assert follower.state.counters.errors == {"document_too_large": 1}
    assert follower.cursor == 7
    assert max(parsed_sizes) < 4000  # probe and current were parsed; the big sample never reached the parser


def test_undeclared_observations_are_set_aside_counted_and_re_probe_at_most_once_a_minute(
    agent: ScriptedAgent,
) -> None:
    now = [1000.0]
    follower = make_follower()
    follower.clock = lambda: now[0]
    follow_to_sample(follower, agent)
    agent.sample(7, streams([execution(7, "ACTIVE", 60), Obs("spindle2", 8, "3", ts(61), "Line")], last=8, next_=9))
    agent.answer("probe", probe())  # the same model: nothing to rebuild
    agent.sample(9, streams([Obs("spindle2", 9, "4", ts(62), "Line")], last=9, next_=10))
    agent.sample(10, streams([Obs("spindle2", 10, "5", ts(63), "Line")], last=10, next_=11))
    agent.answer("probe", probe())

    assert follower.step() == 0.0
    assert follower.phase is Phase.PROBE
    assert follower.cursor == 9  # what was read is not asked for again
    assert (follower.state.counters.observations, follower.state.counters.undeclared) == (2, 1)
    assert execution_tracker(follower).current == "ACTIVE"
    assert 1.0 <= follower.step() <= 2.0  # the same model: continue from the cursor after a backoff
    assert follower.phase is Phase.SAMPLE
    now[0] += 59
    assert follower.step() == 1.0  # within the minute: no re-probe
    assert follower.phase is Phase.SAMPLE
    now[0] += 2
    assert follower.step() == 0.0
    assert follower.phase is Phase.PROBE
    follower.step()
    assert follower.cursor == 11
    assert (follower.state.counters.observations, follower.state.counters.undeclared) == (4, 3)
    assert follower.state.counters.errors == {"reprobe_unchanged": 2}
    assert follower.state.counters.restarts == 0
    assert follower.state.counters.lost == 0
    assert "current" not in agent.urls()[2:]


# -- real connections: refused, timed out -------------------------------------------------


def mill_routes(samples: dict[int, Answer]) -> dict[str, Route]:
    return {
        "/probe": lambda query: (200, "text/xml", probe()),
        "/current": lambda query: (200, "text/xml", current_mill()),
        "/sample": lambda query: samples[int(query["from"])],
    }


def expected_backoffs(ceilings: list[float]) -> list[float]:
    rng = random.Random(SEED)
    return [rng.uniform(ceiling / 2, ceiling) for ceiling in ceilings]


@pytest.mark.integration
def test_a_refused_connection_marks_the_agent_down_backs_off_growing_capped_jittered_and_recovers_at_the_same_cursor():
    samples: dict[int, Answer] = {
        7: (200, "text/xml", streams([execution(7, "ACTIVE", 60)], last=7, next_=8)),
        8: (200, "text/xml", streams([execution(8, "READY", 90)], last=8, next_=9)),
    }
    first = LocalAgent(mill_routes(samples))
    follower = make_follower(agent_config(first.url))
    try:
        assert [follower.step() for _ in range(3)] == [0.0, 0.0, 1.0]
    finally:
        first.stop()
    assert follower.cursor == 8

    delays = [follower.step() for _ in range(7)]

    assert MAX_BACKOFF_SECONDS == 30.0
    assert delays == expected_backoffs([2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0])
    assert follower.state.up is False
    assert follower.state.counters.errors == {"connection": 7}
    assert follower.cursor == 8
    with LocalAgent(mill_routes(samples), port=first.port) as again:
        assert follower.step() == 1.0
        assert again.requests == ["/sample?from=8&count=1000"]
    assert follower.state.up is True
    assert follower.failures == 0
    assert follower.cursor == 9
    assert nonzero(execution_tracker(follower).transitions) == {"ACTIVE": 1, "READY": 1}


@pytest.mark.integration
def test_the_backoff_jitter_differs_between_followers_so_agents_do_not_retry_in_lockstep() -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    delays = []
    for seed in (1, 2):
        follower = make_follower(agent_config(url))
        follower.rng = random.Random(seed)
        delays.append(follower.step())
        assert follower.state.counters.errors == {"connection": 1}

    assert delays[0] != delays[1]
    assert all(1.0 <= delay <= 2.0 for delay in delays)


@pytest.mark.integration
def test_a_timeout_marks_the_agent_down_backs_off_and_the_next_answer_resumes_from_the_same_cursor() -> None:
    samples: dict[int, Answer] = {7: (200, "text/xml", streams([execution(7, "ACTIVE", 60)], last=7, next_=8))}
    with LocalAgent(mill_routes(samples)) as server:
        follower = make_follower(agent_config(server.url, timeout=0.2))
        assert [follower.step() for _ in range(2)] == [0.0, 0.0]
        server.delay = 1.0  # longer than the timeout; stop() releases it

        delays = [follower.step() for _ in range(2)]

        assert delays == expected_backoffs([2.0, 4.0])
        assert follower.state.counters.errors == {"timeout": 2}
        assert follower.state.up is False
        assert follower.state.last_error == "sample: timed out after 0.2s"
        server.delay = 0.0
        assert follower.step() == 1.0
        assert server.requests[2:] == ["/sample?from=7&count=1000"] * 3
    assert follower.state.up is True
    assert follower.cursor == 8


# -- time in state, conditions, parts ------------------------------------------------------


def test_out_of_order_timestamps_never_make_time_run_backwards(agent: ScriptedAgent) -> None:
    follower = make_follower()
    follow_to_sample(follower, agent)  # READY since 0 s
    # Sequence order is not timestamp order: a FEED_HOLD stamped before the ACTIVE it follows.
    agent.sample(
        7,
        streams(
            [
                execution(7, "ACTIVE", 100),
                execution(8, "FEED_HOLD", 90),
                execution(9, "ACTIVE", 120),
                execution(10, "READY", 110),
            ],
            last=10,
            next_=11,
        ),
    )
    # And across documents: this one starts before the previous one ended.
    agent.sample(11, streams([execution(11, "FEED_HOLD", 115), execution(12, "ACTIVE", 130)], last=12, next_=13))
    tracker = execution_tracker(follower)
    history = [dict(tracker.seconds)]

    for _ in range(2):
        follower.step()
        history.append(dict(tracker.seconds))

    for earlier, later in zip(history, history[1:]):
        assert all(later.get(state, 0.0) >= seconds for state, seconds in earlier.items())
    # docs/time-accounting.md section 2: a step back books nothing, the next interval counts from the new time.
    # READY 0..100; ACTIVE 100, back to 90: nothing; FEED_HOLD 90..120; ACTIVE 120, back to 110: nothing;
    # READY 110..115; FEED_HOLD 115..130; ACTIVE since 130.
    assert nonzero(tracker.seconds) == {"READY": 100.0 + 5.0, "FEED_HOLD": 30.0 + 15.0}
    assert nonzero(tracker.transitions) == {"ACTIVE": 3, "FEED_HOLD": 2, "READY": 1}
    # The open ACTIVE interval shows what the agent clock (130 s, the last creationTime) has passed since.
    assert nonzero(tracker.seconds_at(follower.state.clock.now)) == {"READY": 105.0, "FEED_HOLD": 45.0}
    assert nonzero(tracker.seconds_at(T0 + 180)) == {"READY": 105.0, "FEED_HOLD": 45.0, "ACTIVE": 50.0}


def test_time_in_state_and_transitions_are_exact_to_the_second_across_sample_documents(agent: ScriptedAgent) -> None:
    follower = make_follower()
    follow_to_sample(follower, agent)  # READY at 0 s
    agent.sample(7, streams([execution(7, "ACTIVE", 60)], last=7, next_=8))
    # A 3 s FEED_HOLD between two polls: /current would never show it.
    agent.sample(
        8,
        streams(
            [execution(8, "FEED_HOLD", 300), part_count(9, "1", 301), execution(10, "ACTIVE", 303)], last=10, next_=11
        ),
    )
    agent.sample(11, streams([execution(11, "STOPPED", 600), execution(12, "READY", 615)], last=12, next_=13))
    agent.sample(13, streams([], last=12, next_=13, creation_time=ts(660)))
    tracker = execution_tracker(follower)

    assert follower.step() == 1.0
    assert nonzero(tracker.seconds) == {"READY": 60.0}
    assert follower.step() == 1.0
    assert nonzero(tracker.seconds) == {"READY": 60.0, "ACTIVE": 240.0, "FEED_HOLD": 3.0}
    assert follower.step() == 1.0
    assert follower.step() == 1.0

    assert tracker.current == "READY"
    assert nonzero(tracker.transitions) == {"ACTIVE": 2, "FEED_HOLD": 1, "STOPPED": 1, "READY": 1}
    now = tracker.seconds_at(T0 + 660)
    assert nonzero(now) == {"READY": 105.0, "ACTIVE": 537.0, "FEED_HOLD": 3.0, "STOPPED": 15.0}
    assert sum(now.values()) == 660.0


def test_conditions_across_documents_clear_one_code_or_all_and_count_every_onset(agent: ScriptedAgent) -> None:
    follower = make_follower()
    follow_to_sample(follower, agent)
    overload = ("A1", "Spindle overload")
    coolant, door = ("B2", "Coolant low"), ("C3", "Door open")
    agent.sample(7, streams([condition(7, "Fault", 10, *overload), condition(8, "Fault", 11, *coolant)], next_=9))
    agent.sample(9, streams([condition(9, "Normal", 20, "A1"), condition(10, "Warning", 21, *door)], next_=11))
    agent.sample(11, streams([condition(11, "Normal", 30)], next_=12))
    agent.sample(12, streams([condition(12, "Fault", 40, *overload), condition(13, "Fault", 41, *overload)], next_=14))
    tracker = follower.state.trackers["system"]
    assert isinstance(tracker, ConditionTracker)
    assert tracker.level == "normal"

    follower.step()
    assert sorted(tracker.active) == ["A1", "B2"]
    assert tracker.level == "fault"
    assert tracker.activations == {"warning": 0, "fault": 2}
    follower.step()
    assert sorted(tracker.active) == ["B2", "C3"]  # Normal with a code cleared A1 only
    assert tracker.level == "fault"
    assert tracker.activations == {"warning": 1, "fault": 2}
    follower.step()
    assert tracker.active == {}  # Normal without a code cleared everything
    assert tracker.level == "normal"
    follower.step()
    assert sorted(tracker.active) == ["A1"]
    assert tracker.activations == {"warning": 1, "fault": 3}  # the repeated Fault A1 is the same activation
    assert tracker.active["A1"].since == ts(40)


def test_part_count_resets_and_an_implausible_jump_count_parts_exactly(agent: ScriptedAgent) -> None:
    follower = make_follower()
    current = streams([execution(1, "READY", 0), part_count(2, "1997", 0)], last=6, next_=7)
    follow_to_sample(follower, agent, current)
    counting = [part_count(7, "1998", 10), part_count(8, "1999", 20), part_count(9, "2000", 30)]
    agent.sample(7, streams(counting, next_=10))
    agent.sample(10, streams([part_count(10, "599999", 40)], next_=11))  # a glitch, not 597999 parts
    agent.sample(11, streams([part_count(11, "2001", 50)], next_=12))
    # Shift change: the operator resets the counter.
    agent.sample(12, streams([part_count(12, "0", 60), part_count(13, "1", 70), part_count(14, "2", 80)], next_=15))
    tracker = follower.state.trackers["pc"]
    assert isinstance(tracker, NumericEventTracker)

    totals = []
    for _ in range(4):
        follower.step()
        totals.append(tracker.parts_total)

    assert totals == [3.0, 3.0, 4.0, 6.0]
    assert tracker.value == 2.0


# -- streaming ------------------------------------------------------------------------------


def stream_of(*bodies: bytes, close_mid_part: bytes = b"") -> Answer:
    pieces = [part(body) for body in bodies]
    pieces.append(close_mid_part or b"--BOUNDARY--\r\n")
    return 200, "multipart/mixed;boundary=BOUNDARY", pieces


@pytest.mark.integration
def test_the_follower_in_stream_mode_applies_every_part_of_a_real_multipart_stream() -> None:
    stream = stream_of(
        streams([execution(7, "ACTIVE", 60)], last=7, next_=8),
        streams([], last=7, next_=8),  # heartbeat
        streams([execution(8, "FEED_HOLD", 300), execution(9, "ACTIVE", 303)], last=9, next_=10),
    )
    with LocalAgent(mill_routes({7: stream})) as server:
        follower = make_follower(agent_config(server.url, stream=True, poll_interval=0.5, heartbeat=2.0))
        assert [follower.step() for _ in range(2)] == [0.0, 0.0]

        assert follower.step() == 0.5  # the agent closed the stream: reconnect after one interval

        assert server.requests == ["/probe", "/current", "/sample?from=7&count=1000&interval=500&heartbeat=2000"]
    assert follower.cursor == 10
    assert follower.state.counters.observations == 3
    assert follower.state.up is True
    tracker = execution_tracker(follower)
    assert nonzero(tracker.transitions) == {"ACTIVE": 2, "FEED_HOLD": 1}
    assert nonzero(tracker.seconds) == {"READY": 60.0, "ACTIVE": 240.0, "FEED_HOLD": 3.0}


@pytest.mark.integration
def test_a_stream_closed_mid_part_keeps_what_was_applied_and_resumes_from_there() -> None:
    stream = stream_of(
        streams([execution(7, "ACTIVE", 60)], last=7, next_=8),
        close_mid_part=part(streams([execution(8, "READY", 90)], last=8, next_=9))[:120],
    )
    with LocalAgent(mill_routes({7: stream})) as server:
        follower = make_follower(agent_config(server.url, stream=True))
        assert [follower.step() for _ in range(2)] == [0.0, 0.0]

        delay = follower.step()

    assert 1.0 <= delay <= 2.0
    assert follower.state.counters.errors == {"stream_closed": 1}
    assert follower.state.up is False
    assert follower.cursor == 8
    assert follower.state.counters.observations == 1


def test_a_stream_request_answered_with_out_of_range_resynchronises_like_polling(agent: ScriptedAgent) -> None:
    follower = make_follower(agent_config(stream=True))
    follow_to_sample(follower, agent)
    stream_query = {"from": 7, "count": 1000, "interval": 1000, "heartbeat": 10000}
    agent.answer("sample", error("OUT_OF_RANGE", "'from' must be greater than 99"), status=400, **stream_query)
    agent.answer("current", current_mill(sequence_base=100, first=100, last=105, next_=106))

    agent.answer("current", current_mill(sequence_base=95, first=100, last=105, next_=106), at=100)

    assert follower.step() == 0.0
    assert follower.phase is Phase.RESYNC
    assert [follower.step() for _ in range(2)] == [0.0, 0.0]
    assert follower.state.counters.lost == 93  # sequences 7..99
    assert follower.cursor == 101


@pytest.mark.integration
def test_in_stream_mode_a_small_part_is_applied_within_a_second_while_the_agent_holds_the_stream_open() -> None:
    held = threading.Event()
    small = part(streams([execution(7, "ACTIVE", 60)], last=7, next_=8))
    assert 500 < len(small) < 700  # the size of one cppagent part a second (issue 11: none applied in 60 s)
    sent: list[float] = []

    def stream(query: dict[str, str]) -> Iterator[bytes]:
        sent.append(time.monotonic())
        yield small
        held.wait(5.0)

    routes = mill_routes({})
    routes["/sample"] = lambda query: (200, "multipart/mixed;boundary=BOUNDARY", stream(query))
    with LocalAgent(routes) as server:
        follower = make_follower(agent_config(server.url, stream=True, heartbeat=10.0))
        follower.start()
        deadline = time.monotonic() + 3.0
        while follower.state.counters.observations == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        applied_at = time.monotonic()
        held.set()
        follower.stop()

    assert follower.state.counters.observations == 1
    assert execution_tracker(follower).current == "ACTIVE"
    assert applied_at - sent[0] < 1.0
