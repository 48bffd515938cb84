"""`--storage.path`: one snapshot file per agent, so an exporter restart loses nothing the agent still holds.

A snapshot is a JSON object in an envelope of our own (`format`, `version`, `agent`); what it holds is
decided by `snapshot.py`. Files are replaced atomically (a temp file in the same directory, fsync, then
`os.replace`, then fsync of the directory): a crash at any moment leaves either the old snapshot or the
new one, never a torn file. One writer thread writes every agent's snapshot every `interval` seconds and
once more when it stops (the SIGTERM/SIGINT path of the CLI).

Reading never fails the exporter: a missing file means a first start; an unreadable, corrupt, oversized or
foreign file is logged with `agent=` and the agent starts fresh.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SNAPSHOT_FORMAT = "factorydash-snapshot"
SNAPSHOT_VERSION = 1
DEFAULT_INTERVAL_SECONDS = 5.0
# A snapshot holds the device model and every tracker's counters: about 300 bytes per data item, so this
# fits well beyond the default series caps. A larger one is not written (logged), never truncated.
DEFAULT_MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024
SUFFIX = ".snapshot.json"
TEMP_SUFFIX = ".tmp"

Snapshot = dict[str, Any]
SnapshotSource = Callable[[], Mapping[str, Snapshot | None]]


class StorageError(Exception):
    """The storage directory cannot be used: a start-up error, with a message for the operator."""


class SnapshotTooLarge(ValueError):
    pass


class SnapshotStore:
    """The files of one storage directory, one per agent (agent names are validated file-safe)."""

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_SNAPSHOT_BYTES) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # Prove now that snapshots can be written, rather than failing quietly every few seconds later.
            descriptor, probe = tempfile.mkstemp(prefix=".write-test.", suffix=TEMP_SUFFIX, dir=self.directory)
            os.close(descriptor)
            os.unlink(probe)
        except OSError as error:
            raise StorageError(f"storage directory {self.directory} is not usable: {error}") from None
        for leftover in self.directory.glob(f".*{TEMP_SUFFIX}"):  # from a process killed while writing
            _remove_quietly(str(leftover))

    def path(self, agent: str) -> Path:
        return self.directory / f"{agent}{SUFFIX}"

    def write(self, agent: str, snapshot: Snapshot) -> None:
        """Replace the agent's snapshot atomically; raises OSError or SnapshotTooLarge (the old file stays)."""
        envelope = {"format": SNAPSHOT_FORMAT, "version": SNAPSHOT_VERSION, "agent": agent, "snapshot": snapshot}
        data = json.dumps(envelope, separators=(",", ":")).encode()
        if len(data) > self.max_bytes:
            raise SnapshotTooLarge(f"snapshot of {len(data)} bytes exceeds the limit of {self.max_bytes}")
        descriptor, temp = tempfile.mkstemp(prefix=f".{agent}.", suffix=TEMP_SUFFIX, dir=self.directory)
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, self.path(agent))
        except BaseException:
            _remove_quietly(temp)
            raise
        self._sync_directory()

    def _sync_directory(self) -> None:
        # The rename itself is durable only once the directory is synced (ext4, xfs).
        try:
            descriptor = os.open(self.directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(descriptor)
        except OSError:
            pass  # some filesystems refuse fsync on directories; the rename is still atomic
        finally:
            os.close(descriptor)

    def read(self, agent: str) -> Snapshot | None:
        """The agent's snapshot, or None (first start, or a file that cannot be used: logged once here)."""
        path = self.path(agent)
        try:
            with path.open("rb") as file:
                data = file.read(self.max_bytes + 1)
        except FileNotFoundError:
            return None
        except OSError as error:
            log.warning("agent=%s cannot read snapshot %s, starting fresh: %s", agent, path, error)
            return None
        problem = self._problem(agent, data)
        if problem is not None:
            log.warning("agent=%s snapshot %s ignored, starting fresh: %s", agent, path, problem)
            return None
        return json.loads(data)["snapshot"]

    def _problem(self, agent: str, data: bytes) -> str | None:
        if len(data) > self.max_bytes:
            return f"larger than the limit of {self.max_bytes} bytes"
        try:
            envelope = json.loads(data)
        except (ValueError, RecursionError) as error:
            return f"not valid JSON ({error.__class__.__name__}: {str(error)[:100]})"
        if not isinstance(envelope, dict) or envelope.get("format") != SNAPSHOT_FORMAT:
            return "not a factorydash snapshot"
        if envelope.get("version") != SNAPSHOT_VERSION:
            return f"format version {envelope.get('version')!r}, this exporter reads version {SNAPSHOT_VERSION}"
        if envelope.get("agent") != agent:
            return f"written for agent {envelope.get('agent')!r}"
        if not isinstance(envelope.get("snapshot"), dict):
            return "no snapshot object"
        return None


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


class SnapshotWriter:
    """The one thread that writes snapshots: every `interval` seconds, and once more at `stop()`.

    `source()` returns each agent's snapshot, or None for an agent with nothing consistent to save yet
    (its file, if any, stays as it is).
    """

    def __init__(self, store: SnapshotStore, source: SnapshotSource, interval: float = DEFAULT_INTERVAL_SECONDS) -> None:
        self.store = store
        self.source = source
        self.interval = interval
        self._failing: set[str] = set()  # agents whose last write failed: logged once until one succeeds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="snapshot-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write a last snapshot of every agent (called after the followers stopped)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.write_all()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.write_all()

    def write_all(self) -> None:
        try:
            snapshots = self.source()
        except Exception:  # a bug in taking snapshots must not end the writer
            log.exception("taking snapshots failed")
            return
        for agent, snapshot in snapshots.items():
            if snapshot is not None:
                self._write(agent, snapshot)

    def _write(self, agent: str, snapshot: Snapshot) -> None:
        try:
            self.store.write(agent, snapshot)
        except (OSError, SnapshotTooLarge, TypeError, ValueError) as error:
            if agent not in self._failing:
                self._failing.add(agent)
                log.error("agent=%s cannot write snapshot %s: %s", agent, self.store.path(agent), error)
            return
        if agent in self._failing:
            self._failing.discard(agent)
            log.info("agent=%s snapshot written again", agent)
