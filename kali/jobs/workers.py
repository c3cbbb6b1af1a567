"""Where a job's function runs: in its worker thread, or in a child process.

Both runners call ``function(progress, *args)``, log a failure where it
happens (the traceback goes to the log, never to a page), and return an
:class:`~kali.jobs.state.Outcome`; ``kali.jobs.Jobs`` gives them their
worker thread and settles the outcome on the loop.

:func:`run_in_thread` runs it right there. A thread job shares the
interpreter lock with the loop, so pure-Python number crunching in it slows
every request down a little; :func:`run_in_process` does not. The child
talks to its parent over a one-way pipe: progress reports (at most every
``REPORT_INTERVAL_SECONDS``), parts handed over, and last the result or the
failure. The worker thread reads the pipe, fills in the
:class:`~kali.jobs.state.Job`, and passes parts on to the loop.

Cancelling is cooperative first: the child's progress calls raise
:class:`~kali.jobs.state.Cancelled` once an event is set. A child that does
not stop within ``cancel_grace_seconds`` is terminated (then killed), so a
process job always ends within that bound.

The function and its arguments are pickled (a module-level function, plain
values); so is its result. Children are started with ``spawn`` by default
(safe while the parent runs threads, the same on every system), are daemonic
(they die with the app) and ignore Ctrl-C: their parent decides when they
stop. Rules: nothing here touches app state or HTTP; no global state. (This
module does not import :mod:`multiprocessing`: the scheduler passes the
context in, so thread-only apps never load it.)
"""

from __future__ import annotations

import logging
import signal
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .state import (
    CANCELLED,
    DONE,
    FAILED,
    FAILED_MESSAGE,
    Cancelled,
    Job,
    JobError,
    Outcome,
    Progress,
    ThreadProgress,
)

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext
    from multiprocessing.synchronize import Event

__all__ = ["ProcessProgress", "run_in_process", "run_in_thread"]

#: Logged after the error when a job used an SQLite connection of another
#: thread (sqlite3's check_same_thread refusing it).
SQLITE_THREAD_HINT = (
    " (A job must not use the app's SQLite connection: hand rows to the "
    "loop with progress.hand_over() and save them in on_part, or return "
    "them to on_done; both run on the loop thread.)"
)
#: A child sends at most this many progress reports a second (20): the page
#: polls twice a second, and every report costs a pickle and a pipe write.
REPORT_INTERVAL_SECONDS = 0.05
#: How often the supervisor looks at a cancel request while the pipe is quiet.
POLL_SECONDS = 0.05
#: After terminate() (SIGTERM), how long before kill() (SIGKILL).
TERMINATE_WAIT_SECONDS = 1.0


def run_in_thread(
    job: Job,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    *,
    hand_over: Callable[[Any], None],
    logger: logging.Logger,
) -> Outcome:
    """Run ``function(progress, *args)`` in this thread (the job's worker)."""
    try:
        if job.cancel_requested:
            raise Cancelled()
        result = function(ThreadProgress(job, hand_over), *args)
    except Cancelled:
        return Outcome(CANCELLED)
    except JobError as error:
        logger.warning("Job %s (%s) failed: %s", job.id, job.title, error)
        return Outcome(FAILED, error=str(error))
    except BaseException as error:  # a thread's end: log it, whatever it is
        hint = SQLITE_THREAD_HINT if "same thread" in str(error) else ""
        logger.error("Job %s (%s) failed%s", job.id, job.title, hint, exc_info=True)
        return Outcome(FAILED, error=FAILED_MESSAGE)
    return Outcome(DONE, result)


class Channel(Protocol):
    """One end of a ``multiprocessing`` pipe (a ``Connection``, or a
    ``PipeConnection`` on Windows)."""

    def send(self, obj: Any) -> None: ...
    def recv(self) -> Any: ...
    def poll(self, timeout: float | None = 0.0) -> bool: ...
    def close(self) -> None: ...


class ProcessProgress(Progress):
    """The :class:`~kali.jobs.state.Progress` of a job in a child process."""

    def __init__(
        self,
        channel: Channel,
        cancel_event: Event,
        interval_seconds: float = REPORT_INTERVAL_SECONDS,
    ) -> None:
        self._channel = channel
        self._cancel_event = cancel_event
        self._interval = interval_seconds
        self._sent_at = 0.0
        self._pending: tuple[Any, ...] | None = None

    def report(
        self, done: int, total: int | None = None, message: str | None = None
    ) -> None:
        self.check()
        if isinstance(done, bool) or not isinstance(done, int):
            raise TypeError("done must be an int")
        if total is not None and (
            isinstance(total, bool) or not isinstance(total, int)
        ):
            raise TypeError("total must be an int or None")
        previous = self._pending
        if previous is not None:  # keep what an unsent report said
            total = previous[2] if total is None else total
            message = previous[3] if message is None else message
        self._pending = ("progress", done, total, message)
        if time.monotonic() - self._sent_at >= self._interval:
            self.flush()

    def flush(self) -> None:
        """Send the last report if it has not gone yet."""
        if self._pending is not None:
            self._channel.send(self._pending)
            self._pending = None
            self._sent_at = time.monotonic()

    @property
    def cancelled(self) -> bool:
        return self._cancel_event.is_set()

    def hand_over(self, value: Any) -> None:
        self.check()
        self.flush()
        self._channel.send(("part", value))  # blocks while the parent is behind


def child_main(
    function: Callable[..., Any],
    args: tuple[Any, ...],
    channel: Channel,
    cancel_event: Event,
) -> None:
    """The child's whole life: run the job, send how it ended, exit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's
    progress = ProcessProgress(channel, cancel_event)
    try:
        result = function(progress, *args)
        progress.flush()
        message: tuple[Any, ...] = ("result", result)
    except Cancelled:
        message = ("cancelled",)
    except JobError as error:
        message = ("failed", str(error), traceback.format_exc())
    except BaseException:
        message = ("failed", None, traceback.format_exc())
    try:
        channel.send(message)
    except Exception as error:  # the result would not pickle, or no parent
        try:
            channel.send(("failed", None, f"Sending the result failed: {error!r}"))
        except Exception:
            pass
    finally:
        channel.close()


def _stop(process: Any, grace_seconds: float) -> None:
    """End ``process``: wait ``grace_seconds``, then terminate, then kill."""
    process.join(grace_seconds)
    if process.is_alive():
        process.terminate()
        process.join(TERMINATE_WAIT_SECONDS)
    if process.is_alive():
        process.kill()
        process.join(TERMINATE_WAIT_SECONDS)


def run_in_process(
    job: Job,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    *,
    context: BaseContext,
    hand_over: Callable[[Any], None],
    cancel_grace_seconds: float,
    logger: logging.Logger,
) -> Outcome:
    """Run ``function(progress, *args)`` in a child process of ``context``
    and supervise it until it ends (called in the job's worker thread).
    A failure is logged here; the Outcome says how it ended."""
    receiver, sender = context.Pipe(duplex=False)
    cancel_event = context.Event()
    process = context.Process(  # type: ignore[attr-defined]
        target=child_main,
        args=(function, args, sender, cancel_event),
        name=f"kali-job-{job.id}",
        daemon=True,
    )
    try:
        try:
            process.start()
        except Exception:
            logger.exception(
                "Job %s (%s): its process did not start", job.id, job.title
            )
            return Outcome(FAILED, error=FAILED_MESSAGE)
        finally:
            sender.close()  # the child has its end; ours would hide its death
        return _supervise(
            job,
            process,
            receiver,
            cancel_event,
            hand_over,
            cancel_grace_seconds,
            logger,
        )
    finally:
        if process.pid is not None:
            _stop(process, cancel_grace_seconds)
        receiver.close()


def _supervise(
    job: Job,
    process: Any,
    receiver: Channel,
    cancel_event: Event,
    hand_over: Callable[[Any], None],
    grace_seconds: float,
    logger: logging.Logger,
) -> Outcome:
    deadline: float | None = None
    while True:
        if deadline is None and job.cancel_requested:
            cancel_event.set()
            deadline = time.monotonic() + grace_seconds
        if deadline is not None and time.monotonic() >= deadline:
            logger.warning(
                "Job %s (%s) did not stop within %.1f s of its cancel; "
                "terminating its process",
                job.id,
                job.title,
                grace_seconds,
            )
            _stop(process, 0)
            return Outcome(CANCELLED)
        try:
            if not receiver.poll(POLL_SECONDS):
                continue
            message = receiver.recv()
        except EOFError:  # the child is gone without a last word
            process.join(TERMINATE_WAIT_SECONDS)
            if deadline is not None:
                return Outcome(CANCELLED)
            logger.error(
                "Job %s (%s): its process ended without an answer (exit code %s)",
                job.id,
                job.title,
                process.exitcode,
            )
            return Outcome(FAILED, error=FAILED_MESSAGE)
        except Exception:  # a message that would not unpickle
            logger.exception("Job %s (%s): unreadable message", job.id, job.title)
            job.request_cancel()
            _stop(process, grace_seconds)
            return Outcome(FAILED, error=FAILED_MESSAGE)
        kind = message[0]
        if kind == "progress":
            job.set_progress(message[1], message[2], message[3])
        elif kind == "part":
            try:
                hand_over(message[1])
            except Cancelled:
                continue  # the deadline above takes over
        elif kind == "result":  # even after a cancel: the loop decides
            return Outcome(DONE, message[1])
        elif kind == "cancelled":
            return Outcome(CANCELLED)
        else:
            _, text, details = message
            if text is None:
                logger.error("Job %s (%s) failed:\n%s", job.id, job.title, details)
                return Outcome(FAILED, error=FAILED_MESSAGE)
            logger.warning("Job %s (%s) failed: %s", job.id, job.title, text)
            return Outcome(FAILED, error=text)
