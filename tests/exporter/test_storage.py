"""The snapshot files of `--storage.path`: atomic replacement, and a bad file never stops the exporter."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from factorydash.storage import (
    SNAPSHOT_FORMAT,
    SNAPSHOT_VERSION,
    SnapshotStore,
    SnapshotTooLarge,
    SnapshotWriter,
    StorageError,
)

SNAPSHOT = {"instance_id": "1700000000", "cursor": 4711, "state": {"seconds": {"ACTIVE": 12.5}}}


def test_a_written_snapshot_reads_back_equal_from_a_file_named_after_the_agent(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    store.write("mill-1", SNAPSHOT)
    assert store.read("mill-1") == SNAPSHOT
    assert [path.name for path in tmp_path.iterdir()] == ["mill-1.snapshot.json"]
    envelope = json.loads((tmp_path / "mill-1.snapshot.json").read_text())
    assert (envelope["format"], envelope["version"], envelope["agent"]) == (SNAPSHOT_FORMAT, SNAPSHOT_VERSION, "mill-1")


def test_a_missing_directory_is_created_and_a_first_start_reads_no_snapshot_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SnapshotStore(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    with caplog.at_level(logging.INFO):
        assert store.read("mill-1") is None
    assert caplog.records == []


def test_a_directory_that_cannot_be_created_is_a_start_up_error_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StorageError, match=rf"storage directory {blocker}/sub is not usable"):
        SnapshotStore(blocker / "sub")


def test_a_directory_that_is_not_writable_is_a_start_up_error() -> None:
    # File permissions do not stop root, a read-only file system does: sysfs takes no new files from anyone.
    with pytest.raises(StorageError, match=r"storage directory /sys is not usable: .*(Permission denied|Read-only|not permitted)"):
        SnapshotStore("/sys")


CRASH_BETWEEN_WRITE_AND_REPLACE = """
import os, sys
from factorydash.storage import SnapshotStore
store = SnapshotStore(sys.argv[1])
os.replace = lambda *args: os._exit(9)  # the process dies after the temp file is written and synced
store.write("mill-1", {"cursor": 2})
"""


@pytest.mark.integration
def test_a_crash_between_writing_and_replacing_leaves_the_old_snapshot_and_the_leftover_is_cleaned(
    tmp_path: Path,
) -> None:
    SnapshotStore(tmp_path).write("mill-1", {"cursor": 1})
    crashed = subprocess.run([sys.executable, "-c", CRASH_BETWEEN_WRITE_AND_REPLACE, str(tmp_path)], timeout=60)
    assert crashed.returncode == 9
    leftovers = [path.name for path in tmp_path.iterdir() if path.name.endswith(".tmp")]
    assert len(leftovers) == 1  # the new snapshot was complete on disk, just never put in place
    store = SnapshotStore(tmp_path)
    assert store.read("mill-1") == {"cursor": 1}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mill-1.snapshot.json"]


def test_a_failing_replace_keeps_the_old_snapshot_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SnapshotStore(tmp_path)
    store.write("mill-1", {"cursor": 1})

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError):
        store.write("mill-1", {"cursor": 2})
    monkeypatch.undo()
    assert store.read("mill-1") == {"cursor": 1}
    assert [path.name for path in tmp_path.iterdir()] == ["mill-1.snapshot.json"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"format": "factorydash-snapshot", "version": 1, "agent": "mill-1", "snapsh', "not valid JSON"),
        (b"\x00\xff\xfe garbage", "not valid JSON"),
        (b"[1, 2, 3]", "not a factorydash snapshot"),
        (b'{"format": "something-else", "version": 1}', "not a factorydash snapshot"),
        (b'{"format": "factorydash-snapshot", "version": 99, "agent": "mill-1", "snapshot": {}}', "format version 99"),
        (b'{"format": "factorydash-snapshot", "version": 1, "agent": "lathe-2", "snapshot": {}}', "agent 'lathe-2'"),
        (b'{"format": "factorydash-snapshot", "version": 1, "agent": "mill-1", "snapshot": [1]}', "no snapshot object"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
    ids=["truncated", "binary", "a-list", "foreign-format", "other-version", "other-agent", "no-object", "deep-nesting"],
)
def test_a_file_that_is_no_usable_snapshot_is_logged_once_with_the_agent_and_the_agent_starts_fresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes, reason: str
) -> None:
    store = SnapshotStore(tmp_path)
    store.path("mill-1").write_bytes(content)
    with caplog.at_level(logging.WARNING):
        assert store.read("mill-1") is None
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert message.startswith("agent=mill-1 snapshot ") and "starting fresh" in message and reason in message


def test_an_unreadable_snapshot_is_logged_and_the_agent_starts_fresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SnapshotStore(tmp_path)
    store.path("mill-1").mkdir()  # a directory where the file should be: read() gets IsADirectoryError
    with caplog.at_level(logging.WARNING):
        assert store.read("mill-1") is None
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith(f"agent=mill-1 cannot read snapshot {tmp_path}")


def test_a_snapshot_over_the_size_limit_is_not_written_and_an_oversized_file_is_not_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SnapshotStore(tmp_path, max_bytes=1000)
    store.write("mill-1", {"cursor": 1})
    with pytest.raises(SnapshotTooLarge, match="exceeds the limit of 1000"):
        store.write("mill-1", {"cursor": 2, "padding": "x" * 1000})
    assert store.read("mill-1") == {"cursor": 1}
    SnapshotStore(tmp_path, max_bytes=10_000).write("mill-1", {"cursor": 3, "padding": "x" * 2000})
    with caplog.at_level(logging.WARNING):
        assert store.read("mill-1") is None
    assert "larger than the limit of 1000 bytes" in caplog.records[0].getMessage()


class FakeSource:
    def __init__(self) -> None:
        self.cursor = 0
        self.calls = threading.Semaphore(0)

    def __call__(self) -> dict[str, dict | None]:
        self.cursor += 1
        self.calls.release()
        return {"mill-1": {"cursor": self.cursor}, "probing": None}


def test_the_writer_writes_every_interval_and_once_more_when_it_stops(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    source = FakeSource()
    writer = SnapshotWriter(store, source, interval=0.01)
    writer.start()
    for _ in range(3):
        assert source.calls.acquire(timeout=10)
    writer.stop()
    assert store.read("mill-1") == {"cursor": source.cursor}  # the last one, taken at stop
    assert store.read("probing") is None  # an agent with nothing consistent to save writes nothing


def test_a_failing_write_is_logged_once_until_a_write_succeeds_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SnapshotStore(tmp_path)
    writer = SnapshotWriter(store, FakeSource(), interval=3600)
    real_replace = os.replace

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            writer.write_all()
        monkeypatch.setattr(os, "replace", real_replace)
        writer.write_all()
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("agent=mill-1 cannot write snapshot") and "No space left" in messages[0]
    assert messages[1] == "agent=mill-1 snapshot written again"
    assert store.read("mill-1") == {"cursor": 4}
