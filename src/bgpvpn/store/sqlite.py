"""Intent kept in one SQLite file, written in the same transaction as a change is accepted.

What is stored: VPN instances (with the index, RD and VNI they were given, so a restart gives
them back the same ones), port attachments, the routes announced through ``/v1/routes`` (with
their lease), static routes of instances, and a few ``meta`` values. Each object is a JSON
column beside its key columns: a field added later with a default reads back from an older
file as its default, and a field written by a newer version is ignored with a warning.

Durability: WAL journal with ``synchronous=NORMAL`` (the default here). A transaction whose
``COMMIT`` returned is in the WAL file, in the kernel's page cache: it survives the process
being killed (``kill -9``, OOM killer, a crash), which is what "nothing the API acknowledged is
lost" asks. It does **not** survive a power loss or kernel crash before the next checkpoint
fsync: the database stays consistent but the last transactions can be missing. Pass
``synchronous="full"`` to fsync the WAL on every commit (durable against power loss, at the
cost of one fsync per transaction; see ``bench/store.py`` for both figures).

One process at a time: the constructor takes an exclusive ``flock`` on ``<path>.lock`` and
keeps it until ``close()`` or the process ends (the kernel drops it on ``kill -9``), so two
daemons pointed at the same file fail at start instead of sharing state. Within the process the
store may be used from several threads; transactions are serialized. With the default settings
one background thread of its own runs the WAL checkpoints (see ``SqliteStore``).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from bgpvpn.store.codec import CodecError, dumps, from_json, to_json
from bgpvpn.vpn.model import InstanceSpec, PortAttachment

log = logging.getLogger("bgpvpn.store")

SCHEMA_VERSION = 1
MEMORY = ":memory:"
RESERVED_META = frozenset({"schema_version", "boot_id", "created"})

Synchronous = Literal["normal", "full"]

_SCHEMA = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE instances (
    seq INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL UNIQUE,
    idx INTEGER NOT NULL,
    rd TEXT NOT NULL,
    vni INTEGER NOT NULL,
    spec TEXT NOT NULL
);
CREATE TABLE attachments (
    seq INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL,
    port TEXT NOT NULL,
    mac TEXT NOT NULL,
    spec TEXT NOT NULL,
    UNIQUE (instance_id, port, mac)
);
CREATE TABLE routes (
    seq INTEGER PRIMARY KEY,
    route_id TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    lease_until REAL
);
CREATE TABLE static_routes (
    seq INTEGER PRIMARY KEY,
    instance_id TEXT NOT NULL,
    prefix TEXT NOT NULL,
    spec TEXT NOT NULL,
    UNIQUE (instance_id, prefix)
);
"""
_TABLES = ("meta", "instances", "attachments", "routes", "static_routes")


# ---------------------------------------------------------------- errors


class StoreError(Exception):
    """The store cannot do what was asked; the message names the file."""


class StoreLockedError(StoreError):
    """Another live process (or another ``SqliteStore`` in this one) has the database open."""


class StoreVersionError(StoreError):
    """The file was written by a newer bgpvpn (higher schema version), or is not a bgpvpn store."""


class StoreCorruptError(StoreError):
    """A stored row cannot be read back (bad JSON, wrong type, key mismatch)."""


# ---------------------------------------------------------------- what load() gives back


@dataclass(frozen=True)
class StoredInstance:
    spec: InstanceSpec
    index: int
    rd: str
    vni: int


@dataclass(frozen=True)
class Intent:
    """Everything stored, each list in insertion order (replacing an object keeps its place).
    ``routes``: (route_id, spec, lease_until); ``static_routes``: (instance_id, prefix, spec);
    ``meta`` includes the store's own keys (``schema_version``, ``boot_id``, ``created``).
    ``skipped`` names the rows ``load(skip_corrupt=True)`` could not read."""

    instances: list[StoredInstance]
    attachments: list[PortAttachment]
    routes: list[tuple[str, dict[str, Any], float | None]]
    static_routes: list[tuple[str, str, dict[str, Any]]]
    meta: dict[str, str]
    skipped: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- the store


class SqliteStore:
    """``path``: the database file (its directory is created), or ``":memory:"`` (tests: no
    file, no lock, a new boot id each time). ``synchronous``: see the module docstring.
    ``checkpoint_interval``: WAL checkpoints (copying committed pages into the database file,
    with fsyncs) run in a background thread at most this often, after commits, so that a commit
    does not pay for one (they are the tail of the commit latency otherwise: a few ms on this
    machine); SQLite still checkpoints inline if the WAL passes 8,192 pages (32 MiB) before the
    thread gets to it. None: SQLite's default inline checkpoint every 1,000 pages. ``"auto"``
    (the default): 0.2 s with ``synchronous="normal"``, None with ``"full"`` (there every
    commit fsyncs the WAL, and a concurrent checkpoint's fsyncs make those slower: p99 ~8 ms
    instead of ~0.4 ms measured, see ``bench/store.py``)."""

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Synchronous = "normal",
        checkpoint_interval: float | Literal["auto"] | None = "auto",
    ) -> None:
        if synchronous not in ("normal", "full"):
            raise ValueError(f"synchronous must be 'normal' or 'full', not {synchronous!r}")
        if checkpoint_interval == "auto":
            checkpoint_interval = 0.2 if synchronous == "normal" else None
        self._memory = str(path) == MEMORY
        self.path: Path | None = None if self._memory else Path(path)
        self.synchronous: Synchronous = synchronous
        self._name = MEMORY if self.path is None else str(self.path)
        self._mutex = threading.RLock()
        self._in_tx = False
        self._lock_fd: int | None = None
        self._conn: sqlite3.Connection | None = None
        self._checkpointer: _Checkpointer | None = None
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"store {self._name}: cannot create its directory: {exc}") from exc
            self._lock_fd = _take_lock(self.path)
        try:
            self._conn = self._open()
            self._boot_id = self._prepare()
            if self.path is not None and checkpoint_interval is not None:
                self._conn.execute("PRAGMA wal_autocheckpoint=8192")
                self._checkpointer = _Checkpointer(
                    self._name, self.synchronous, checkpoint_interval
                )
                self._checkpointer.start()
        except BaseException:
            self.close()
            raise

    # -------------------------------------------------------------- opening

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self._name,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # guarded by self._mutex
                cached_statements=64,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"store {self._name}: cannot open: {exc}") from exc
        try:
            if not self._memory:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"store {self._name}: cannot use WAL journal (got {mode})")
                # a WAL grown past 64 MiB (one huge transaction) is cut back when it restarts;
                # below that, keep it: truncating costs milliseconds inside a commit
                conn.execute("PRAGMA journal_size_limit=67108864")
            conn.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreVersionError(
                f"store {self._name}: not an SQLite database, or corrupt ({exc})"
            ) from exc
        return conn

    def _prepare(self) -> str:
        """Create the schema in a new file; check the version of an existing one."""
        conn = self._connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                tables = {
                    r[0]
                    for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                }
                if not tables:
                    for stmt in _SCHEMA.split(";"):
                        if stmt.strip():
                            conn.execute(stmt)
                    boot_id = uuid.uuid4().hex
                    conn.executemany(
                        "INSERT INTO meta (key, value) VALUES (?, ?)",
                        [
                            ("schema_version", str(SCHEMA_VERSION)),
                            ("boot_id", boot_id),
                            ("created", f"{time.time():.3f}"),
                        ],
                    )
                else:
                    boot_id = self._check_existing(conn, tables)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            raise StoreVersionError(
                f"store {self._name}: not an SQLite database, or corrupt ({exc})"
            ) from exc
        return boot_id

    def _check_existing(self, conn: sqlite3.Connection, tables: set[str]) -> str:
        if "meta" not in tables:
            raise StoreVersionError(
                f"store {self._name}: an SQLite database but not a bgpvpn store (no meta table; "
                f"tables: {', '.join(sorted(tables))})"
            )
        meta: dict[str, str] = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        raw = meta.get("schema_version")
        try:
            version = int(raw) if raw is not None else None
        except ValueError:
            version = None
        if version is None:
            raise StoreVersionError(f"store {self._name}: bad or no schema_version ({raw!r})")
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"store {self._name}: schema version {version} was written by a newer bgpvpn; "
                f"this one reads up to version {SCHEMA_VERSION}. Run the newer bgpvpn, or "
                f"point the store at another file"
            )
        # version < SCHEMA_VERSION: migrations go here when there is a version 2
        missing = [t for t in _TABLES if t not in tables]
        if missing:
            raise StoreCorruptError(f"store {self._name}: tables missing: {', '.join(missing)}")
        boot_id = meta.get("boot_id")
        if not boot_id:
            raise StoreCorruptError(f"store {self._name}: no boot_id in the meta table")
        return boot_id

    # -------------------------------------------------------------- public surface

    @property
    def boot_id(self) -> str:
        """Made once with the database file: the same across restarts that keep the state,
        new when the daemon starts without it (a new or deleted file, ``:memory:``)."""
        return self._boot_id

    def __repr__(self) -> str:
        return f"SqliteStore({self._name!r}, synchronous={self.synchronous!r})"

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transaction(self) -> StoreTransactionScope:
        """One SQLite transaction: committed when the block ends normally, rolled back when it
        raises (the exception is re-raised; a ``sqlite3.Error`` becomes a ``StoreError``).
        Transactions do not nest; other threads wait for the one in progress."""
        return StoreTransactionScope(self)

    def _rollback(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:  # pragma: no cover - SQLite already rolled back
                log.exception("store %s: rollback failed", self._name)

    def load(self, *, skip_corrupt: bool = False) -> Intent:
        """Everything stored, in insertion order. A row that cannot be read raises
        ``StoreCorruptError`` naming the file, table and key; with ``skip_corrupt`` it is logged,
        left out and named in ``Intent.skipped`` instead."""
        with self._mutex:
            conn = self._connection()
            own = not conn.in_transaction
            if own:
                conn.execute("BEGIN")  # one snapshot for all tables
            try:
                return _Loader(self._name, skip_corrupt).load(conn)
            finally:
                if own:
                    conn.execute("COMMIT")

    def close(self) -> None:
        """Stop the checkpointer, close the database (the last connection checkpoints and
        removes the WAL) and release the lock. Idempotent."""
        with self._mutex:
            if self._checkpointer is not None:
                try:
                    self._checkpointer.stop()
                finally:
                    self._checkpointer = None
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None
            if self._lock_fd is not None:
                try:
                    os.close(self._lock_fd)  # releases the flock
                finally:
                    self._lock_fd = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"store {self._name} is closed")
        return self._conn


class StoreTransactionScope:
    """``with store.transaction() as tx``: a plain context manager (not a generator: this is on
    the path of every API change)."""

    __slots__ = ("_store", "_tx")

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self._tx: StoreTransaction | None = None

    def __enter__(self) -> StoreTransaction:
        store = self._store
        store._mutex.acquire()
        try:
            conn = store._connection()
            if store._in_tx:
                raise RuntimeError("store transactions do not nest")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"store {store._name}: cannot begin: {exc}") from exc
        except BaseException:
            store._mutex.release()
            raise
        store._in_tx = True
        tx = self._tx = StoreTransaction(store, conn)
        return tx

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        store, tx = self._store, self._tx
        assert tx is not None
        self._tx = None
        conn = tx._conn
        try:
            tx._done = True
            if exc is not None:
                store._rollback(conn)
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"store {store._name}: write failed: {exc}") from exc
                return  # re-raised as it is
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as err:
                store._rollback(conn)
                raise StoreError(f"store {store._name}: commit failed: {err}") from err
            if store._checkpointer is not None:
                store._checkpointer.poke(tx._writes)
        finally:
            store._in_tx = False
            store._mutex.release()


class StoreTransaction:
    """The writes of one ``SqliteStore.transaction()``; usable only inside its ``with`` block."""

    __slots__ = ("_conn", "_done", "_store", "_writes")

    def __init__(self, store: SqliteStore, conn: sqlite3.Connection) -> None:
        self._store = store
        self._conn = conn
        self._done = False
        self._writes = 0

    def _exec(self, sql: str, params: tuple[Any, ...]) -> None:
        if self._done:
            raise StoreError(f"store {self._store._name}: transaction already ended")
        self._conn.execute(sql, params)
        self._writes += 1

    def put_instance(self, spec: InstanceSpec, index: int, rd: str, vni: int) -> None:
        """Insert, or replace the instance with the same ``spec.instance_id`` (keeping its
        place in the load order)."""
        self._exec(
            "INSERT INTO instances (instance_id, idx, rd, vni, spec) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (instance_id) DO UPDATE SET "
            "idx = excluded.idx, rd = excluded.rd, vni = excluded.vni, spec = excluded.spec",
            (spec.instance_id, index, rd, vni, to_json(spec)),
        )

    def delete_instance(self, instance_id: str) -> None:
        """The instance, its attachments and its static routes."""
        self._exec("DELETE FROM attachments WHERE instance_id = ?", (instance_id,))
        self._exec("DELETE FROM static_routes WHERE instance_id = ?", (instance_id,))
        self._exec("DELETE FROM instances WHERE instance_id = ?", (instance_id,))

    def put_attachment(self, att: PortAttachment) -> None:
        """Insert, or replace the attachment with the same (instance_id, port, mac)."""
        self._exec(
            "INSERT INTO attachments (instance_id, port, mac, spec) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (instance_id, port, mac) DO UPDATE SET spec = excluded.spec",
            (att.instance_id, att.port, att.mac, to_json(att)),
        )

    def delete_attachment(self, instance_id: str, port: str, mac: str) -> None:
        self._exec(
            "DELETE FROM attachments WHERE instance_id = ? AND port = ? AND mac = ?",
            (instance_id, port, mac),
        )

    def put_route(
        self, route_id: str, spec: dict[str, Any], lease_until: float | None = None
    ) -> None:
        """A route announced through ``/v1/routes``: ``route_id`` is its text form, ``spec``
        the JSON of the API's RouteSpec (tuples in it read back as lists), ``lease_until`` the
        wall-clock time (``time.time()``) its lease ends, None for no lease."""
        self._exec(
            "INSERT INTO routes (route_id, spec, lease_until) VALUES (?, ?, ?) "
            "ON CONFLICT (route_id) DO UPDATE SET "
            "spec = excluded.spec, lease_until = excluded.lease_until",
            (route_id, _json_object(spec), lease_until),
        )

    def delete_route(self, route_id: str) -> None:
        self._exec("DELETE FROM routes WHERE route_id = ?", (route_id,))

    def put_static_route(self, instance_id: str, prefix: str, spec: dict[str, Any]) -> None:
        self._exec(
            "INSERT INTO static_routes (instance_id, prefix, spec) VALUES (?, ?, ?) "
            "ON CONFLICT (instance_id, prefix) DO UPDATE SET spec = excluded.spec",
            (instance_id, prefix, _json_object(spec)),
        )

    def delete_static_route(self, instance_id: str, prefix: str) -> None:
        self._exec(
            "DELETE FROM static_routes WHERE instance_id = ? AND prefix = ?",
            (instance_id, prefix),
        )

    def set_meta(self, key: str, value: str) -> None:
        """A small named value (e.g. an allocator's high-water mark). The store's own keys
        (``schema_version``, ``boot_id``, ``created``) cannot be set."""
        if key in RESERVED_META:
            raise ValueError(f"meta key {key!r} belongs to the store")
        if not isinstance(value, str):
            raise TypeError(f"meta {key!r}: value must be a str, not {type(value).__name__}")
        self._exec(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def delete_meta(self, key: str) -> None:
        if key in RESERVED_META:
            raise ValueError(f"meta key {key!r} belongs to the store")
        self._exec("DELETE FROM meta WHERE key = ?", (key,))


# ---------------------------------------------------------------- helpers


def _json_object(spec: dict[str, Any]) -> str:
    if not isinstance(spec, dict):
        raise TypeError(f"spec must be a dict, not {type(spec).__name__}")
    return dumps(spec)


def _take_lock(path: Path) -> int:
    lock_path = Path(f"{path}.lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StoreError(f"store {path}: cannot open its lock file {lock_path}: {exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        try:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        finally:
            os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            who = f"process {holder}" if holder.isdigit() else "another process"
            raise StoreLockedError(
                f"store {path} is in use by {who} (lock {lock_path}); "
                "two daemons cannot share one state file"
            ) from None
        raise StoreError(f"store {path}: cannot lock {lock_path}: {exc}") from exc
    # who holds it, for the message above (informational: the flock is the lock)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class _Checkpointer(threading.Thread):
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection after commits: ``interval``
    seconds after the first commit since the last checkpoint, or as soon as ``HURRY`` writes
    (a few pages each) were committed since (a burst: SQLite's own checkpoint at 1,000 pages
    would otherwise come first, inline). sqlite3 releases the GIL while SQLite works, so its
    fsyncs do not hold up the event loop; PASSIVE never blocks the writer."""

    HURRY = 300

    def __init__(self, name: str, synchronous: Synchronous, interval: float) -> None:
        super().__init__(name=f"store-checkpoint {name}", daemon=True)
        self._db = name
        self._synchronous = synchronous
        self._interval = interval
        self._wake = threading.Event()  # something was committed
        self._hurry = threading.Event()  # HURRY writes were committed
        self._stopping = threading.Event()
        self._pending = 0
        self._conn = sqlite3.connect(name, isolation_level=None, check_same_thread=False)
        self._conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self.checkpoints = 0

    def poke(self, writes: int) -> None:
        """Called (under the store's mutex) after each commit."""
        self._pending += writes
        if not self._wake.is_set():
            self._wake.set()
        if self._pending >= self.HURRY and not self._hurry.is_set():
            self._hurry.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._hurry.set()
        if self.is_alive():
            self.join()
        self._conn.close()

    def run(self) -> None:
        while True:
            self._wake.wait()
            # commits during the interval join this checkpoint
            self._hurry.wait(self._interval)
            if self._stopping.is_set():
                return
            self._wake.clear()
            self._hurry.clear()
            self._pending = 0
            try:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.checkpoints += 1
            except sqlite3.Error:
                log.exception("store %s: background checkpoint failed", self._db)


class _Loader:
    def __init__(self, name: str, skip_corrupt: bool) -> None:
        self.name = name
        self.skip_corrupt = skip_corrupt
        self.skipped: list[str] = []
        self.unknown: dict[str, set[str]] = {}
        self.unknown_rows: dict[str, int] = {}

    def bad(self, table: str, key: str, reason: str) -> None:
        where = f"{table} {key}: {reason}"
        if not self.skip_corrupt:
            raise StoreCorruptError(
                f"store {self.name}: cannot read {where} (load with skip_corrupt to leave it out)"
            )
        log.error("store %s: left out %s", self.name, where)
        self.skipped.append(where)

    def note_unknown(self, table: str, keys: tuple[str, ...]) -> None:
        if keys:
            self.unknown.setdefault(table, set()).update(keys)
            self.unknown_rows[table] = self.unknown_rows.get(table, 0) + 1

    def load(self, conn: sqlite3.Connection) -> Intent:
        instances: list[StoredInstance] = []
        for iid, idx, rd, vni, text in conn.execute(
            "SELECT instance_id, idx, rd, vni, spec FROM instances ORDER BY seq"
        ):
            key = repr(iid)
            try:
                dec = from_json(InstanceSpec, text)
            except (CodecError, TypeError) as exc:
                self.bad("instances", key, str(exc))
                continue
            if dec.value.instance_id != iid:
                self.bad("instances", key, f"spec says instance_id {dec.value.instance_id!r}")
                continue
            if type(idx) is not int or type(vni) is not int or type(rd) is not str:
                self.bad("instances", key, f"bad index/rd/vni {idx!r}/{rd!r}/{vni!r}")
                continue
            self.note_unknown("instances", dec.unknown)
            instances.append(StoredInstance(dec.value, idx, rd, vni))

        attachments: list[PortAttachment] = []
        for iid, port, mac, text in conn.execute(
            "SELECT instance_id, port, mac, spec FROM attachments ORDER BY seq"
        ):
            key = repr((iid, port, mac))
            try:
                att = from_json(PortAttachment, text)
            except (CodecError, TypeError) as exc:
                self.bad("attachments", key, str(exc))
                continue
            v = att.value
            if (v.instance_id, v.port, v.mac) != (iid, port, mac):
                self.bad("attachments", key, f"spec says {(v.instance_id, v.port, v.mac)!r}")
                continue
            self.note_unknown("attachments", att.unknown)
            attachments.append(v)

        routes: list[tuple[str, dict[str, Any], float | None]] = []
        for rid, text, lease in conn.execute(
            "SELECT route_id, spec, lease_until FROM routes ORDER BY seq"
        ):
            spec = self.json_object("routes", repr(rid), text)
            if spec is None:
                continue
            if lease is not None and not isinstance(lease, (int, float)):
                self.bad("routes", repr(rid), f"bad lease_until {lease!r}")
                continue
            routes.append((rid, spec, None if lease is None else float(lease)))

        static_routes: list[tuple[str, str, dict[str, Any]]] = []
        for iid, prefix, text in conn.execute(
            "SELECT instance_id, prefix, spec FROM static_routes ORDER BY seq"
        ):
            spec = self.json_object("static_routes", repr((iid, prefix)), text)
            if spec is not None:
                static_routes.append((iid, prefix, spec))

        meta = {k: v for k, v in conn.execute("SELECT key, value FROM meta ORDER BY rowid")}

        for table, keys in self.unknown.items():
            log.warning(
                "store %s: %d %s rows have fields this version does not know (ignored; "
                "dropped when the row is next written): %s",
                self.name,
                self.unknown_rows[table],
                table,
                ", ".join(sorted(keys)),
            )
        return Intent(instances, attachments, routes, static_routes, meta, self.skipped)

    def json_object(self, table: str, key: str, text: Any) -> dict[str, Any] | None:
        try:
            spec = json.loads(text)
        except (ValueError, TypeError) as exc:
            self.bad(table, key, f"not valid JSON ({exc})")
            return None
        if not isinstance(spec, dict):
            self.bad(table, key, f"expected a JSON object, got {type(spec).__name__}")
            return None
        return spec
