"""Persistence of intent (VPN instances, port attachments, announced routes).

``SqliteStore`` (``bgpvpn.store.sqlite``) is the default backend: one SQLite file, written in
the same transaction as a change is accepted, read back at start. See docs in that module for
what survives what.
"""

from bgpvpn.store.sqlite import (
    SCHEMA_VERSION,
    Intent,
    SqliteStore,
    StoreCorruptError,
    StoredInstance,
    StoreError,
    StoreLockedError,
    StoreTransaction,
    StoreVersionError,
)

DEFAULT_PATH = "/var/lib/bgpvpn/state.db"

__all__ = [
    "DEFAULT_PATH",
    "SCHEMA_VERSION",
    "Intent",
    "SqliteStore",
    "StoreCorruptError",
    "StoreError",
    "StoreLockedError",
    "StoreTransaction",
    "StoreVersionError",
    "StoredInstance",
]
