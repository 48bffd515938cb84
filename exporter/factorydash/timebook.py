"""The booking rule of docs/time-accounting.md (sections 1-4), independent of what is booked.

Every seconds counter of the exporter (time in state per data item, ISO 22400 time
elements per device) is booked with the pieces here:

- `AgentClock`: A, the newest Header creationTime of the current agent instance's documents
  that reach the head of its buffer. It moves only when a document is applied, never with the
  exporter's own clock.
- `DeviceTimeline`: one per device; turns an observation's timestamp text into a `Stamp`
  after the sanity rules (unparsable, future, jumps and lone outliers).
- `Stamp`: when something happened on both clocks; an interval starts at one.
- `closed_length` / `exposed_part`: what an interval books when it closes, and what its open
  part shows while it runs.

No function here reads the exporter's clock: every result is a function of the applied stream.
"""

from __future__ import annotations

from dataclasses import dataclass

from .parser import Header, parse_timestamp

REJECTION_REASONS = ("unparsable", "future", "outlier")


class TimelineSegment:
    """A stretch of one device's clock without a jump. A closed length is measured only between two
    stamps of the same segment: across a jump it tells nothing about how long a value lasted."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Stamp:
    """When an observation happened: device time after the sanity rules (None: unknown), and the agent
    time of the document that carried it (its creationTime, never below A)."""

    device: float | None
    agent: float
    segment: TimelineSegment | None

    @property
    def position(self) -> float:
        """Where the stamp lies for the calendar: the device's time when known, else the agent's."""
        return self.agent if self.device is None else self.device


def exposed_part(since: Stamp, agent_clock: float | None) -> float:
    """What an open interval that began at `since` shows when the agent clock reads `agent_clock`."""
    if agent_clock is None:
        return 0.0
    return max(agent_clock - since.agent, 0.0)


def closed_length(since: Stamp, end: Stamp, agent_before: float | None) -> float:
    """Seconds an interval from `since` books when the observation stamped `end` closes it.

    `agent_before` is A before the document carrying `end` was applied: the exposed part is
    never taken back, and nothing is counted twice (max, not sum).
    """
    closed = 0.0
    if since.device is not None and end.device is not None and since.segment is end.segment:
        closed = max(end.device - since.device, 0.0)  # a step back in time books nothing
    return max(closed, exposed_part(since, agent_before))


class AgentClock:
    """A of one agent: the newest creationTime of the current instance's documents that reach the head
    of the agent's buffer.

    A document that leaves observations buffered (nextSequence <= lastSequence: a catch-up read in
    several answers) does not show the agent's present: the values it does not hold yet would grow
    up to its creationTime without having lasted that long. Such a document does not move A; the
    observations it carries still start at its creationTime (`document`).
    """

    __slots__ = ("instance_id", "now", "before", "creation", "document", "previous_instance_end")

    def __init__(self) -> None:
        self.instance_id: str | None = None
        self.now: float | None = None  # A
        self.before: float | None = None  # A before the document being applied
        self.creation: float | None = None  # creationTime of the document being applied
        self.document: float | None = None  # agent time of the document being applied: max(A, creationTime)
        # A when the previous instance was last heard of, until the new instance's first document.
        self.previous_instance_end: float | None = None

    def is_new_instance(self, header: Header) -> bool:
        """True when `header` belongs to another instance than the documents before (not on first contact)."""
        return self.instance_id is not None and header.instance_id != self.instance_id

    def start_instance(self, header: Header) -> None:
        """Forget A: a new instance starts a new agent clock (the old one's end is kept for the gap)."""
        if self.instance_id is not None and self.now is not None:
            self.previous_instance_end = self.now
        self.instance_id = header.instance_id
        self.now = self.before = self.creation = self.document = None

    def apply_header(self, header: Header) -> float | None:
        """A document of the current instance is being applied: move A; returns the instance gap
        (seconds between the previous instance's last document and this one), if this is the
        new instance's first document."""
        if self.instance_id is None:
            self.instance_id = header.instance_id
        try:
            creation = parse_timestamp(header.creation_time)
        except (ValueError, TypeError, OverflowError):
            creation = None
        self.before = self.now
        self.creation = creation
        at_head = header.next_sequence is None or header.last_sequence is None or (
            header.next_sequence > header.last_sequence
        )
        if creation is not None and at_head and (self.now is None or creation > self.now):
            self.now = creation
        known = [moment for moment in (self.now, creation) if moment is not None]
        self.document = max(known) if known else None
        gap = None
        if self.previous_instance_end is not None and self.document is not None:
            gap = self.document - self.previous_instance_end
            self.previous_instance_end = None
        return gap


@dataclass(frozen=True, slots=True)
class TimestampRules:
    max_clock_skew: float = 300.0
    outlier_window: float = 21600.0


def _fits(raw: float, anchor: float, agent_elapsed: float, window: float) -> bool:
    """Whether a device time lies on a timeline that was at `anchor` `agent_elapsed` agent seconds ago."""
    return anchor - window <= raw <= anchor + max(agent_elapsed, 0.0) + window


class DeviceTimeline:
    """One device's clock as seen through its observations (docs/time-accounting.md section 3).

    The timeline is the raw time t0 of the device's newest accepted observation and A when it
    was applied (a0). An observation at t fits it when t0 - window <= t <= t0 + (A - a0) + window:
    observations read late from the agent's buffer (a catch-up after an outage, a document that
    holds hours) are older than A suggests, and still fit. One that does not fit is a jump, in a
    segment of its own; the device's next observation decides: near the jump, the
    device's clock really moved (the jump's segment becomes the timeline); near the old
    timeline, the jump was a lone outlier (counted; the old segment goes on).
    """

    __slots__ = ("segment", "anchor", "anchor_agent", "jump", "jump_agent", "jump_segment")

    def __init__(self) -> None:
        self.segment: TimelineSegment | None = None
        self.anchor = 0.0  # raw device time of the newest accepted observation
        self.anchor_agent = 0.0  # A when it was applied
        self.jump: float | None = None  # raw device time of an undecided jump
        self.jump_agent = 0.0
        self.jump_segment: TimelineSegment | None = None

    def stamp(self, text: str, clock: AgentClock, rules: TimestampRules, rejected: dict[str, int]) -> Stamp:
        """The stamp of an observation of this device in the document being applied; counts rejections."""
        agent = clock.document if clock.document is not None else 0.0
        try:
            raw = parse_timestamp(text)
        except (ValueError, TypeError, OverflowError):
            rejected["unparsable"] += 1
            return Stamp(None, agent, None)
        device = raw
        if clock.creation is not None and raw > clock.creation + rules.max_clock_skew:
            rejected["future"] += 1
            device = clock.creation + rules.max_clock_skew  # nothing is booked past the agent's clock
        return Stamp(device, agent, self._segment_of(raw, agent, rules.outlier_window, rejected))

    def _segment_of(self, raw: float, agent: float, window: float, rejected: dict[str, int]) -> TimelineSegment:
        if self.segment is None:
            return self._accept(raw, agent, TimelineSegment())
        if self.jump is not None:
            if _fits(raw, self.jump, agent - self.jump_agent, window):
                segment = self.jump_segment
                self.jump = self.jump_segment = None
                assert segment is not None
                return self._accept(raw, agent, segment)  # the device's clock really moved
            rejected["outlier"] += 1  # the jump stood alone
            self.jump = self.jump_segment = None
        if _fits(raw, self.anchor, agent - self.anchor_agent, window):
            return self._accept(raw, agent, self.segment)
        self.jump, self.jump_agent, self.jump_segment = raw, agent, TimelineSegment()
        return self.jump_segment

    def _accept(self, raw: float, agent: float, segment: TimelineSegment) -> TimelineSegment:
        self.segment, self.anchor, self.anchor_agent = segment, raw, agent
        return segment

    def current_start(self, newest: float | None, clock: AgentClock, rules: TimestampRules) -> Stamp:
        """The start of every interval of this device in a `/current` document (never back-dated).

        `newest` is the device's newest raw timestamp in the document. Its device time is A when
        the two clocks agree (within the outlier window), else unknown; the timeline goes on from
        `newest` (a new segment when it is far from the estimate).
        """
        agent = clock.document if clock.document is not None else 0.0
        if newest is None:
            return Stamp(None, agent, self.segment)
        window = rules.outlier_window
        continuous = self.segment is not None and _fits(newest, self.anchor, agent - self.anchor_agent, window)
        self.jump = self.jump_segment = None
        segment = self._accept(newest, agent, self.segment if continuous and self.segment else TimelineSegment())
        return Stamp(agent if abs(newest - agent) <= window else None, agent, segment)
