"""One job's record (:class:`Job`) and what its function reports through
(:class:`Progress`): the values both sides of a job share.

A job's function runs off the loop, in a worker thread or a child process,
and reports ``done / total`` and a message; handlers on the loop read the
same record to draw the job's page. Every field that both sides touch is
read and written under the job's own lock, so a page never shows a half
update.

Rules: no HTTP and no app state here. The function of a job gets a
:class:`Progress` and never the request, a session or the app's SQLite
connection; what it produces goes to the loop through
:meth:`Progress.hand_over` and its return value (``kali.jobs.Jobs`` runs the
app's callbacks there). This module keeps no global state.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, NamedTuple

__all__ = [
    "CANCELLED",
    "DONE",
    "FAILED",
    "FINAL_STATES",
    "RUNNING",
    "WAITING",
    "Cancelled",
    "Job",
    "JobError",
    "Outcome",
    "Progress",
    "ThreadProgress",
]

WAITING = "waiting"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"
FINAL_STATES = frozenset({DONE, FAILED, CANCELLED})

#: What a job page says in each state (the message comes below it).
STATE_TEXT = {
    WAITING: "Waiting for another job to finish.",
    RUNNING: "Running.",
    DONE: "Done.",
    FAILED: "Failed.",
    CANCELLED: "Cancelled.",
}
CANCELLING_TEXT = "Cancelling."
#: Shown for a failure whose details are only in the log (every exception
#: but :class:`JobError`): a job page never shows a traceback.
FAILED_MESSAGE = "The job failed; the details are in the log."


class Cancelled(BaseException):
    """Raised inside a job by :meth:`Progress.report`, :meth:`Progress.check`
    and :meth:`Progress.hand_over` once someone asked to cancel it. Let it
    propagate (``finally`` blocks run). A ``BaseException``, as
    ``asyncio.CancelledError`` is, so a job's ``except Exception`` does not
    swallow it."""


class JobError(Exception):
    """Raise it in a job for a failure the user should read: its message is
    shown on the job page (``JobError("Line 17 has no name")``). Any other
    exception shows only "failed", its traceback goes to the log."""


class Outcome(NamedTuple):
    """How a job's function ended, as its worker saw it: ``state`` is DONE
    (with ``result``), CANCELLED, or FAILED (with ``error``, the text the
    page shows; the details were logged where it failed)."""

    state: str
    result: Any = None
    error: str | None = None


class Progress:
    """What a job's function gets as its first argument (``function(progress,
    *args)``): it tells the job page how far the job is, notices a cancel,
    and hands pieces of work to the loop.

    ``report(done, total=None, message=None)``, ``check()`` and
    ``hand_over(value)`` raise :class:`Cancelled` once the job was asked to
    stop; ``cancelled`` says so without raising. Thread jobs and process jobs
    get different subclasses with the same behaviour.
    """

    def report(
        self, done: int, total: int | None = None, message: str | None = None
    ) -> None:
        """``done`` of ``total`` units (``total`` None keeps the last one
        given; never given: the page shows a bar without an end) and a short
        ``message`` (None keeps the last one). Cheap: call it per row."""
        raise NotImplementedError

    @property
    def cancelled(self) -> bool:
        """Has someone asked to cancel the job?"""
        raise NotImplementedError

    def check(self) -> None:
        """Raise :class:`Cancelled` if the job was asked to stop."""
        if self.cancelled:
            raise Cancelled()

    def hand_over(self, value: Any) -> None:
        """Give ``value`` to the loop: the job's ``on_part(value)`` runs on the
        loop thread, in the order handed over, between requests. Waits while
        the loop has not yet taken the previous ones (at most
        ``Jobs.max_parts_waiting`` wait), so a fast job cannot flood the loop.
        Keep each part to about 10 ms of loop work (a few thousand rows)."""
        raise NotImplementedError


class Job:
    """A job's record: id, title, state, progress, and how it ended.

    Made by :meth:`kali.jobs.Jobs.start`; read it from handlers
    (``job.state``, :meth:`status`), never change it. Times are
    ``time.monotonic()`` seconds.
    """

    def __init__(self, job_id: str, title: str, *, in_process: bool) -> None:
        self.id = job_id
        self.title = title
        self.in_process = in_process
        self.state = WAITING
        self.done = 0
        self.total: int | None = None
        self.message = ""
        #: The text a failed job shows (``FAILED_MESSAGE`` or a JobError's).
        self.error: str | None = None
        #: Where the result is, once done (``result_url`` or ``on_done``'s).
        self.result_url: str | None = None
        self.created = time.monotonic()
        self.started: float | None = None
        self.finished: float | None = None
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        #: Set on the loop when the app's ``on_part`` failed: the job stops
        #: and ends as failed with this text.
        self.failure: str | None = None

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.title!r} {self.state}>"

    # -- written by the worker side ----------------------------------------------

    def set_progress(
        self, done: int, total: int | None = None, message: str | None = None
    ) -> None:
        """Record a progress report (see :meth:`Progress.report`)."""
        if isinstance(done, bool) or not isinstance(done, int):
            raise TypeError("done must be an int")
        if total is not None and (
            isinstance(total, bool) or not isinstance(total, int)
        ):
            raise TypeError("total must be an int or None")
        with self._lock:
            self.done = done
            if total is not None:
                self.total = total
            if message is not None:
                self.message = str(message)

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def request_cancel(self) -> None:
        self._cancel.set()

    def stop_for_failure(self, error: str) -> None:
        """Stop the job (as a cancel does) because the loop's side of it
        failed; it ends as failed with ``error``."""
        self.failure = error
        self._cancel.set()

    def wait_for_cancel(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, waking early on a cancel; True if cancelled."""
        return self._cancel.wait(seconds)

    def set_state(
        self,
        state: str,
        *,
        error: str | None = None,
        result_url: str | None = None,
    ) -> None:
        with self._lock:
            self.state = state
            now = time.monotonic()
            if state == RUNNING and self.started is None:
                self.started = now
            if state in FINAL_STATES:
                self.finished = now
                self.error = error
                self.result_url = result_url

    # -- read by pages -------------------------------------------------------------

    @property
    def is_finished(self) -> bool:
        return self.state in FINAL_STATES

    def status(self) -> dict[str, Any]:
        """The job as JSON-ready values, read at one instant: what the status
        route answers and the page shows."""
        with self._lock:
            state, done, total = self.state, self.done, self.total
            message, error, result_url = self.message, self.error, self.result_url
        cancelling = (
            state in (WAITING, RUNNING)
            and self.cancel_requested
            and self.failure is None
        )
        if total is not None and total > 0:
            percent: int | None = max(0, min(100, done * 100 // total))
            count = f"{done:,} of {total:,}"
        else:
            percent = None
            count = f"{done:,}" if done else ""
        if state == DONE:
            percent = 100
        return {
            "id": self.id,
            "title": self.title,
            "state": state,
            "state_text": CANCELLING_TEXT if cancelling else STATE_TEXT[state],
            "finished": state in FINAL_STATES,
            "cancelling": cancelling,
            "done": done,
            "total": total,
            "percent": percent,
            "count_text": count,
            "message": message,
            "error": error,
            "result_url": result_url if state == DONE else None,
        }


class ThreadProgress(Progress):
    """The :class:`Progress` of a job run in a worker thread: reports go
    straight into the :class:`Job`; ``hand_over`` is the scheduler's."""

    def __init__(self, job: Job, hand_over: Callable[[Any], None]) -> None:
        self.job = job
        self._hand_over = hand_over

    def report(
        self, done: int, total: int | None = None, message: str | None = None
    ) -> None:
        if self.job.cancel_requested:
            raise Cancelled()
        self.job.set_progress(done, total, message)

    @property
    def cancelled(self) -> bool:
        return self.job.cancel_requested

    def hand_over(self, value: Any) -> None:
        self._hand_over(value)
