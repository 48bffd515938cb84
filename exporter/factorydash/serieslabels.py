"""The label strings of an agent's series: data item labels rendered once per tracker and kept by the
collector between scrapes, and the label-length rule applied to every value an agent sends."""

from __future__ import annotations

from dataclasses import dataclass

from .exposition import render_labels
from .limits import cap_label_value
from .metrics import DATA_ITEM_LABELS
from .state import AgentState
from .trackers import Tracker

Pairs = tuple[tuple[str, str], ...]


@dataclass(slots=True, eq=False)
class _Rendered:
    """The rendered label strings of one tracker's series: without extra labels, and by bounded extras."""

    tracker: Tracker
    plain: str = ""
    extra: dict[Pairs, str] | None = None


class LabelCache:
    """Rendered label strings of data-item series, kept by the collector between scrapes (rendering them
    costs more than the rest of a series). The trackers stay the state's: a scrape writes nothing into them.

    Entries are keyed by tracker identity: a re-probe's new trackers get new entries, and the old ones are
    dropped as soon as the entries outnumber the agent's trackers (so at most twice as many are kept). An
    agent's entries are only touched under its lock.
    """

    def __init__(self) -> None:
        self._agents: dict[str, tuple[AgentState, dict[int, _Rendered]]] = {}

    def of(self, state: AgentState) -> AgentLabels:
        known = self._agents.get(state.name)
        entries = known[1] if known is not None and known[0] is state else {}
        if len(entries) > len(state.trackers):
            entries = {
                id(tracker): entry
                for tracker in state.trackers.values()
                if (entry := entries.get(id(tracker))) is not None and entry.tracker is tracker
            }
        self._agents[state.name] = (state, entries)
        return AgentLabels(state, entries)

    def keep_only(self, names: set[str]) -> None:
        """Forget the agents not named (gone with a reload)."""
        for name in [name for name in self._agents if name not in names]:
            self._agents.pop(name, None)


class AgentLabels:
    """The label strings of one agent's series during one scrape."""

    __slots__ = ("state", "_entries")

    def __init__(self, state: AgentState, entries: dict[int, _Rendered]) -> None:
        self.state = state
        self._entries = entries

    def item(self, tracker: Tracker, extra: Pairs = ()) -> str:
        """A data-item series' labels, kept between scrapes (bounded extras only)."""
        entry = self._entries.get(id(tracker))
        if entry is None or entry.tracker is not tracker:
            entry = self._entries[id(tracker)] = _Rendered(tracker)
        if not extra:
            if not entry.plain:
                entry.plain = self.unbounded(tracker, ())
            return entry.plain
        if entry.extra is None:
            entry.extra = {}
        text = entry.extra.get(extra)
        if text is None:
            text = entry.extra[extra] = self.unbounded(tracker, extra)
        return text

    def unbounded(self, tracker: Tracker, extra: Pairs) -> str:
        """For unbounded extras (DATA_SET keys, alarm messages, event values): never kept."""
        state = self.state
        return render_labels((*zip(DATA_ITEM_LABELS, state.item_labels(tracker.item)), *capped(state, extra)))


def capped(state: AgentState, pairs: Pairs) -> Pairs:
    """Label pairs whose values come from the agent, each cut to the configured length."""
    limit = state.settings_label_limit
    return tuple((name, cap_label_value(value, limit)) for name, value in pairs)
