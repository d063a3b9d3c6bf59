"""Optional persistence (``--state FILE``): one sqlite row per record, written through on change.

Without a path the store keeps nothing and every method is a cheap no-op, so the in-memory
emulator pays nothing for it. Besides the records (keys, aliases, secrets, import tokens) it keeps
the signature nonces still inside their replay window, so a restart does not open a replay.

The file holds key material and secret values, so only its owner may read it: it is created with
mode 0600, an existing file (and any sqlite sidecar left from an earlier run: ``-wal``, ``-shm``,
``-journal``) is set to 0600 before it is opened, and sqlite creates new sidecars with the mode of
the database file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from typing import Any

PRIVATE = 0o600
SIDECARS = ("-wal", "-shm", "-journal")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    region TEXT NOT NULL,
    kind   TEXT NOT NULL,
    id     TEXT NOT NULL,
    body   TEXT NOT NULL,
    PRIMARY KEY (region, kind, id)
);
CREATE TABLE IF NOT EXISTS nonces (
    nonce      TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (expires_at);
"""


class Store:
    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path:
            make_private(path)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "PRAGMA synchronous=NORMAL"
            )  # WAL: survives a crash of the process; one fsync less per call
            self._db.executescript(_SCHEMA)

    @property
    def enabled(self) -> bool:
        """Whether anything is kept: callers skip building records when not."""
        return self._db is not None

    def save(self, region: str, kind: str, record_id: str, body: dict[str, Any]) -> None:
        if self._db is None:
            return
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO records (region, kind, id, body) VALUES (?, ?, ?, ?)",
                (region, kind, record_id, json.dumps(body)),
            )

    def delete(self, region: str, kind: str, record_id: str) -> None:
        if self._db is None:
            return
        with self._lock:
            self._db.execute("DELETE FROM records WHERE region = ? AND kind = ? AND id = ?", (region, kind, record_id))

    def load(self, region: str, kind: str) -> list[dict[str, Any]]:
        if self._db is None:
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT body FROM records WHERE region = ? AND kind = ? ORDER BY rowid", (region, kind)
            ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def clear(self) -> None:
        """Forget every record (the nonces stay: replay protection follows real time, not resets)."""
        if self._db is None:
            return
        with self._lock:
            self._db.execute("DELETE FROM records")

    # --- signature nonces (:class:`emulator.protocol.nonces.NonceJournal`) ---

    def load_nonces(self, now: float) -> list[tuple[str, float]]:
        if self._db is None:
            return []
        with self._lock:
            rows = self._db.execute("SELECT nonce, expires_at FROM nonces WHERE expires_at >= ?", (now,)).fetchall()
        return [(nonce, expires_at) for nonce, expires_at in rows]

    def save_nonce(self, nonce: str, expires_at: float) -> None:
        if self._db is None:
            return
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO nonces (nonce, expires_at) VALUES (?, ?)", (nonce, expires_at))

    def forget_nonces(self, expired_before: float, evicted: list[str]) -> None:
        if self._db is None:
            return
        with self._lock:
            self._db.execute("DELETE FROM nonces WHERE expires_at < ?", (expired_before,))
            self._db.executemany("DELETE FROM nonces WHERE nonce = ?", [(nonce,) for nonce in evicted])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def make_private(path: str) -> None:
    """Create ``path`` readable by its owner only, or make an existing one (and its sidecars) so."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE))  # the mode applies only when created
    for name in (path, *(path + suffix for suffix in SIDECARS)):
        if os.path.exists(name):
            os.chmod(name, PRIVATE)
