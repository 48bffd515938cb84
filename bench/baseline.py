"""The baseline: the way the old application worked, kept only to measure against.

Every `interval` seconds it fetches `/current` of each agent, parses it with
xml.etree.ElementTree and re-stores every item (value, timestamp) whether it
changed or not, then exposes the stored values with prometheus_client's
generic metric objects. What happened between two polls is invisible to it.

Run as a process: `python -m bench.baseline --interval 1 --listen 127.0.0.1:PORT NAME=URL...`.
"""

from __future__ import annotations

import argparse
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass

import requests
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server


@dataclass(frozen=True)
class Row:
    element: str
    value: str
    timestamp: str


def local(tag: str) -> str:
    return tag.rpartition("}")[2]


def rows_of(body: bytes) -> dict[str, Row]:
    """Every observation of a /current document, by data item id."""
    rows = {}
    for element in ElementTree.fromstring(body).iter():
        item_id = element.get("dataItemId")
        if item_id is not None:
            rows[item_id] = Row(local(element.tag), (element.text or "").strip(), element.get("timestamp", ""))
    return rows


class BaselineStore:
    """The old store: a row per item, rewritten on every poll, and a gauge per item."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.rows: dict[tuple[str, str], Row] = {}
        self.lock = threading.Lock()
        self.values = Gauge("baseline_value", "Last polled value of a numeric item.", ["agent", "data_item_id"], registry=registry)
        self.states = Gauge("baseline_state", "1 for the last polled value of a text item.", ["agent", "data_item_id", "value"], registry=registry)
        self.stored = Counter("baseline_items_stored", "Items stored (every item, every poll).", ["agent"], registry=registry)

    def store(self, agent: str, rows: dict[str, Row]) -> None:
        with self.lock:
            for item_id, row in rows.items():
                previous = self.rows.get((agent, item_id))
                self.rows[(agent, item_id)] = row
                try:
                    self.values.labels(agent, item_id).set(float(row.value))
                except ValueError:
                    if previous is not None and previous.value != row.value:
                        self.states.labels(agent, item_id, previous.value).set(0)
                    self.states.labels(agent, item_id, row.value).set(1)
            self.stored.labels(agent).inc(len(rows))


def poll(agent: str, url: str, interval: float, store: Callable[[str, dict[str, Row]], None], stop: threading.Event) -> None:
    session = requests.Session()
    next_poll = time.monotonic()
    while not stop.is_set():
        try:
            store(agent, rows_of(session.get(url + "current", timeout=10).content))
        except (requests.RequestException, ElementTree.ParseError):
            pass  # the old application logged and waited for the next timer tick
        next_poll += interval
        stop.wait(max(next_poll - time.monotonic(), 0))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline")
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--listen", required=True, metavar="HOST:PORT")
    parser.add_argument("agents", nargs="+", metavar="NAME=URL")
    args = parser.parse_args()
    registry = CollectorRegistry()
    store = BaselineStore(registry)
    host, _, port = args.listen.rpartition(":")
    start_http_server(int(port), host, registry=registry)
    stop = threading.Event()
    for spec in args.agents:
        name, _, url = spec.partition("=")
        threading.Thread(target=poll, args=(name, url, args.interval, store.store, stop), daemon=True).start()
    stop.wait()


if __name__ == "__main__":
    main()
