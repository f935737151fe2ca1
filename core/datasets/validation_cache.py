"""Validation results cached by content hash in SQLite, so re-validating unchanged items runs no code."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path


# Bump CHECK_VERSION when the judging rules change (cached item checks go stale), EXEC_VERSION when
# the way code runs changes (cached executions go stale).
CHECK_VERSION = 9
EXEC_VERSION = 1


def default_cache_path(workspace_state_dir: str | Path | None = None) -> Path:
    """Where validation results are cached: the workspace's .mathbench/cache, else ~/.cache/mathbench."""
    if workspace_state_dir is not None:
        return Path(workspace_state_dir) / "cache" / "validate.sqlite"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mathbench" / "validate.sqlite"


class ValidationCache:
    """Content-hash keyed results (SQLite): executed blocks and whole item checks. Safe across processes."""

    def __init__(self, path: str | Path | None):
        self.path = Path(path) if path else None
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
                self._db.commit()
            except sqlite3.DatabaseError:
                # A corrupt cache only costs time: start over.
                if self._db is not None:
                    self._db.close()
                self.path.unlink(missing_ok=True)
                self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
                self._db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)")

    def get(self, key: str) -> dict | None:
        if self._db is None:
            return None
        with self._lock:
            row = self._db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put_many(self, pairs: Iterable[tuple[str, dict]]) -> None:
        if self._db is None:
            return
        rows = [(k, json.dumps(v, ensure_ascii=False)) for k, v in pairs]
        if not rows:
            return
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", rows)
            self._db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _hash(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def item_key(item: dict, fmt: str | None, timeout: float) -> str:
    """Cache key of an item's check: its content, the file's format, the timeout and the validator version."""
    return "item:" + _hash(str(CHECK_VERSION), str(fmt), f"{timeout:g}",
                           json.dumps(item, ensure_ascii=False, sort_keys=True))


def code_key(code: str, timeout: float) -> str:
    return "exec:" + _hash(str(EXEC_VERSION), f"{timeout:g}", code)
