"""kill -9 loses nothing that was committed; one process per database; the boot id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from bgpvpn.store import SqliteStore, StoreLockedError

from .helpers import blue, port

CHILD_PRELUDE = """
import os, signal, sys, time
from bgpvpn.store import SqliteStore
from bgpvpn.vpn.model import InstanceSpec, InstanceType, PortAttachment
path = sys.argv[1]
def port(n):
    return PortAttachment("blue", InstanceType.EVPN, f"tap{n}", f"52:54:00:00:{n >> 8:02x}:{n & 255:02x}")
"""


def child(code: str, path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD_PRELUDE + textwrap.dedent(code), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_right_after_commit_keeps_the_write(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    proc = child(
        """
        store = SqliteStore(path)
        with store.transaction() as tx:
            tx.put_instance(InstanceSpec("blue", InstanceType.EVPN, ("64512:77",)), 1, "192.0.2.1:1", 5001)
            tx.put_attachment(port(1))
            tx.put_route("203.0.113.0/24", {"prefix": "203.0.113.0/24"}, 1234.5)
            tx.set_meta("next_index", "2")
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        path,
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, err
    # the write sits in the WAL (never checkpointed nor closed): that is what is tested
    wal = Path(f"{path}-wal")
    assert wal.exists() and wal.stat().st_size > 0
    with SqliteStore(path) as store:
        intent = store.load()
    assert [(s.spec.instance_id, s.index, s.rd, s.vni) for s in intent.instances] == [
        ("blue", 1, "192.0.2.1:1", 5001)
    ]
    assert [(a.port, a.mac) for a in intent.attachments] == [("tap1", "52:54:00:00:00:01")]
    assert intent.routes == [("203.0.113.0/24", {"prefix": "203.0.113.0/24"}, 1234.5)]
    assert intent.meta["next_index"] == "2"


@pytest.mark.parametrize("interval", [0.005, None], ids=["background", "inline"])
def test_sigkill_in_a_stream_of_commits_loses_no_acknowledged_one(
    tmp_path: Path, interval: float | None
) -> None:
    """The child says each number once its transaction committed; killed at some point (here:
    after 1,200 acknowledgements, past several WAL checkpoints, background or inline), every
    acknowledged write is there after reopening, and at most the one in flight more."""
    path = tmp_path / "state.db"
    proc = child(
        f"""
        store = SqliteStore(path, checkpoint_interval={interval})
        for n in range(100000):
            with store.transaction() as tx:
                tx.put_attachment(port(n))
                tx.set_meta("last", str(n))
            print(n, getattr(store._checkpointer, "checkpoints", 0), flush=True)
        """,
        path,
    )
    assert proc.stdout is not None
    acked = checkpoints = -1
    for line in proc.stdout:
        acked, checkpoints = map(int, line.split())
        if acked >= 1200 and (interval is None or checkpoints >= 3):
            proc.send_signal(signal.SIGKILL)
            break
    # not communicate(): it reads the pipe directly and would miss lines already buffered here
    rest = proc.stdout.read()
    proc.wait(timeout=60)
    for line in rest.splitlines():
        acked = int(line.split()[0])
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    with SqliteStore(path) as store:
        intent = store.load()
    stored = len(intent.attachments)
    assert acked + 1 <= stored <= acked + 2
    assert [a.port for a in intent.attachments] == [f"tap{n}" for n in range(stored)]
    assert int(intent.meta["last"]) == stored - 1


def test_lock_refuses_a_second_opener_while_the_first_lives(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    proc = child(
        """
        store = SqliteStore(path)
        with store.transaction() as tx:
            tx.put_attachment(port(7))
        print("ready", flush=True)
        time.sleep(120)
        """,
        path,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLockedError) as info:
            SqliteStore(path)
        msg = str(info.value)
        assert str(path) in msg and f"process {proc.pid}" in msg
        # a refused opener leaves no connection behind and can retry later
        with pytest.raises(StoreLockedError):
            SqliteStore(path)
    finally:
        proc.kill()
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    with SqliteStore(path) as store:
        assert [a.port for a in store.load().attachments] == ["tap7"]


def test_lock_within_one_process(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "state.db"  # parent directories are created
    first = SqliteStore(path)
    with pytest.raises(StoreLockedError, match=str(path)):
        SqliteStore(path)
    first.close()
    second = SqliteStore(path)
    second.close()
    assert Path(f"{path}.lock").read_text().strip() == str(os.getpid())


def test_boot_id_stable_across_reopen_and_kill_new_for_a_new_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStore(path) as store:
        boot = store.boot_id
        assert len(boot) == 32 and int(boot, 16) >= 0
        assert store.load().meta["boot_id"] == boot
    with SqliteStore(path) as store:
        assert store.boot_id == boot
    proc = child(
        """
        store = SqliteStore(path)
        print(store.boot_id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        path,
    )
    out, err = proc.communicate(timeout=60)
    assert out.strip() == boot, err
    with SqliteStore(tmp_path / "other.db") as other:
        assert other.boot_id != boot
    # the state is gone (file deleted): a new boot id
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with SqliteStore(path) as store:
        assert store.boot_id != boot


def test_synchronous_full(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStore(path, synchronous="full") as store:
        assert store.synchronous == "full"
        assert store._checkpointer is None  # "auto": inline checkpoints with full
        assert store._connection().execute("PRAGMA synchronous").fetchone()[0] == 2
        assert store._connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        with store.transaction() as tx:
            tx.put_instance(blue(), 1, "192.0.2.1:1", 5001)
            tx.put_attachment(port(1))
    with SqliteStore(path) as store:
        assert store._checkpointer is not None
        assert store._connection().execute("PRAGMA synchronous").fetchone()[0] == 1
        assert store.load().attachments == [port(1)]
    with pytest.raises(ValueError, match="synchronous"):
        SqliteStore(path, synchronous="off")  # type: ignore[arg-type]


def test_background_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path, checkpoint_interval=0.01)
    checkpointer = store._checkpointer
    assert checkpointer is not None and checkpointer.is_alive()
    conn = store._connection()
    assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 8192
    for n in range(200):
        with store.transaction() as tx:
            tx.put_attachment(port(n % 256, instance_id=f"i{n}"))
    deadline = time.monotonic() + 10
    while checkpointer.checkpoints == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert checkpointer.checkpoints > 0
    # everything committed was copied into the database file: nothing left to checkpoint
    time.sleep(0.1)
    busy, log_frames, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and log_frames == done
    store.close()
    assert not checkpointer.is_alive()
    assert not Path(f"{path}-wal").exists()  # the last connection closed cleanly
    with SqliteStore(path, checkpoint_interval=None) as store:
        assert store._checkpointer is None
        assert store._connection().execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
        assert len(store.load().attachments) == 200
