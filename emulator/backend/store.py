"""Optional persistence (``--state FILE``): one sqlite row per record, written through on change.

Without a path the store keeps nothing and every method is a cheap no-op, so the in-memory
emulator pays nothing for it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    region TEXT NOT NULL,
    kind   TEXT NOT NULL,
    id     TEXT NOT NULL,
    body   TEXT NOT NULL,
    PRIMARY KEY (region, kind, id)
)
"""


class Store:
    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)

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
        if self._db is None:
            return
        with self._lock:
            self._db.execute("DELETE FROM records")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
