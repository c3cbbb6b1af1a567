"""SQLite for local apps: open a database safely, and guard every request.

Two tools, used together::

    from kali.sqlite import connect, transaction_guard

    db = connect("notes.db")                 # WAL, foreign keys, durable
    app = transaction_guard(router, db)      # nothing half-done is saved
    serve_http(app)

:func:`connect` opens a database the way a desktop app wants it: the WAL
journal (readers never wait for the writer, and a crash mid-write cannot
corrupt the file), foreign keys enforced, a busy timeout instead of an
instant "database is locked", ``synchronous=FULL`` (a commit that returned
is on the disk), and rows readable by column name.

:class:`TransactionGuard` (or its shortcut :func:`transaction_guard`) wraps
the root handler and checks every registered connection after each request:

* the handler raised: every open transaction is rolled back and the
  exception goes on to the server, which answers 500 (an
  :class:`~kali.errors.HTTPError` keeps its own status);
* the handler returned with a transaction still open: it forgot to commit.
  The guard rolls back and answers a 500 page that says so (the 0.0.8
  pattern), or, with ``commit=True``, commits for it;
* SQLite stayed busy for the whole busy timeout ("database is locked"):
  rolled back and answered 503 with a ``retry-after`` header. (A
  :class:`~kali.forms.Formlet` answers that itself, with the form as the
  user typed it; a handler that answers 503 has its open transaction
  rolled back without complaint.)

So a request either saves all it meant to save or nothing, and no request
ever leaves a transaction open to block the next one.

Files follow their transaction too. :func:`connect` returns a
:class:`Connection`, whose :meth:`~Connection.on_commit` and
:meth:`~Connection.on_rollback` run a callback once the current transaction
has ended that way (:class:`kali.uploadfolder.UploadFolder` removes a saved
file whose row was rolled back, and deletes a file only once the row naming
it is gone for good). The outcome is read from the database itself (a marker
row in a temporary table, written inside the transaction), so it is right
however the transaction ended: ``commit()``, ``rollback()``, ``with conn:``,
an SQL ``COMMIT``, ``ROLLBACK TO`` a savepoint, or the guard.

:func:`fetch_one` answers the everyday "the row, or a 404 page".

This module must not touch sockets or keep global state; it relies on
Python's own :mod:`sqlite3` and its implicit-transaction mode, whose
``Connection.in_transaction`` tells the guard what is still open.
"""

from __future__ import annotations

import datetime
import logging
import os
import sqlite3
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Union

from .errors import HTTPError
from .outcome import Connection, is_in_transaction
from .request import Request
from .response import Response
from .routing import Handler

__all__ = [
    "FORGOT_TO_COMMIT",
    "NOT_FOUND",
    "DEFAULT_BUSY_TIMEOUT",
    "Connection",
    "GuardedHandler",
    "TransactionGuard",
    "connect",
    "fetch_one",
    "fetch_one_or_none",
    "is_busy_error",
    "sql_values",
    "transaction_guard",
]

#: Query parameters: a sequence for ``?``, a mapping for ``:name``.
Parameters = Union[Iterable[Any], Mapping[str, Any]]

log = logging.getLogger("kali")

#: SQLite's primary result code for "another connection holds the lock".
SQLITE_BUSY = 5

#: The detail of the 500 page for a handler that returned with a transaction
#: still open (inserted raw into ``Response.swear``'s page).
FORGOT_TO_COMMIT = (
    "<p>The request handler returned while a database transaction was still "
    "open: it changed the database but never called <code>commit()</code>.</p>\n"
    "<p>Nothing was saved: kali rolled the transaction back, so the data is "
    "as it was before this request. (Call <code>commit()</code> before "
    "returning, or use <code>TransactionGuard(commit=True)</code>.)</p>\n"
)

#: The message of the 503 answered when SQLite stayed locked too long.
BUSY_MESSAGE = "The database is busy; try again."

#: The message of :func:`fetch_one`'s 404.
NOT_FOUND = "That record does not exist (any more)."


#: Seconds a write waits for another connection's lock. kali serves one
#: request at a time, so every tab waits while one request waits: short,
#: so that a database held by another program (a backup, a second app)
#: gives a quick "busy, try again" and the form as typed, not a frozen app.
DEFAULT_BUSY_TIMEOUT = 1.0


def connect(
    path: str | os.PathLike[str],
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    **kwargs: Any,
) -> Connection:
    """Open the SQLite database at ``path`` the way a desktop app wants it.

    * ``journal_mode=WAL``: readers never block the writer, and a crash or
      a kill mid-commit leaves the previous state intact.
    * ``foreign_keys=ON``: ``REFERENCES`` clauses are enforced.
    * ``busy_timeout`` (seconds, default 1): a write waits this long for
      another connection's lock before "database is locked" is raised (the
      :class:`TransactionGuard` turns that into a 503, a Formlet into its
      form as typed with a message). Every request waits meanwhile: keep
      it short.
    * ``synchronous=FULL``: a ``commit()`` that returned survives a power cut.
    * ``row_factory = sqlite3.Row``: ``row['title']`` as well as ``row[0]``.
    * Python's implicit-transaction mode is kept (a transaction begins before
      the first INSERT/UPDATE/DELETE and lasts until ``commit()`` or
      ``rollback()``), so ``in_transaction`` is what the guard checks. The
      BEGIN is ``BEGIN IMMEDIATE`` unless you pass ``isolation_level``: the
      write lock is taken (or waited for) at the start of a write, never
      half-way through.

    ``path`` must be in an existing folder: the folder is not created
    (``sqlite3.OperationalError`` "unable to open database file" if it is
    missing). ``':memory:'`` works (its journal stays in memory). The
    connection is a :class:`Connection` (a ``factory=`` must subclass it,
    else TypeError). Other keyword arguments go to :func:`sqlite3.connect`;
    ``timeout`` is refused (TypeError: use ``busy_timeout``) and so is
    ``autocommit=False`` (ValueError: it keeps a transaction open at all
    times, which the guard would report on every request).
    """
    if "timeout" in kwargs:
        raise TypeError("connect() takes busy_timeout=, not timeout=")
    if kwargs.get("autocommit", True) is False:
        raise ValueError(
            "autocommit=False keeps a transaction always open; "
            "kali's transaction guard needs the default mode"
        )
    if busy_timeout < 0:
        raise ValueError("busy_timeout must not be negative")
    factory = kwargs.setdefault("factory", Connection)
    if not (isinstance(factory, type) and issubclass(factory, Connection)):
        raise TypeError("connect(factory=...) must subclass kali.sqlite.Connection")
    kwargs.setdefault("isolation_level", "IMMEDIATE")
    connection: Connection = sqlite3.connect(path, timeout=busy_timeout, **kwargs)
    try:
        mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() not in ("wal", "memory"):
            # A file system without shared memory (some network drives)
            # refuses WAL; the rollback journal is still safe, only slower.
            log.warning("SQLite refused WAL for %s; journal_mode is %s", path, mode)
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA synchronous=FULL")
        connection.row_factory = sqlite3.Row
    except BaseException:
        connection.close()
        raise
    return connection


def fetch_one_or_none(
    connection: sqlite3.Connection, sql: str, parameters: Parameters = ()
) -> Any:
    """The first row ``sql`` finds, or None. ``parameters``: a sequence for
    ``?`` placeholders, a mapping for ``:name`` ones."""
    cursor = connection.execute(sql, parameters)  # type: ignore[arg-type]
    try:
        return cursor.fetchone()
    finally:
        cursor.close()


def fetch_one(
    connection: sqlite3.Connection,
    sql: str,
    parameters: Parameters = (),
    *,
    message: str = NOT_FOUND,
) -> Any:
    """The first row ``sql`` finds; raises ``HTTPError(404, message)`` when it
    finds none, so a handler reads ``row = fetch_one(db, "SELECT * FROM
    contact WHERE id = ?", [contact_id])`` and a stale link gets a 404 page.
    Select by a key: further rows are not looked at."""
    row = fetch_one_or_none(connection, sql, parameters)
    if row is None:
        raise HTTPError(404, message)
    return row


def sql_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (a form's native values) as SQLite stores them, for an
    INSERT or UPDATE with ``:name`` parameters: dates, times and datetimes as
    ISO text (sqlite3's own date adapter is deprecated since Python 3.12),
    a ``decimal.Decimal`` as its exact text (a NUMERIC or REAL column turns
    it into a number), everything else as it is."""
    decimal = sys.modules.get("decimal")  # no Decimal exists unless imported
    stored = {}
    for name, value in values.items():
        if isinstance(value, (datetime.date, datetime.time)):
            value = (
                value.isoformat(sep=" ")
                if isinstance(value, datetime.datetime)
                else value.isoformat()
            )
        elif decimal is not None and isinstance(value, decimal.Decimal):
            value = str(value)
        stored[name] = value
    return stored


def is_busy_error(error: BaseException) -> bool:
    """Is ``error`` SQLite's "database is locked" (SQLITE_BUSY)?"""
    if not isinstance(error, sqlite3.OperationalError):
        return False
    # Python 3.11+ carries the (extended) result code; older ones the text.
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF == SQLITE_BUSY:
        return True
    return "database is locked" in str(error)


class TransactionGuard:
    """Checks the transactions of every registered connection after each
    request (see the module docstring for what it does when).

    ``commit=False`` (default): a handler that returns with a transaction
    open is rolled back and answered with a 500 page saying so, and an ERROR
    is logged. ``commit=True``: that transaction is committed instead (a
    handler that raises is still rolled back). ``retry_after`` is the
    seconds the 503 for a locked database asks the browser to wait.
    ``logger`` defaults to the ``kali`` logger. ::

        guard = TransactionGuard()
        db = guard.register(connect("app.db"))
        app = guard.wrap(router)

    Connections may be registered before or after ``wrap``, and closed
    ones are skipped. With several connections, each is committed or rolled
    back on its own: SQLite has no transaction spanning two connections
    (ATTACH the databases to one connection for that).
    """

    def __init__(
        self,
        *connections: sqlite3.Connection,
        commit: bool = False,
        retry_after: int = 1,
        logger: logging.Logger | None = None,
    ) -> None:
        if isinstance(retry_after, bool) or not isinstance(retry_after, int):
            raise TypeError("retry_after must be an int (seconds)")
        if retry_after < 0:
            raise ValueError("retry_after must not be negative")
        self.commit = commit
        self.retry_after = retry_after
        self.log = logger or log
        self.connections: list[sqlite3.Connection] = []
        for connection in connections:
            self.register(connection)

    def register(self, connection: sqlite3.Connection) -> sqlite3.Connection:
        """Guard ``connection`` too (once, however often registered);
        returns it, so ``db = guard.register(connect(path))`` reads well."""
        if not isinstance(connection, sqlite3.Connection):
            raise TypeError(f"not an sqlite3.Connection: {connection!r}")
        if all(known is not connection for known in self.connections):
            self.connections.append(connection)
        return connection

    def unregister(self, connection: sqlite3.Connection) -> None:
        """Stop guarding ``connection`` (ValueError if it was not registered)."""
        for index, known in enumerate(self.connections):
            if known is connection:
                del self.connections[index]
                return
        raise ValueError("that connection is not registered")

    def close(self) -> None:
        """Roll back anything open, then close and forget every connection
        (for the end of the app, or of a test)."""
        connections, self.connections = self.connections, []
        for connection in connections:
            try:
                if is_in_transaction(connection):
                    connection.rollback()
            finally:
                connection.close()  # a Connection settles its callbacks first

    def wrap(self, handler: Handler) -> GuardedHandler:
        """The guarded handler: serve that one (or wrap it further)."""
        return GuardedHandler(self, handler)

    # -- what happens around one request -----------------------------------------

    def open_connections(self) -> list[sqlite3.Connection]:
        """The registered connections with a transaction open now."""
        return [c for c in self.connections if is_in_transaction(c)]

    def rollback_all(self) -> None:
        """Roll back every open transaction. A failing rollback is logged and
        the others still happen (this runs while another error propagates)."""
        for connection in self.open_connections():
            try:
                connection.rollback()
            except Exception:
                self.log.exception("Rolling back a transaction failed")

    def settle_all(self) -> None:
        """Run the end-of-transaction callbacks of every registered
        :class:`Connection` (see :meth:`Connection.settle`); never raises."""
        for connection in self.connections:
            if isinstance(connection, Connection):
                try:
                    connection.settle()
                except Exception:
                    self.log.exception("Settling a connection's callbacks failed")

    def run(self, handler: Handler, request: Request) -> Response:
        """Run ``handler(request)`` under the guard (what the wrapper calls).
        Afterwards, every connection's :meth:`Connection.settle` runs: a file
        saved for a transaction that was rolled back is removed here."""
        try:
            return self._run(handler, request)
        finally:
            self.settle_all()

    def _run(self, handler: Handler, request: Request) -> Response:
        try:
            result = handler(request)
            # Build the Response here, so a generator body runs (and any
            # query in it fails) inside the guard, not after it.
            response = result if isinstance(result, Response) else Response(result)
        except BaseException as error:
            self.rollback_all()
            if is_busy_error(error):
                raise self._busy(request) from error
            raise
        still_open = self.open_connections()
        if not still_open:
            return response
        if response.code == 503:
            # "Busy, try again" (a Formlet whose save found the database
            # locked): the work was given up, so is its transaction.
            self.rollback_all()
            self.log.warning(
                "%s %s answered 503 with a transaction open; rolled back",
                request.command,
                request.uri,
            )
            return response
        if self.commit:
            try:
                for connection in still_open:
                    connection.commit()
            except BaseException as error:
                self.rollback_all()
                response.close()
                if is_busy_error(error):
                    raise self._busy(request) from error
                raise
            return response
        self.rollback_all()
        response.close()
        self.log.error(
            "%s %s returned with a transaction open; rolled back, answered 500",
            request.command,
            request.uri,
        )
        return Response.swear(request, FORGOT_TO_COMMIT, code=500)

    def _busy(self, request: Request) -> HTTPError:
        self.log.warning(
            "%s %s: the database stayed locked; answered 503",
            request.command,
            request.uri,
        )
        return HTTPError(
            503, BUSY_MESSAGE, headers=[("retry-after", str(self.retry_after))]
        )


class GuardedHandler:
    """A handler wrapped by a :class:`TransactionGuard`: call it with a
    Request. ``.guard`` is the guard (to register connections later or
    ``close()`` them), ``.handler`` the handler inside."""

    def __init__(self, guard: TransactionGuard, handler: Handler) -> None:
        if not callable(handler):
            raise TypeError(f"not a handler: {handler!r}")
        self.guard = guard
        self.handler = handler

    def __call__(self, request: Request) -> Response:
        return self.guard.run(self.handler, request)

    def __repr__(self) -> str:
        return f"<GuardedHandler {self.handler!r}>"


def transaction_guard(
    handler: Handler,
    *connections: sqlite3.Connection,
    commit: bool = False,
    retry_after: int = 1,
) -> GuardedHandler:
    """``handler`` guarded over ``connections``: the shortcut for
    ``TransactionGuard(*connections, commit=..., retry_after=...).wrap(handler)``.

    Register connections opened later with ``app.guard.register(db)``.
    """
    return TransactionGuard(*connections, commit=commit, retry_after=retry_after).wrap(
        handler
    )
