"""The exact-duplicate index: each text digest seen, with the label of the first row that had it.

    >>> index = DigestIndex(max_mb=None)
    >>> index.first(b"d" * 16, "a:1"), index.first(b"d" * 16, "a:2")
    (None, 'a:1')

In memory a digest takes about 180 bytes (dict entry, 16-byte key, label). With a memory budget
(`max_mb`) the index stays bounded: when the digests in memory reach the budget they move, in one
batch, to a temporary SQLite file (a table keyed by digest), and later lookups that miss in memory
ask it — one B-tree lookup, the same answer. The file is unlinked as soon as it is opened and keeps
no journal, so nothing is left behind, even by a killed run.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile

ROW_BYTES = 180  # a digest in memory: dict entry, 16-byte key, a label like "corpus/domain.jsonl:123456"


class DigestIndex:
    """digest → label of its first row, within `max_mb` of memory (None: no bound)."""

    def __init__(self, max_mb: float | None = None, spill_dir: str | None = None):
        self.capacity = None if max_mb is None else max(1, int(max_mb * 1e6 / ROW_BYTES))
        self.spill_dir = spill_dir
        self.memory: dict[bytes, str] = {}
        self.on_disk = 0  # digests moved to the file
        self._db: sqlite3.Connection | None = None

    def first(self, digest: bytes, label: str) -> str | None:
        """The label of the first row with `digest`, or None after remembering `label` as that row."""
        seen = self.memory.get(digest)
        if seen is None and self._db is not None:
            row = self._db.execute("SELECT label FROM seen WHERE digest = ?", (digest,)).fetchone()
            seen = row[0] if row else None
        if seen is not None:
            return seen
        self.memory[digest] = label
        if self.capacity is not None and len(self.memory) >= self.capacity:
            self._spill()
        return None

    def _spill(self) -> None:
        if self._db is None:
            fd, path = tempfile.mkstemp(prefix="lmstack-digests-", suffix=".sqlite", dir=self.spill_dir)
            os.close(fd)
            try:
                self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                # no journal and no fsync: the file is scratch, gone with the process
                self._db.execute("PRAGMA journal_mode = OFF")
                self._db.execute("PRAGMA synchronous = OFF")
                self._db.execute("CREATE TABLE seen (digest BLOB PRIMARY KEY, label TEXT NOT NULL) WITHOUT ROWID")
            finally:
                os.unlink(path)
        self._db.execute("BEGIN")
        self._db.executemany("INSERT INTO seen VALUES (?, ?)", sorted(self.memory.items()))
        self._db.execute("COMMIT")
        self.on_disk += len(self.memory)
        self.memory.clear()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
