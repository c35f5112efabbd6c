"""Keeping the sandbox's state in a SQLite file between runs (``--db PATH``).

The whole state is one pickled row, written after every call that changes something and when the
server stops. The sandbox is a development tool and the file is yours: pickle runs code when it
loads, so never point ``--db`` at a file you did not create.
"""

from __future__ import annotations

import pickle
import sqlite3
import threading
import time
from pathlib import Path

from ._state import State

__all__ = ["StateStore"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sandbox_state"
    " (id INTEGER PRIMARY KEY CHECK (id = 1), saved_at REAL, data BLOB)"
)


class StateStore:
    """One SQLite file holding one snapshot of a sandbox's :class:`State`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()  # uvicorn may call from its thread, tests from theirs
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        with self._db:
            self._db.execute(_SCHEMA)

    def load(self) -> State | None:
        """The saved state, or ``None`` when the file holds none yet."""
        with self._lock:
            row = self._db.execute("SELECT data FROM sandbox_state WHERE id = 1").fetchone()
        if row is None:
            return None
        state = pickle.loads(row[0])  # the user's own file: see the module docstring
        if not isinstance(state, State):
            raise TypeError(f"{self.path} does not hold a sandbox state")
        return state

    def save(self, state: State) -> None:
        """Replace the saved snapshot with ``state``."""
        data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO sandbox_state (id, saved_at, data) VALUES (1, ?, ?)",
                (time.time(), data),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"StateStore({str(self.path)!r})"
