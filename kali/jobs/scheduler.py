"""Jobs: start, queue, cancel and forget jobs, and settle them on the loop.

:class:`Jobs` gives each job a worker thread (``kali.jobs.workers`` runs the
function there or in a child process), runs at most ``max_running`` at once
and queues the rest in order, keeps finished jobs for ``keep_seconds``, and
answers the job pages (``kali.jobs.pages``: mount it at ``prefix``).

Everything the app gave it (``on_part``, ``on_done``, ``on_end``) runs on the
loop thread through ``server.call_soon``, between two requests: the one rule
of ``kali.jobs``, that only the loop thread touches the app's state.

Rules: no sockets, no global state; every Jobs owns its threads and
processes and ends them in :meth:`Jobs.close` within a bound.
"""

from __future__ import annotations

import collections
import functools
import logging
import pickle
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import HTTPError
from ..request import Request
from ..response import Response
from . import pages
from .state import (
    CANCELLED,
    DONE,
    FAILED,
    FAILED_MESSAGE,
    RUNNING,
    Cancelled,
    Job,
    Outcome,
)
from .workers import run_in_thread

if TYPE_CHECKING:
    from ..routing import Router

__all__ = ["Jobs", "Loop"]

log = logging.getLogger("kali")

#: Two jobs at once: most machines have two cores or more, and an SQLite app
#: rarely has more independent long tasks than that.
DEFAULT_MAX_RUNNING = 2
#: Beyond this many waiting jobs, start() answers 503: a stuck queue must
#: not grow without bound.
DEFAULT_MAX_WAITING = 100
#: A finished job's page stays this long (10 minutes), so the user who came
#: back from a coffee still finds the result link.
DEFAULT_KEEP_SECONDS = 600.0
#: At most this many finished jobs are kept; the oldest go first.
DEFAULT_MAX_KEPT = 100
#: A cancelled process job gets this long to stop by itself before it is
#: terminated; close() waits this long plus a little for every worker.
DEFAULT_CANCEL_GRACE_SECONDS = 2.0
#: Parts handed over and not yet taken by the loop, per job: a job waits
#: rather than queue more (each part costs the loop one task's time).
DEFAULT_MAX_PARTS_WAITING = 2
#: The job page asks for its status this often.
DEFAULT_POLL_MILLISECONDS = 500


class Loop(Protocol):
    """What a Jobs needs of the server: ``call_soon`` runs a function on the
    loop thread between two requests, from any thread. A
    :class:`kali.server.Server` is one."""

    def call_soon(self, function: Callable[[], None]) -> None: ...


@dataclass
class _Work:
    """What to run for a job, and the app's callbacks for it."""

    function: Callable[..., Any]
    args: tuple[Any, ...]
    on_part: Callable[[Any], object] | None
    on_done: Callable[[Any], object] | None
    on_end: Callable[[Job], object] | None
    result_url: str | None
    parts_waiting: int = 0


class Jobs:
    """Long jobs for a single-threaded app: start them from handlers, show
    their progress, hand their results to the loop. ::

        jobs = Jobs()                       # its pages live under /jobs/
        jobs.mount(app)                     # app: a Router

        @app.servlet("/import")
        class Import:
            def do_POST(self, request):
                job = jobs.start(read_rows, path, title="Import",
                                 on_part=save_rows, on_done=finish)
                return jobs.redirect(job)   # 303 to the job's page

        with jobs:                          # close(): jobs end with the app
            run_app(app, on_ready=jobs.attach)

    Options (ValueError when out of range): ``prefix`` where the pages are
    mounted (``/.../``); ``max_running`` jobs at once, the rest wait in
    order, at most ``max_waiting`` (then 503); finished jobs are kept
    ``keep_seconds``, at most ``max_kept``; ``cancel_grace_seconds`` for a
    process job to stop by itself; ``max_parts_waiting`` parts per job not
    yet taken by the loop; ``poll_milliseconds`` between page updates;
    ``start_method`` of process jobs (``"spawn"``, ``"forkserver"``,
    ``"fork"``); ``layout(request, title, content)`` puts job pages into the
    app's own page; ``logger`` defaults to ``kali``.
    """

    def __init__(
        self,
        *,
        prefix: str = "/jobs/",
        max_running: int = DEFAULT_MAX_RUNNING,
        max_waiting: int = DEFAULT_MAX_WAITING,
        keep_seconds: float = DEFAULT_KEEP_SECONDS,
        max_kept: int = DEFAULT_MAX_KEPT,
        cancel_grace_seconds: float = DEFAULT_CANCEL_GRACE_SECONDS,
        max_parts_waiting: int = DEFAULT_MAX_PARTS_WAITING,
        poll_milliseconds: int = DEFAULT_POLL_MILLISECONDS,
        start_method: str = "spawn",
        layout: pages.Layout | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        if not (prefix.startswith("/") and prefix.endswith("/")):
            raise ValueError(f"prefix must begin and end with '/': {prefix!r}")
        for name, value in (
            ("max_running", max_running),
            ("max_parts_waiting", max_parts_waiting),
            ("poll_milliseconds", poll_milliseconds),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int")
        if max_waiting < 0 or max_kept < 0:
            raise ValueError("max_waiting and max_kept must not be negative")
        if keep_seconds < 0 or cancel_grace_seconds < 0:
            raise ValueError(
                "keep_seconds and cancel_grace_seconds must not be negative"
            )
        self.prefix = prefix
        self.max_running = max_running
        self.max_waiting = max_waiting
        self.keep_seconds = float(keep_seconds)
        self.max_kept = max_kept
        self.cancel_grace_seconds = float(cancel_grace_seconds)
        self.max_parts_waiting = max_parts_waiting
        self.poll_milliseconds = poll_milliseconds
        self.start_method = start_method
        self.layout = layout
        self.log = logger or log
        self._lock = threading.Condition()
        self._jobs: dict[str, Job] = {}  # in the order they were started
        self._work: dict[str, _Work] = {}
        self._waiting: collections.deque[Job] = collections.deque()
        self._workers: dict[str, threading.Thread] = {}
        self._loop: Loop | None = None
        self._closed = False

    # -- wiring ---------------------------------------------------------------------

    def attach(self, loop: Loop) -> None:
        """Deliver results through ``loop.call_soon`` (the server): pass
        ``on_ready=jobs.attach`` to ``serve_http`` or ``run_app``."""
        if not callable(getattr(loop, "call_soon", None)):
            raise TypeError("attach() needs the server (something with call_soon)")
        self._loop = loop
        register = getattr(loop, "add_busy_check", None)
        if callable(register):  # quit_when_closed waits for running jobs
            register(self.is_busy)

    def mount(self, router: Router) -> None:
        """Serve the job pages under :attr:`prefix` of ``router``."""
        router.delegate_folder(self.prefix, self)

    def url(self, job: Job) -> str:
        """The path of ``job``'s page."""
        return self.prefix + job.id

    def redirect(self, job: Job) -> Response:
        """303 to ``job``'s page: what a handler that started it answers."""
        return Response("", code=303, headers={"location": self.url(job)})

    # -- starting, finding, cancelling -----------------------------------------

    def start(
        self,
        function: Callable[..., Any],
        *args: Any,
        title: str = "Job",
        in_process: bool = False,
        on_part: Callable[[Any], object] | None = None,
        on_done: Callable[[Any], object] | None = None,
        on_end: Callable[[Job], object] | None = None,
        result_url: str | None = None,
    ) -> Job:
        """Queue ``function(progress, *args)`` and return its :class:`Job` at
        once; it starts when fewer than ``max_running`` jobs run.

        On the loop thread, later: ``on_part(value)`` for every
        ``progress.hand_over(value)``, in order; ``on_done(result)`` with the
        function's return value (a str it returns becomes the result link,
        else ``result_url``); ``on_end(job)`` last, whatever the outcome
        (``job.state`` is ``"done"``, ``"failed"`` or ``"cancelled"``: undo
        partial work there). A cancelled job gets no ``on_part`` or
        ``on_done`` after the cancel. ``in_process=True`` runs the function
        in a child process: it and its arguments must pickle (a module-level
        function; TypeError otherwise). Raises RuntimeError before
        :meth:`attach` or after :meth:`close`, and HTTPError 503 when
        ``max_waiting`` jobs already wait.
        """
        if not callable(function):
            raise TypeError(f"a job's function must be callable, not {function!r}")
        if in_process:
            try:
                pickle.dumps(function)
            except Exception as error:
                raise TypeError(
                    "a process job's function must be a module-level function "
                    f"(it is pickled): {error}"
                ) from None
        work = _Work(function, args, on_part, on_done, on_end, result_url)
        with self._lock:
            if self._closed:
                raise RuntimeError("these Jobs are closed: the app is shutting down")
            if self._loop is None:
                raise RuntimeError(
                    "Jobs.attach(server) first: serve_http(..., on_ready=jobs.attach)"
                )
            self._prune()
            must_wait = len(self._workers) >= self.max_running
            if must_wait and len(self._waiting) >= self.max_waiting:
                raise HTTPError(503, "Too many jobs are waiting; try again later.")
            job_id = secrets.token_hex(4)
            while job_id in self._jobs:
                job_id = secrets.token_hex(4)
            job = Job(job_id, str(title), in_process=in_process)
            self._jobs[job_id] = job
            self._work[job_id] = work
            self._waiting.append(job)
            self._start_waiting()
        return job

    def get(self, job_id: str) -> Job | None:
        """The job with this id, or None (never started, or forgotten)."""
        with self._lock:
            self._prune()
            return self._jobs.get(job_id)

    def recent(self) -> list[Job]:
        """The jobs kept, newest first."""
        with self._lock:
            self._prune()
            return list(reversed(self._jobs.values()))

    def running(self) -> int:
        """How many jobs have not finished (waiting or running, including
        those whose results the loop has not taken yet). ``quit_when_closed``
        must not quit while this is above 0."""
        with self._lock:
            return sum(1 for job in self._jobs.values() if not job.is_finished)

    def is_busy(self) -> bool:
        """True while a job has not finished."""
        return self.running() > 0

    def cancel(self, job: Job | str) -> bool:
        """Ask a job to stop; True if it had not finished. A waiting job is
        cancelled at once; a running one when its function next reports
        (a process job is terminated after ``cancel_grace_seconds``)."""
        with self._lock:
            found = self._jobs.get(job if isinstance(job, str) else job.id)
            if found is None or found.is_finished:
                return False
            found.request_cancel()
            if found in self._waiting:
                self._waiting.remove(found)
                found.set_state(CANCELLED)
                self._to_loop(functools.partial(self._end, found))
            self._lock.notify_all()
            return True

    # -- running -------------------------------------------------------------------

    def _start_waiting(self) -> None:
        """Start waiting jobs while there is room (lock held)."""
        while self._waiting and len(self._workers) < self.max_running:
            job = self._waiting.popleft()
            job.set_state(RUNNING)
            thread = threading.Thread(
                target=self._run, args=(job,), name=f"kali-job-{job.id}", daemon=True
            )
            self._workers[job.id] = thread
            thread.start()

    def _run(self, job: Job) -> None:
        """A job's worker thread: run it (here or in a process), free the
        slot, and have the loop settle the outcome."""
        work = self._work[job.id]
        hand_over = functools.partial(self._hand_over, job, work)
        outcome = Outcome(FAILED, error=FAILED_MESSAGE)
        try:
            if job.in_process:
                import multiprocessing

                from .workers import run_in_process

                outcome = run_in_process(
                    job,
                    work.function,
                    work.args,
                    context=multiprocessing.get_context(self.start_method),
                    hand_over=hand_over,
                    cancel_grace_seconds=self.cancel_grace_seconds,
                    logger=self.log,
                )
            else:
                outcome = run_in_thread(
                    job, work.function, work.args, hand_over=hand_over, logger=self.log
                )
        except BaseException:
            self.log.exception("Job %s (%s): its worker failed", job.id, job.title)
        finally:
            with self._lock:
                del self._workers[job.id]
                if not self._closed:
                    self._start_waiting()
                self._lock.notify_all()
            self._to_loop(functools.partial(self._settle, job, outcome))

    def _hand_over(self, job: Job, work: _Work, value: Any) -> None:
        """``progress.hand_over``: wait for room, then queue ``on_part`` on
        the loop. Raises Cancelled once the job was asked to stop."""
        with self._lock:
            while True:
                if job.cancel_requested:
                    raise Cancelled()
                if work.parts_waiting < self.max_parts_waiting:
                    break
                self._lock.wait(0.5)
            work.parts_waiting += 1
        self._to_loop(functools.partial(self._deliver_part, job, work, value))

    def _to_loop(self, function: Callable[[], None]) -> None:
        loop = self._loop
        assert loop is not None, "no job starts before attach()"
        loop.call_soon(function)

    # -- on the loop thread ----------------------------------------------------------

    def _deliver_part(self, job: Job, work: _Work, value: Any) -> None:
        with self._lock:
            work.parts_waiting -= 1
            self._lock.notify_all()
        if job.cancel_requested or job.is_finished:
            return
        try:
            if work.on_part is None:
                raise TypeError("the job handed a part over, but has no on_part")
            work.on_part(value)
        except Exception:
            self.log.exception("Job %s (%s): on_part failed", job.id, job.title)
            job.stop_for_failure(FAILED_MESSAGE)
            with self._lock:
                self._lock.notify_all()

    def _settle(self, job: Job, outcome: Outcome) -> None:
        """Record how the job ended and run the app's callbacks."""
        if job.is_finished:  # closed meanwhile
            return
        work = self._work.get(job.id)
        if work is None:
            return
        if job.failure is not None:
            job.set_state(FAILED, error=job.failure)
        elif outcome.state != DONE:
            job.set_state(outcome.state, error=outcome.error)
        elif job.cancel_requested:  # it finished before it noticed: drop it
            job.set_state(CANCELLED)
        else:
            result_url = work.result_url
            try:
                if work.on_done is not None:
                    answer = work.on_done(outcome.result)
                    if isinstance(answer, str):
                        result_url = answer
            except Exception:
                self.log.exception("Job %s (%s): on_done failed", job.id, job.title)
                job.set_state(FAILED, error=FAILED_MESSAGE)
            else:
                job.set_state(DONE, result_url=result_url)
        self._end(job)

    def _end(self, job: Job) -> None:
        """Run ``on_end`` and let go of the job's function and arguments."""
        with self._lock:
            work = self._work.pop(job.id, None)
        if work is not None and work.on_end is not None:
            try:
                work.on_end(job)
            except Exception:
                self.log.exception("Job %s (%s): on_end failed", job.id, job.title)

    # -- forgetting and shutting down ------------------------------------------

    def _prune(self) -> None:
        """Forget finished jobs kept too long, or too many (lock held)."""
        now = time.monotonic()
        finished = [job for job in self._jobs.values() if job.finished is not None]
        for index, job in enumerate(finished):
            assert job.finished is not None
            too_many = len(finished) - index > self.max_kept
            if too_many or now - job.finished > self.keep_seconds:
                del self._jobs[job.id]

    def close(self, timeout_seconds: float | None = None) -> None:
        """Cancel every job and wait for the workers, at most
        ``timeout_seconds`` (default ``cancel_grace_seconds`` + 2): process
        jobs are terminated within that; a thread job that never reports
        is left behind (a daemon thread) with a warning. Call it once the
        server has stopped; no callback runs after it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._waiting.clear()
            for job in self._jobs.values():
                job.request_cancel()
            workers = list(self._workers.values())
            self._lock.notify_all()
        if timeout_seconds is None:
            timeout_seconds = self.cancel_grace_seconds + 2.0
        deadline = time.monotonic() + timeout_seconds
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        stuck = [worker.name for worker in workers if worker.is_alive()]
        if stuck:
            self.log.warning(
                "Jobs still running after %.1f s (they never report progress): %s",
                timeout_seconds,
                ", ".join(stuck),
            )
        with self._lock:
            for job in self._jobs.values():
                if not job.is_finished:
                    job.set_state(CANCELLED)
            self._work.clear()

    def __enter__(self) -> Jobs:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the pages ------------------------------------------------------------------

    def __call__(self, request: Request) -> Response:
        """Answer the job pages (mounted at :attr:`prefix`): ``ID`` (the
        page), ``ID/status`` (JSON), ``ID/cancel`` (POST), the list, the script."""
        return pages.answer(self, request)
