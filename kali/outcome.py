"""Transaction outcomes: run a callback once an SQLite transaction has ended.

A file written for a row must go when the row's transaction rolls back, and
a file whose row is deleted may go only once that delete has committed. Both
need to know how a transaction ended, which ``sqlite3`` does not tell: a
transaction can end through ``commit()``, ``rollback()``, ``with conn:``,
an SQL ``COMMIT``, ``ROLLBACK TO`` a savepoint, ``executescript``, or the
database's own rollback after an error.

So the outcome is read from the database itself. Attaching a callback writes
a marker row into a temporary table (private to the connection, never in the
database file) inside the transaction; once no transaction is open, a marker
that is still there committed, one that is gone was rolled back.

:class:`Connection` is the ``sqlite3.Connection`` subclass that
:func:`kali.sqlite.connect` returns. This module knows nothing of HTTP: the
:class:`kali.sqlite.TransactionGuard` calls :meth:`Connection.settle` after
each request. It must not keep state outside the connection.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["Connection", "is_in_transaction"]

log = logging.getLogger("kali")


def is_in_transaction(connection: sqlite3.Connection) -> bool:
    """Is a transaction open on ``connection``? (False once it is closed.)"""
    try:
        return connection.in_transaction
    except sqlite3.ProgrammingError:  # closed: nothing left to roll back
        return False


#: The temporary table (one per connection, never in the database file) whose
#: rows tell :meth:`Connection.settle` which transactions committed.
_MARKERS = "kali_transaction_marker"


class _Waiting(NamedTuple):
    """A callback pair waiting for the end of the transaction of ``marker``."""

    marker: int
    committed: Callable[[], object] | None
    rolled_back: Callable[[], object] | None


class Connection(sqlite3.Connection):
    """The connection :func:`kali.sqlite.connect` returns: an ``sqlite3.Connection``
    that can run callbacks when its transaction ends.

    ``on_commit(callback)`` / ``on_rollback(callback)`` attach a callback to
    the current transaction, beginning one if none is open (so the callback
    always has a transaction to follow). It runs once that transaction has
    ended: when ``commit()``, ``rollback()``, ``close()`` or ``with conn:``
    return, and at the latest after the request, when the
    :class:`TransactionGuard` calls :meth:`settle`. A callback that raises is
    logged, never propagated: the transaction has ended by then.

    When the outcome cannot be read (the database failed), neither callback
    runs: a file is rather left over than lost.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting: list[_Waiting] = []
        self._next_marker = 0

    def on_commit(self, callback: Callable[[], object]) -> None:
        """Run ``callback()`` once the current transaction has committed."""
        self._watch(callback, None)

    def on_rollback(self, callback: Callable[[], object]) -> None:
        """Run ``callback()`` once the current transaction has rolled back."""
        self._watch(None, callback)

    def _watch(
        self,
        committed: Callable[[], object] | None,
        rolled_back: Callable[[], object] | None,
    ) -> None:
        marker = self._next_marker = self._next_marker + 1
        cursor = self.cursor()
        try:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {_MARKERS}"
                " (marker INTEGER PRIMARY KEY)"
            )
            if not self._waiting:  # every earlier marker is settled: tidy up
                cursor.execute(f"DELETE FROM temp.{_MARKERS}")
            # A write: in Python's implicit-transaction mode this begins the
            # transaction if none is open, and a rollback takes it away again.
            cursor.execute(f"INSERT INTO temp.{_MARKERS} VALUES (?)", (marker,))
        finally:
            cursor.close()
        self._waiting.append(_Waiting(marker, committed, rolled_back))
        if not is_in_transaction(self):  # autocommit mode: already committed
            self.settle()

    @property
    def waiting(self) -> int:
        """How many callbacks wait for their transaction to end."""
        return len(self._waiting)

    def settle(self) -> None:
        """Run the callbacks of transactions that have ended (none while a
        transaction is still open). Safe to call at any time."""
        waiting = self._waiting
        if not waiting or is_in_transaction(self):
            return
        self._waiting = []
        try:
            committed = self._committed_markers([w.marker for w in waiting])
        except sqlite3.Error:
            log.exception("Could not tell whether a transaction committed")
            return
        for entry in waiting:
            callback = (
                entry.committed if entry.marker in committed else entry.rolled_back
            )
            if callback is None:
                continue
            try:
                callback()
            except Exception:
                log.exception("A callback after the end of a transaction failed")

    def _committed_markers(self, markers: list[int]) -> set[int]:
        cursor = self.cursor()
        cursor.row_factory = None
        try:
            exists = cursor.execute(
                "SELECT count(*) FROM sqlite_temp_master WHERE name = ?", (_MARKERS,)
            ).fetchone()[0]
            if not exists:  # created inside a transaction that rolled back
                return set()
            found = cursor.execute(
                f"SELECT marker FROM temp.{_MARKERS} WHERE marker >= ?",
                (min(markers),),
            ).fetchall()
        finally:
            cursor.close()
        return {row[0] for row in found} & set(markers)

    def commit(self) -> None:
        super().commit()
        self.settle()

    def rollback(self) -> None:
        super().rollback()
        self.settle()

    def close(self) -> None:
        if is_in_transaction(self):  # close() would discard it: say so to the callbacks
            self.rollback()
        self.settle()
        super().close()

    def __exit__(self, *exc_info: Any) -> Any:
        result = super().__exit__(*exc_info)
        self.settle()
        return result
