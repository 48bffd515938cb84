"""The loss-free loop: probe -> current -> sample?from=<nextSequence>... for one agent.

`AgentFollower.step()` does one exchange and returns how long to wait before
the next one, so tests drive the loop synchronously; `start()` runs it in a
daemon thread. Threads, not asyncio: requests is blocking, agents are
independent, and a thread per agent means a slow or dead agent only ever
blocks itself (network waits and lxml parsing release the GIL).

Accounting, per agent instance. From the first `/current` on (the sequences
before it were produced before we followed), every sequence the agent
produces is either applied or counted lost, exactly once:

    mtconnect_agent_observations_total + mtconnect_agent_observations_lost_total
        = sequences the agent produced while followed

- `/sample` counts each observation it hands over (applied to a tracker, or
  set aside: a filtered device, an item we do not export, an undeclared item).
- Rebasing with `/current?at=F` counts one observation: sequence F itself.
  The answer is the agent's state *including* F (cppagent's checkpoint at F
  and the simulator's both include it; the observation at F may not be listed
  when it cleared a condition, but its effect is there), and the next request
  is `/sample?from=F+1`. Observations below F that it lists are latest
  values of sequences already counted (read or lost), not new ones.
- Lost is only what the agent no longer holds: `F - cursor` when we fell
  behind (OUT_OF_RANGE), `F - 1` for a new instance noticed after its buffer
  wrapped (cppagent and the simulator number every instance from 1), and what
  the old instance announced (`lastSequence`) but we had not read when it
  went away.

Recovery, every path reading from what the agent still holds:

- OUT_OF_RANGE: `/current` tells firstSequence F (an error document carries
  none); `/current?at=F` rebases the state; `/sample?from=F+1`. If F moved on
  meanwhile, `at=F` is OUT_OF_RANGE in turn and the loop asks for F again.
- A new instanceId: re-probe (the model may differ), then the same rebase
  from the new instance's firstSequence, so its start-up UNAVAILABLE values
  and whatever it produced before we noticed are read, not skipped.
- A new deviceModelChangeTime under the same instanceId, or observations of
  undeclared items (at most one re-probe per `REPROBE_INTERVAL_SECONDS`): a
  re-probe. An unchanged model continues from the cursor as if nothing had
  happened; a changed one rebuilds the trackers and rebases them with
  `/current?at=cursor-1` (nothing lost, nothing read twice).

One rule for every loop: a step that makes no progress - the same error again,
OUT_OF_RANGE for a cursor the agent says it holds, a `/sample` whose
nextSequence does not move while the agent claims more, a re-probe that
changes nothing, a probe and a stream that disagree on the instanceId - backs
off like a transport failure (capped exponential backoff with jitter), counts
a reason in `mtconnect_agent_request_errors_total` and logs once.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable

from .client import AgentClient, AgentRequestError, AgentResponse
from .config import AgentConfig
from .parser import (
    DevicesDocument,
    Document,
    ErrorDocument,
    Header,
    InvalidDocument,
    StreamsDocument,
    parse_document,
)
from .state import AgentState

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0
REPROBE_INTERVAL_SECONDS = 60.0  # undeclared items re-probe at most this often
FIRST_SEQUENCE_OF_AN_INSTANCE = 1  # cppagent (1.x, 2.x) and the simulator number every instance from 1

# MTConnect's error codes (the standard's and cppagent's), each its own metric reason; anything else an agent
# invents is `mtconnect_other`, so the reason label set stays closed.
MTCONNECT_ERROR_CODES = frozenset(
    {
        "ASSET_NOT_FOUND",
        "INTERNAL_ERROR",
        "INVALID_PARAMETER_VALUE",
        "INVALID_QUERY_PARAMETER",
        "INVALID_REQUEST",
        "INVALID_URI",
        "INVALID_XPATH",
        "NO_DEVICE",
        "OUT_OF_RANGE",
        "QUERY_ERROR",
        "TOO_MANY",
        "UNAUTHORIZED",
        "UNSUPPORTED",
    }
)


class Phase(enum.Enum):
    PROBE = "probe"  # /probe: the device model
    CURRENT = "current"  # first contact: /current, the cursor is its nextSequence
    RESYNC = "resync"  # /current to learn the agent's firstSequence
    REBASE = "rebase"  # /current?at=F: the state as of F, then /sample from F+1
    SAMPLE = "sample"


class Restarted(Exception):
    """A document of another instanceId than the one followed."""


class ModelChanged(Exception):
    """deviceModelChangeTime moved under the same instanceId."""


class AgentFollower:
    def __init__(
        self,
        config: AgentConfig,
        state: AgentState,
        client: AgentClient,
        max_document_bytes: int,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.state = state
        self.client = client
        self.max_document_bytes = max_document_bytes
        self.rng = rng or random.Random()
        self.clock = clock
        self.phase = Phase.PROBE
        self.cursor: int | None = None
        self.instance_id: str | None = None
        self.model_change_time: str | None = None
        self.failures = 0
        # A digest of the last probe's devices, to tell a changed model from an unchanged one without keeping
        # every data item of a huge probe alive (only those within the series cap are kept, by the state).
        self._model_hash: str | None = None
        self._resumed = False  # the state came from a snapshot: the first probe decides where to go on
        self._model_fresh = True  # trackers were just rebuilt: the next /current gives them their first values
        self._progress_since_probe = False
        self._rebase_at: int | None = None
        self._last_resync_first: int | None = None  # firstSequence of the previous resync attempt
        self._announced_last: int | None = None  # lastSequence of the followed instance, as last announced
        self._next_undeclared_probe = float("-inf")
        self._logged_invalid = False
        self._logged_no_progress: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- thread ------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"follow-{self.config.name}", daemon=True)
        self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        self.client.close()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = 0.0
        while not self._stop.wait(delay):
            try:
                delay = self.step()
            except Exception:  # a bug must not kill the thread: log it and back off
                log.exception("agent=%s unexpected error in the follow loop", self.config.name)
                self.state.mark_failure("internal", "internal error, see the exporter log")
                delay = self._backoff()

    def resume(
        self, instance_id: str, cursor: int, model_hash: str | None, model_change_time: str | None,
        announced_last: int | None,
    ) -> None:
        """Continue where a previous exporter process stopped (its snapshot is restored into the state).

        The first probe then decides as a re-probe does: the same instance and model read `/sample` from
        the cursor (a cursor the agent no longer holds is OUT_OF_RANGE as while following); a changed
        model is rebuilt and rebased from the cursor; a new instance is read from its first sequence.
        """
        self.instance_id, self.cursor, self._model_hash = instance_id, cursor, model_hash
        self.model_change_time, self._announced_last = model_change_time, announced_last
        self._model_fresh = False
        self._resumed = True
        self.phase = Phase.PROBE

    # -- one exchange ----------------------------------------------------------

    def step(self) -> float:
        """One request and its processing; returns seconds to wait before the next."""
        try:
            if self.phase is Phase.PROBE:
                return self._probe()
            if self.phase is Phase.CURRENT:
                self._current()
                return 0.0
            if self.phase is Phase.RESYNC:
                return self._resync()
            if self.phase is Phase.REBASE:
                return self._rebase()
            if self.config.stream:
                return self._stream()
            return self._sample()
        except AgentRequestError as error:
            return self._fail(error.reason, str(error))
        except InvalidDocument as error:
            if self._stop.is_set():
                return 0.0  # stop() cut the answer short: that is no fault of the agent
            if not self._logged_invalid:
                log.warning("agent=%s invalid document: %s", self.config.name, error)
                self._logged_invalid = True
            return self._fail(error.reason, f"invalid document: {error}", log_it=False)
        except Restarted as restart:
            self.phase = Phase.PROBE
            if not self._progress_since_probe:
                # The probe we just made and this document disagree: probing again at once would loop.
                return self._no_progress("identity_mismatch", f"{restart} right after a probe")
            log.info("agent=%s %s: re-probing", self.config.name, restart)
            return 0.0
        except ModelChanged as change:
            log.info("agent=%s %s: re-probing", self.config.name, change)
            self.phase = Phase.PROBE
            return 0.0

    def _fetch(self, request: str, response_getter: Callable[[], AgentResponse]) -> Document:
        response = response_getter()
        self.state.observe_duration(request, response.seconds)
        if not response.body.strip() and response.status >= 400:
            raise AgentRequestError("http_status", f"{request}: HTTP {response.status} with an empty body")
        try:
            document = parse_document(response.body, self.max_document_bytes)
        except InvalidDocument as error:
            if response.status >= 400:
                # A proxy's HTML error page, say: the status is the better reason.
                raise AgentRequestError("http_status", f"{request}: HTTP {response.status}: {error}") from None
            raise
        return document

    def _streams(self, request: str, document: Document) -> StreamsDocument:
        """The Streams document of an answer, or the agent's error as an AgentRequestError."""
        if isinstance(document, ErrorDocument):
            raise AgentRequestError(error_reason(document), f"{request}: {_error_text(document)}")
        if not isinstance(document, StreamsDocument):
            raise InvalidDocument("unexpected_document", f"{request} did not answer an MTConnectStreams document")
        self._check_identity(document.header)
        if document.header.next_sequence is None or document.header.first_sequence is None:
            raise InvalidDocument("invalid_document", f"{request}: Header lacks nextSequence or firstSequence")
        return document

    def _probe(self) -> float:
        document = self._fetch("probe", self.client.probe)
        if isinstance(document, ErrorDocument):
            raise AgentRequestError(error_reason(document), f"probe: {_error_text(document)}")
        if not isinstance(document, DevicesDocument):
            raise InvalidDocument("unexpected_document", "probe did not answer an MTConnectDevices document")
        header = document.header
        self._progress_since_probe = False
        resumed, self._resumed = self._resumed, False
        if self.instance_id is None or self.cursor is None:
            self._load(document)
            self.phase = Phase.CURRENT
            return 0.0
        if header.instance_id != self.instance_id:
            log.info("agent=%s new instance %s (was %s)", self.config.name, header.instance_id, self.instance_id)
            self.state.mark_restart()
            if self._announced_last is not None and self._announced_last >= self.cursor:
                # What the old instance announced but we never read went away with it.
                self.state.add_lost(self._announced_last + 1 - self.cursor)
            self._load(document)
            self.model_change_time = None
            self._announced_last = None
            self.cursor = FIRST_SEQUENCE_OF_AN_INSTANCE
            self.phase = Phase.RESYNC
            return 0.0
        if model_digest(document) == self._model_hash:
            self.phase = Phase.SAMPLE
            if resumed:
                log.info("agent=%s resuming instance %s from sequence %d", self.config.name, self.instance_id, self.cursor)
                return 0.0
            return self._no_progress("reprobe_unchanged", "a re-probe found the same device model")
        log.info("agent=%s device model changed: rebuilding it, continuing from sequence %d", self.config.name, self.cursor)
        self._load(document)
        self.phase = Phase.RESYNC
        return 0.0

    def _load(self, document: DevicesDocument) -> None:
        self.instance_id = document.header.instance_id
        self._model_hash = model_digest(document)
        self.state.load_model(document)
        self.state.set_probe_header(document.header)
        self._model_fresh = True

    def _current(self) -> None:
        document = self._streams("current", self._fetch("current", self.client.current))
        with self.state.lock:  # a snapshot sees the state and the cursor together
            self.state.apply_current(document, initial=self._model_fresh)
            self._model_fresh = False
            self.cursor = document.header.next_sequence
            self._announce(document.header)
            self.phase = Phase.SAMPLE
        self._succeed()

    def _resync(self) -> float:
        """Learn the agent's firstSequence F and decide where to rebase the state."""
        assert self.cursor is not None
        header = self._streams("current", self._fetch("current", self.client.current)).header
        first, next_sequence = header.first_sequence, header.next_sequence
        assert first is not None and next_sequence is not None
        cursor = self.cursor
        if cursor > next_sequence:
            raise InvalidDocument(
                "invalid_document", f"nextSequence {next_sequence} is below our cursor {cursor} under the same instanceId"
            )
        self._announce(header)
        repeated = self._last_resync_first is not None and first <= self._last_resync_first
        self._last_resync_first = first
        if self._model_fresh:
            self._rebase_at = max(first, cursor - 1)
        elif cursor < first:
            self._rebase_at = first
        else:
            self.phase = Phase.SAMPLE
            return self._no_progress(
                "out_of_range_held", f"OUT_OF_RANGE for sequence {cursor} though the agent holds {first}..{next_sequence - 1}"
            )
        self.phase = Phase.REBASE
        if repeated:
            return self._no_progress("resync_repeated", f"resynchronising at firstSequence {first} again")
        return 0.0

    def _rebase(self) -> float:
        """`/current?at=F`: the state as of F; the cursor moves to F+1 (see the module docstring's accounting)."""
        assert self.cursor is not None and self._rebase_at is not None
        at = self._rebase_at
        document = self._fetch("current", lambda: self.client.current(at=at))
        if isinstance(document, ErrorDocument) and "OUT_OF_RANGE" in document.codes:
            log.info("agent=%s sequence %d left the buffer while resynchronising: again", self.config.name, at)
            self.state.count_error("mtconnect_out_of_range")
            self.phase = Phase.RESYNC
            return 0.0
        document = self._streams("current", document)
        # cppagent's Header of a `current?at=` answer describes the head of its buffer (nextSequence = the
        # head's); the state this document carries ends at `at`, and the state is told so.
        header = dataclasses.replace(document.header, next_sequence=at + 1)
        with self.state.lock:  # a snapshot sees the state, the counters and the cursor together
            self.state.apply_current(dataclasses.replace(document, header=header), initial=self._model_fresh)
            self._model_fresh = False
            lost = at - self.cursor
            if lost > 0:
                log.warning("agent=%s fell behind the agent's buffer: %d observations lost", self.config.name, lost)
                self.state.add_lost(lost)
            if at >= self.cursor:
                self.state.count_observations(1)
            self.cursor = at + 1
            self._rebase_at = None
            self._last_resync_first = None
            self.phase = Phase.SAMPLE
        self._succeed()
        return 0.0

    def _sample(self) -> float:
        assert self.cursor is not None
        start = self.cursor
        document = self._fetch("sample", lambda: self.client.sample(start, self._sample_count()))
        return self._handle_sample(document, start)

    def _sample_count(self) -> int:
        """The configured count, never above the agent's bufferSize: cppagent answers a larger count with
        OUT_OF_RANGE, which would otherwise look like falling behind on every single request."""
        header = self.state.header
        buffer_size = header.buffer_size if header is not None else None
        return min(self.config.sample_count, buffer_size) if buffer_size else self.config.sample_count

    def _stream(self) -> float:
        assert self.cursor is not None
        interval_ms = max(int(self.config.poll_interval * 1000), 10)
        heartbeat_ms = max(int(self.config.heartbeat * 1000), 100)
        parts = self.client.stream(self.cursor, self._sample_count(), interval_ms, heartbeat_ms)
        try:
            for body in parts:
                if self._stop.is_set():
                    return 0.0
                document = parse_document(body, self.max_document_bytes)
                failures = self.failures
                delay = self._handle_sample(document, self.cursor)
                if self.phase is not Phase.SAMPLE or self.failures > failures:
                    return delay  # resynchronise, re-probe or back off: this stream is done
        finally:
            close = getattr(parts, "close", None)
            if close is not None:
                close()
        # The agent closed the stream cleanly: reconnect from the cursor after one interval.
        return self.config.poll_interval

    def _handle_sample(self, document: Document, start: int) -> float:
        if isinstance(document, ErrorDocument) and "OUT_OF_RANGE" in document.codes:
            # We fell behind the agent's buffer (or asked beyond it): learn what it still holds.
            log.warning("agent=%s OUT_OF_RANGE from=%d: resynchronising", self.config.name, start)
            self.state.count_error("mtconnect_out_of_range")
            self.phase = Phase.RESYNC
            return 0.0
        document = self._streams("sample", document)
        header = document.header
        next_sequence = header.next_sequence
        assert next_sequence is not None and header.first_sequence is not None
        if next_sequence < start:
            raise InvalidDocument(
                "invalid_document", f"nextSequence {next_sequence} went back below the requested {start}"
            )
        if header.first_sequence > start and next_sequence < header.first_sequence:
            raise InvalidDocument(
                "invalid_document", f"nextSequence {next_sequence} is below firstSequence {header.first_sequence}"
            )
        undeclared_before = self.state.counters.undeclared
        with self.state.lock:  # a snapshot sees the state, the counters and the cursor together
            if header.first_sequence > start:
                # The agent skipped ahead without an error: what it dropped is lost (it answered from there).
                self.state.add_lost(header.first_sequence - start)
            self._announce(header)
            self.state.apply_sample(document)
            self.cursor = next_sequence
        if next_sequence == start and header.last_sequence is not None and header.last_sequence >= start:
            return self._no_progress(
                "stalled", f"sample from={start} answered nextSequence {start} while lastSequence is {header.last_sequence}"
            )
        self._succeed()
        if self.state.counters.undeclared > undeclared_before:
            delay = self._undeclared()
            if delay is not None:
                return delay
        if header.last_sequence is not None and next_sequence <= header.last_sequence:
            return 0.0  # more is buffered: ask again at once
        return self.config.poll_interval

    def _undeclared(self) -> float | None:
        """Observations of items the probe did not declare were set aside: re-probe, at most once a minute."""
        now = self.clock()
        if now < self._next_undeclared_probe:
            return None
        self._next_undeclared_probe = now + REPROBE_INTERVAL_SECONDS
        log.warning("agent=%s observations of undeclared data items: re-probing", self.config.name)
        self.phase = Phase.PROBE
        return 0.0

    def _announce(self, header: Header) -> None:
        if header.last_sequence is not None:
            self._announced_last = header.last_sequence

    def _check_identity(self, header: Header) -> None:
        if self.instance_id is not None and header.instance_id != self.instance_id:
            raise Restarted(f"instanceId changed from {self.instance_id} to {header.instance_id}")
        # The model's change time is compared between Streams documents only: a probe that disagrees with
        # its own agent's streams (seen in the wild) must not send the follower round in circles.
        change = header.device_model_change_time or None
        if change is None:
            return
        if self.model_change_time is not None and change != self.model_change_time:
            self.model_change_time = change
            raise ModelChanged(f"deviceModelChangeTime changed to {change}")
        self.model_change_time = change

    def _succeed(self) -> None:
        self.failures = 0
        self._logged_invalid = False
        self._progress_since_probe = True
        self.state.mark_success()

    def _fail(self, reason: str, message: str, log_it: bool = True) -> float:
        if self._stop.is_set():
            return 0.0  # stop() cut the answer short: that is no fault of the agent
        if log_it and self.failures == 0:
            log.warning("agent=%s %s", self.config.name, message)
        self.state.mark_failure(reason, message)
        self.failures += 1
        return self._backoff()

    def _no_progress(self, reason: str, message: str) -> float:
        """A step that got an answer but moved nothing: count it and back off, without marking the agent down
        (its data may be flowing). Logged once per reason per follower: the counter tells the rate."""
        if reason not in self._logged_no_progress:
            self._logged_no_progress.add(reason)
            log.warning("agent=%s %s: backing off (reason=%s)", self.config.name, message, reason)
        self.state.count_error(reason)
        self.failures += 1
        return self._backoff()

    def _backoff(self) -> float:
        """Capped exponential backoff with full jitter, starting at the poll interval."""
        ceiling = min(self.config.poll_interval * (2 ** min(self.failures, 10)), MAX_BACKOFF_SECONDS)
        return self.rng.uniform(ceiling / 2, ceiling)


def model_digest(document: DevicesDocument) -> str:
    """A digest of a probe's devices that is the same in every process (`hash()` of strings is not), so a
    snapshot can tell whether the model it was taken with is still the agent's."""
    return hashlib.blake2b(repr(document.devices).encode(), digest_size=16).hexdigest()


def error_reason(document: ErrorDocument) -> str:
    """The metric reason of an error document: one per MTConnect error code, `mtconnect_other` for the rest."""
    code = document.codes[0] if document.codes else ""
    return "mtconnect_" + code.lower() if code in MTCONNECT_ERROR_CODES else "mtconnect_other"


def _error_text(document: ErrorDocument) -> str:
    return "; ".join(f"{error.code}: {error.message}" for error in document.errors)[:300] or "error document"
