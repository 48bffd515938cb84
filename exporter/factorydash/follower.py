"""The loss-free loop: probe -> current -> sample?from=<nextSequence>... for one agent.

`AgentFollower.step()` does one exchange and returns how long to wait before
the next one, so tests drive the loop synchronously; `start()` runs it in a
daemon thread. Threads, not asyncio: requests is blocking, agents are
independent, and a thread per agent means a slow or dead agent only ever
blocks itself (network waits and lxml parsing release the GIL).
"""

from __future__ import annotations

import enum
import logging
import random
import threading

from .client import AgentClient, AgentRequestError
from .config import AgentConfig
from .parser import DevicesDocument, ErrorDocument, Header, InvalidDocument, StreamsDocument, parse_document
from .state import AgentState

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 30.0


class Phase(enum.Enum):
    PROBE = "probe"
    CURRENT = "current"
    SAMPLE = "sample"


class Restarted(Exception):
    """The agent's identity changed (instanceId or deviceModelChangeTime)."""


class AgentFollower:
    def __init__(
        self,
        config: AgentConfig,
        state: AgentState,
        client: AgentClient,
        max_document_bytes: int,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self.client = client
        self.max_document_bytes = max_document_bytes
        self.rng = rng or random.Random()
        self.phase = Phase.PROBE
        self.cursor: int | None = None
        self.instance_id: str | None = None
        self.model_change_time: str | None = None
        self.failures = 0
        self._model_fresh = True  # trackers were just rebuilt: the next /current is an initial one
        self._logged_invalid = False
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

    # -- one exchange ----------------------------------------------------------

    def step(self) -> float:
        """One request and its processing; returns seconds to wait before the next."""
        try:
            if self.phase is Phase.PROBE:
                self._probe()
                return 0.0
            if self.phase is Phase.CURRENT:
                self._current()
                return 0.0
            if self.config.stream:
                return self._stream()
            return self._sample()
        except AgentRequestError as error:
            return self._fail(error.reason, str(error))
        except InvalidDocument as error:
            if not self._logged_invalid:
                log.warning("agent=%s invalid document: %s", self.config.name, error)
                self._logged_invalid = True
            return self._fail(error.reason, f"invalid document: {error}", log_it=False)
        except Restarted as restart:
            log.info("agent=%s %s: re-probing", self.config.name, restart)
            self.state.mark_restart()
            self.phase = Phase.PROBE
            return 0.0

    def _fetch(self, request: str, response_getter) -> object:
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

    def _probe(self) -> None:
        document = self._fetch("probe", self.client.probe)
        if isinstance(document, ErrorDocument):
            raise AgentRequestError(_error_reason(document), f"probe: {_error_text(document)}")
        if not isinstance(document, DevicesDocument):
            raise InvalidDocument("unexpected_document", "probe did not answer an MTConnectDevices document")
        header = document.header
        if self.instance_id is not None and (
            header.instance_id != self.instance_id
            or (header.device_model_change_time or None) != self.model_change_time
        ):
            log.info("agent=%s new instance %s (was %s)", self.config.name, header.instance_id, self.instance_id)
        self.instance_id = header.instance_id
        self.model_change_time = header.device_model_change_time or None
        self.state.load_model(document)
        self.state.set_probe_header(header)
        self._model_fresh = True
        self.phase = Phase.CURRENT

    def _current(self) -> None:
        document = self._fetch("current", self.client.current)
        if isinstance(document, ErrorDocument):
            raise AgentRequestError(_error_reason(document), f"current: {_error_text(document)}")
        if not isinstance(document, StreamsDocument):
            raise InvalidDocument("unexpected_document", "current did not answer an MTConnectStreams document")
        self._check_identity(document.header)
        header = document.header
        if self.cursor is not None and not self._model_fresh and header.first_sequence is not None:
            lost = header.first_sequence - self.cursor
            if lost > 0:
                log.warning("agent=%s fell behind the agent's buffer: %d observations lost", self.config.name, lost)
                self.state.add_lost(lost)
        self.state.apply_current(document, initial=self._model_fresh)
        self._model_fresh = False
        if header.next_sequence is None:
            raise InvalidDocument("invalid_document", "current: Header has no nextSequence")
        self.cursor = header.next_sequence
        self.phase = Phase.SAMPLE
        self._succeed()

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
                self._handle_sample(document, self.cursor)
                if self.phase is not Phase.SAMPLE:
                    return 0.0
        finally:
            close = getattr(parts, "close", None)
            if close is not None:
                close()
        # The agent closed the stream cleanly: reconnect from the cursor after one interval.
        return self.config.poll_interval

    def _handle_sample(self, document: object, start: int) -> float:
        if isinstance(document, ErrorDocument):
            if "OUT_OF_RANGE" in document.codes:
                # We fell behind the agent's buffer (or asked beyond it): resynchronise from /current,
                # which tells how much was lost (its firstSequence minus our cursor).
                log.warning("agent=%s OUT_OF_RANGE from=%d: resynchronising", self.config.name, start)
                self.state.count_error("mtconnect_out_of_range")
                self.phase = Phase.CURRENT
                return 0.0
            raise AgentRequestError(_error_reason(document), f"sample: {_error_text(document)}")
        if not isinstance(document, StreamsDocument):
            raise InvalidDocument("unexpected_document", "sample did not answer an MTConnectStreams document")
        header = document.header
        self._check_identity(header)
        if header.next_sequence is None:
            raise InvalidDocument("invalid_document", "sample: Header has no nextSequence")
        if header.first_sequence is not None and header.first_sequence > start:
            # The agent skipped ahead without an error: what it dropped is lost.
            self.state.add_lost(header.first_sequence - start)
        if header.next_sequence < start:
            # Sequence numbers went backwards under the same instanceId: trust nothing, start over.
            raise Restarted(f"nextSequence {header.next_sequence} went back below {start}")
        self.state.apply_sample(document)
        self.cursor = header.next_sequence
        self._succeed()
        if self.state.needs_probe:
            self.phase = Phase.PROBE
            return 0.0
        if header.last_sequence is not None and header.next_sequence <= header.last_sequence:
            return 0.0  # more is buffered: ask again at once
        return self.config.poll_interval

    def _check_identity(self, header: Header) -> None:
        if self.instance_id is not None and header.instance_id != self.instance_id:
            raise Restarted(f"instanceId changed from {self.instance_id} to {header.instance_id}")
        change = header.device_model_change_time or None
        if change is not None and self.model_change_time is not None and change != self.model_change_time:
            raise Restarted(f"deviceModelChangeTime changed to {change}")

    def _succeed(self) -> None:
        self.failures = 0
        self._logged_invalid = False
        self.state.mark_success()

    def _fail(self, reason: str, message: str, log_it: bool = True) -> float:
        if log_it and self.failures == 0:
            log.warning("agent=%s %s", self.config.name, message)
        self.state.mark_failure(reason, message)
        self.failures += 1
        return self._backoff()

    def _backoff(self) -> float:
        """Capped exponential backoff with full jitter, starting at the poll interval."""
        ceiling = min(self.config.poll_interval * (2 ** min(self.failures, 10)), MAX_BACKOFF_SECONDS)
        return self.rng.uniform(ceiling / 2, ceiling)


def _error_reason(document: ErrorDocument) -> str:
    code = document.codes[0] if document.codes else "UNKNOWN"
    return "mtconnect_" + "".join(ch if ch.isalnum() else "_" for ch in code.lower())[:40]


def _error_text(document: ErrorDocument) -> str:
    return "; ".join(f"{error.code}: {error.message}" for error in document.errors)[:300] or "error document"
