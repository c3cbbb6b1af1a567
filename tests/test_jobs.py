"""kali.jobs: work off the loop, results on it.

Most tests run the app in-process (kali.testing.Client) with a hand-driven
loop: ``ManualLoop.call_soon`` queues work from any thread, and the test
thread, which also runs the handlers, runs it, as the server does between
requests. The job functions are gated by semaphores, so every intermediate
state is read back deterministically. The end-to-end tests use a real
Server in a thread.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from kali import HTTPError, Response, Router
from kali.jobs import Cancelled, Job, JobError, Jobs, Progress
from kali.jobs.pages import SCRIPT_NAME
from kali.sqlite import connect
from kali.testing import Client

#: Bounds for waiting on another thread; a healthy run needs milliseconds.
WAIT_SECONDS = 20.0


class ManualLoop:
    """A stand-in for the server loop: call_soon from any thread, run()
    from the test thread (the 'loop thread' of these tests)."""

    def __init__(self) -> None:
        self.tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.thread = threading.current_thread()

    def call_soon(self, function: Callable[[], None]) -> None:
        self.tasks.put(function)

    def run(self) -> None:
        """Run what is queued now, as the server does between two requests
        (work queued meanwhile waits for the next round)."""
        pending = []
        while not self.tasks.empty():
            pending.append(self.tasks.get_nowait())
        for task in pending:
            task()

    def run_until(self, condition: Callable[[], Any], what: str = "") -> Any:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            self.run()
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"gave up waiting for {what or condition}")
            time.sleep(0.005)


@pytest.fixture
def loop():
    return ManualLoop()


@pytest.fixture
def make_jobs(loop):
    made: list[Jobs] = []

    def make(**options: Any) -> Jobs:
        jobs = Jobs(**options)
        jobs.attach(loop)
        made.append(jobs)
        return jobs

    yield make
    for jobs in made:
        jobs.close(timeout_seconds=10)


# -- job functions (module level: process jobs pickle them) --------------------


def count_gated(progress: Progress, total: int, gate: threading.Semaphore) -> int:
    """Count to ``total``, one step each time the test releases ``gate``."""
    progress.report(0, total, "starting")
    for number in range(1, total + 1):
        gate.acquire()
        progress.report(number, total, f"counted {number}")
    return total


def count_to(progress: Progress, total: int) -> int:
    for number in range(1, total + 1):
        progress.report(number, total, f"counted {number}")
    return total * 10


def spin_until_cancelled(progress: Progress) -> None:
    while True:
        progress.report(1, None, "spinning")
        time.sleep(0.001)


def never_reports(progress: Progress, seconds: float) -> str:
    """CPU work that never looks at its progress (the cancel cannot reach it)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(1000))
    return "finished anyway"


def fail_with_secret(progress: Progress) -> None:
    progress.report(1, 3)
    raise ValueError("secret detail s3cr3t")


def fail_for_the_user(progress: Progress) -> None:
    raise JobError("Line 17 has no name.")


def hand_over_rows(progress: Progress, batches: int) -> str:
    for number in range(batches):
        progress.hand_over([number * 10 + i for i in range(10)])
        progress.report(number + 1, batches)
    return "all handed over"


# -- helpers -------------------------------------------------------------------


def status(client: Client, job: Job) -> dict[str, Any]:
    answer = client.get(f"/jobs/{job.id}/status")
    assert answer.status == 200
    assert answer.headers["cache-control"] == "no-store"
    return answer.json()


def app_with(jobs: Jobs, start: Callable[[], Job]) -> Router:
    app = Router()
    jobs.mount(app)

    @app.servlet("/start")
    class Start:
        def do_POST(self, request):
            return jobs.redirect(start())

    @app.function("/")
    def home():
        return "<p>home</p>"

    return app


# -- counting, with progress read back -----------------------------------------


def test_a_job_counts_to_n_with_progress_on_its_page_and_in_json(loop, make_jobs):
    jobs = make_jobs()
    gate = threading.Semaphore(0)
    results = []

    def start():
        return jobs.start(
            count_gated,
            4,
            gate,
            title="Counting <to> 4",
            on_done=lambda result: results.append((result, threading.current_thread())),
            result_url="/counted",
        )

    client = Client(app_with(jobs, start))
    answer = client.post("/start")
    assert answer.status == 303
    location = answer.location
    job = jobs.recent()[0]
    assert location == f"/jobs/{job.id}"
    loop.run_until(lambda: status(client, job)["message"] == "starting")
    page = client.get(location)
    assert page.status == 200 and page.headers["cache-control"] == "no-store"
    assert "Counting &lt;to&gt; 4" in page.text  # the title is escaped
    assert 'value="0"' in page.text and "0 of 4" in page.text
    assert '<noscript><meta http-equiv="refresh"' in page.text
    assert f'action="/jobs/{job.id}/cancel"' in page.text
    assert f'data-kali-job="/jobs/{job.id}/status"' in page.text
    assert f"/jobs/{SCRIPT_NAME}?v=" in page.text

    for number in range(1, 5):
        gate.release()
        seen = loop.run_until(
            lambda n=number: status(client, job)["done"] == n and status(client, job)
        )
        assert seen["total"] == 4 and seen["percent"] == number * 25
        assert seen["message"] == f"counted {number}"
        assert f"{number} of 4" in client.get(location).text

    final = loop.run_until(
        lambda: status(client, job)["finished"] and status(client, job)
    )
    assert final["state"] == "done" and final["state_text"] == "Done."
    assert final["result_url"] == "/counted"
    assert results == [(4, loop.thread)]  # on_done ran on the loop thread
    page = client.get(location).text
    assert 'href="/counted"' in page and "noscript" not in page
    assert 'data-job-cancel method="post"' in page and " hidden>" in page
    assert jobs.running() == 0


def test_a_thread_job_and_a_process_job_both_deliver_their_result(loop, make_jobs):
    jobs = make_jobs()
    done: dict[str, Any] = {}
    thread_job = jobs.start(count_to, 50, on_done=lambda r: done.update(thread=r))
    process_job = jobs.start(
        count_to, 50, in_process=True, on_done=lambda r: done.update(process=r)
    )
    loop.run_until(lambda: thread_job.is_finished and process_job.is_finished)
    assert done == {"thread": 500, "process": 500}
    assert process_job.status()["done"] == 50  # the last report was sent
    assert process_job.state == thread_job.state == "done"


def test_on_done_may_name_the_result_page(loop, make_jobs):
    jobs = make_jobs()
    job = jobs.start(count_to, 3, on_done=lambda result: f"/results/{result}")
    loop.run_until(lambda: job.is_finished)
    assert job.status()["result_url"] == "/results/30"


# -- cancelling ----------------------------------------------------------------


def test_cancel_a_running_job_from_its_page(loop, make_jobs):
    jobs = make_jobs()
    gate = threading.Semaphore(0)
    ended: list[str] = []
    done: list[Any] = []

    def start():
        return jobs.start(
            count_gated,
            10,
            gate,
            on_done=done.append,
            on_end=lambda job: ended.append(job.state),
        )

    client = Client(app_with(jobs, start))
    location = client.post("/start").location
    job = jobs.recent()[0]
    gate.release()
    loop.run_until(lambda: status(client, job)["done"] == 1)
    assert client.get(location + "/cancel").status == 405  # POST only
    answer = client.post(location + "/cancel")
    assert answer.status == 303 and answer.location == location
    assert status(client, job)["state_text"] == "Cancelling."
    gate.release()  # the next report raises Cancelled in the job
    loop.run_until(lambda: job.is_finished)
    assert job.state == "cancelled" and ended == ["cancelled"] and done == []
    page = client.get(location).text
    assert "Cancelled." in page and "noscript" not in page
    assert client.post(location + "/cancel").status == 303  # harmless twice
    assert jobs.cancel(job) is False


def test_a_waiting_job_is_cancelled_at_once_and_others_start_in_order(loop, make_jobs):
    jobs = make_jobs(max_running=1)
    gate = threading.Semaphore(0)
    first = jobs.start(count_gated, 1, gate, title="first")
    second = jobs.start(count_to, 2, title="second")
    third = jobs.start(count_to, 3, title="third")
    ended: list[str] = []
    fourth = jobs.start(count_to, 4, on_end=lambda job: ended.append(job.state))
    assert [job.state for job in (first, second, third, fourth)] == [
        "running",
        "waiting",
        "waiting",
        "waiting",
    ]
    assert second.status()["state_text"] == "Waiting for another job to finish."
    assert jobs.running() == 4
    assert jobs.cancel(fourth.id) is True
    assert fourth.state == "cancelled"
    loop.run()
    assert ended == ["cancelled"]
    gate.release()
    loop.run_until(lambda: third.is_finished)
    assert first.started < second.started < third.started
    assert [job.state for job in (first, second, third)] == ["done"] * 3
    assert fourth.started is None


def test_a_process_job_that_ignores_the_cancel_is_terminated_within_the_grace(
    loop, make_jobs
):
    jobs = make_jobs(cancel_grace_seconds=0.5)
    job = jobs.start(never_reports, 60.0, in_process=True)
    loop.run_until(lambda: job.state == "running")
    time.sleep(0.2)  # let the child start its loop
    jobs.cancel(job)
    loop.run_until(lambda: job.is_finished)
    assert job.state == "cancelled"


def test_a_process_job_stops_at_its_next_report(loop, make_jobs):
    jobs = make_jobs(cancel_grace_seconds=30)
    job = jobs.start(spin_until_cancelled, in_process=True)
    loop.run_until(lambda: job.status()["message"] == "spinning")
    jobs.cancel(job)
    loop.run_until(lambda: job.is_finished)
    assert job.state == "cancelled"


# -- failures ------------------------------------------------------------------


@pytest.mark.parametrize("in_process", [False, True])
def test_a_failed_job_says_so_and_logs_the_error_never_on_the_page(
    loop, make_jobs, caplog, in_process
):
    jobs = make_jobs()
    ended: list[str] = []

    def start():
        return jobs.start(
            fail_with_secret,
            in_process=in_process,
            on_end=lambda job: ended.append(job.state),
        )

    client = Client(app_with(jobs, start))
    with caplog.at_level(logging.ERROR, logger="kali"):
        location = client.post("/start").location
        job = jobs.recent()[0]
        loop.run_until(lambda: job.is_finished)
    assert job.state == "failed" and ended == ["failed"]
    seen = status(client, job)
    assert seen["error"] == "The job failed; the details are in the log."
    page = client.get(location).text
    assert "Failed." in page and "details are in the log" in page
    assert "s3cr3t" not in page and "Traceback" not in page
    assert "s3cr3t" not in json.dumps(seen)
    logged = "\n".join(
        record.getMessage() + str(record.exc_text) for record in caplog.records
    )
    assert "s3cr3t" in logged and "Traceback" in logged and job.id in logged


@pytest.mark.parametrize("in_process", [False, True])
def test_a_job_error_message_is_shown_to_the_user(loop, make_jobs, in_process):
    jobs = make_jobs()
    job = jobs.start(fail_for_the_user, in_process=in_process)
    loop.run_until(lambda: job.is_finished)
    assert job.state == "failed"
    assert job.status()["error"] == "Line 17 has no name."


def test_on_done_failing_makes_the_job_failed(loop, make_jobs, caplog):
    jobs = make_jobs()

    def broken(result):
        raise RuntimeError("cannot save")

    with caplog.at_level(logging.ERROR, logger="kali"):
        job = jobs.start(count_to, 2, on_done=broken)
        loop.run_until(lambda: job.is_finished)
    assert job.state == "failed" and job.status()["result_url"] is None
    assert any("on_done failed" in record.getMessage() for record in caplog.records)


# -- parts handed to the loop, and SQLite on the loop thread -------------------


def test_parts_reach_the_loop_in_order_and_a_fast_job_waits_for_it(loop, make_jobs):
    jobs = make_jobs(max_parts_waiting=1)
    parts: list[list[int]] = []
    threads: set[threading.Thread] = set()

    def on_part(rows):
        parts.append(rows)
        threads.add(threading.current_thread())

    job = jobs.start(hand_over_rows, 5, on_part=on_part)
    # The loop has not run yet: the job handed one part over and waits.
    deadline = time.monotonic() + WAIT_SECONDS
    while job.status()["done"] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    assert job.status()["done"] == 1 and parts == []
    loop.run_until(lambda: job.is_finished)
    assert [rows[0] for rows in parts] == [0, 10, 20, 30, 40]
    assert threads == {loop.thread}


def test_a_job_touching_the_apps_connection_fails_with_a_clear_log(
    loop, make_jobs, tmp_path, caplog
):
    """kali.sqlite.connect keeps sqlite3's check_same_thread: the loop's
    connection refuses a job thread, and the log says what to do instead."""
    jobs = make_jobs()
    db = connect(tmp_path / "app.db")
    try:
        db.execute("CREATE TABLE item (n INTEGER)")
        db.commit()

        def sneaky(progress):
            db.execute("INSERT INTO item VALUES (1)")

        with caplog.at_level(logging.ERROR, logger="kali"):
            job = jobs.start(sneaky)
            loop.run_until(lambda: job.is_finished)
        assert job.state == "failed"
        text = "\n".join(r.getMessage() + str(r.exc_text) for r in caplog.records)
        assert "ProgrammingError" in text and "same thread" in text
        assert "must not use the app's SQLite connection" in text
        assert db.execute("SELECT count(*) FROM item").fetchone()[0] == 0
    finally:
        db.close()


def test_results_are_written_to_sqlite_on_the_loop_thread_of_a_real_server(
    kali_server, tmp_path
):
    jobs = Jobs()
    app = Router()
    jobs.mount(app)
    opened: dict[str, Any] = {}
    writers: set[str] = set()

    def database() -> sqlite3.Connection:
        # Opened on the loop thread, with sqlite3's check_same_thread on.
        if "db" not in opened:
            opened["db"] = connect(tmp_path / "numbers.db")
            opened["db"].execute("CREATE TABLE number (n INTEGER)")
            opened["db"].commit()
        return opened["db"]

    def save(rows):
        writers.add(threading.current_thread().name)
        db = database()
        db.executemany("INSERT INTO number VALUES (?)", [(n,) for n in rows])
        db.commit()

    def finish(result):
        writers.add(threading.current_thread().name)
        return "/count"

    @app.servlet("/start")
    class Start:
        def do_POST(self, request):
            job = jobs.start(hand_over_rows, 20, on_part=save, on_done=finish)
            return jobs.redirect(job)

    @app.function("/count")
    def count():
        number = database().execute("SELECT count(*) FROM number").fetchone()[0]
        return Response.plain_text(str(number))

    server = kali_server(app)
    jobs.attach(server)
    try:
        request = urllib.request.Request(server.url + "start", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as reply:
            page_url = reply.url
            assert "/jobs/" in page_url and reply.status == 200
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            with urllib.request.urlopen(page_url + "/status", timeout=10) as reply:
                seen = json.load(reply)
            if seen["finished"] or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert seen["state"] == "done" and seen["result_url"] == "/count"
        with urllib.request.urlopen(server.url + "count", timeout=10) as reply:
            assert reply.read() == b"200"
        assert writers == {f"kali-{server.port}"}  # the server's own thread
    finally:
        closed = threading.Event()

        def close_database():
            if "db" in opened:
                opened.pop("db").close()
            closed.set()

        server.call_soon(close_database)  # on the thread that opened it
        assert closed.wait(WAIT_SECONDS)
        jobs.close()


# -- keeping, forgetting, shutting down ----------------------------------------


def test_finished_jobs_are_kept_for_a_while_then_forgotten(loop, make_jobs):
    jobs = make_jobs(keep_seconds=3600, max_kept=2)
    first = jobs.start(count_to, 1)
    loop.run_until(lambda: first.is_finished)
    client = Client(app_with(jobs, lambda: first))
    assert client.get(f"/jobs/{first.id}").status == 200
    jobs.keep_seconds = 0  # as if an hour had passed
    answer = client.get(f"/jobs/{first.id}")
    assert answer.status == 404 and "No such job" in answer.text
    assert client.get(f"/jobs/{first.id}/status").status == 404
    jobs.keep_seconds = 3600
    several = [jobs.start(count_to, 1) for _ in range(3)]
    loop.run_until(lambda: all(job.is_finished for job in several))
    kept = jobs.recent()
    assert len(kept) == 2 and kept == [several[2], several[1]]


def test_the_list_page_and_the_script(loop, make_jobs):
    jobs = make_jobs()
    job = jobs.start(count_to, 1, title="Import <b>")
    loop.run_until(lambda: job.is_finished)
    client = Client(app_with(jobs, lambda: job))
    listing = client.get("/jobs/")
    assert listing.status == 200
    assert f'<a href="/jobs/{job.id}">Import &lt;b&gt;</a>' in listing.text
    assert client.get("/jobs").status in (301, 302, 308)
    script = client.get(f"/jobs/{SCRIPT_NAME}")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "immutable" in script.headers["cache-control"]
    assert "textContent" in script.text and "innerHTML" not in script.text
    assert client.get("/jobs/nothing/here/at/all").status == 404
    assert client.post("/jobs/").status == 405


def test_a_layout_puts_the_job_page_into_the_apps_page(loop, make_jobs):
    def layout(request, title, content):
        return ["<html><body><nav>My app</nav><h2>", title, "</h2>", content]

    jobs = make_jobs(layout=layout)
    gate = threading.Semaphore(0)
    job = jobs.start(count_gated, 1, gate, title="T")
    client = Client(app_with(jobs, lambda: job))
    page = client.get(f"/jobs/{job.id}").text
    assert page.startswith("<html><body><nav>My app</nav><h2>T</h2><noscript>")
    gate.release()
    loop.run_until(lambda: job.is_finished)


def test_close_cancels_running_and_waiting_jobs_within_its_bound(loop, caplog):
    jobs = Jobs(max_running=2, cancel_grace_seconds=0.5)
    jobs.attach(loop)
    spinning = jobs.start(spin_until_cancelled)
    in_process = jobs.start(never_reports, 60.0, in_process=True)
    waiting = jobs.start(count_to, 5)
    loop.run_until(lambda: spinning.status()["message"] == "spinning")
    ours = {f"kali-job-{spinning.id}", f"kali-job-{in_process.id}"}
    workers = [t for t in threading.enumerate() if t.name in ours]
    assert len(workers) == 2
    time.sleep(0.2)
    jobs.close(timeout_seconds=10)
    assert not any(worker.is_alive() for worker in workers)
    assert [job.state for job in (spinning, in_process, waiting)] == ["cancelled"] * 3
    assert jobs.running() == 0
    with pytest.raises(RuntimeError, match="closed"):
        jobs.start(count_to, 1)
    jobs.close()  # twice is fine


def test_close_gives_up_on_a_thread_that_never_reports_with_a_warning(loop, caplog):
    jobs = Jobs()
    jobs.attach(loop)
    job = jobs.start(never_reports, 1.5)
    with caplog.at_level(logging.WARNING, logger="kali"):
        jobs.close(timeout_seconds=0.1)
    assert job.state == "cancelled"
    assert any("never report" in record.getMessage() for record in caplog.records)
    loop.run()  # its worker ends later; nothing of it runs any more


def test_shutdown_of_a_real_server_with_a_running_job(kali_server):
    with Jobs(cancel_grace_seconds=0.5) as jobs:
        app = Router()
        jobs.mount(app)
        server = kali_server(app)
        jobs.attach(server)
        job = jobs.start(spin_until_cancelled)
        process_job = jobs.start(never_reports, 60.0, in_process=True)
        with urllib.request.urlopen(
            server.url + f"jobs/{job.id}/status", timeout=10
        ) as reply:
            assert json.load(reply)["state"] == "running"
        assert jobs.running() == 2
        server.stop()
    assert job.state == process_job.state == "cancelled"
    ours = {f"kali-job-{job.id}", f"kali-job-{process_job.id}"}
    assert not [t for t in threading.enumerate() if t.name in ours]


# -- misuse --------------------------------------------------------------------


def test_misuse_is_refused_with_clear_errors(loop):
    jobs = Jobs()
    with pytest.raises(RuntimeError, match="attach"):
        jobs.start(count_to, 1)
    jobs.attach(loop)
    with pytest.raises(TypeError, match="callable"):
        jobs.start("count_to")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="module-level"):
        jobs.start(lambda progress: None, in_process=True)
    with pytest.raises(TypeError, match="call_soon"):
        jobs.attach(object())  # type: ignore[arg-type]
    for options in (
        {"prefix": "jobs"},
        {"max_running": 0},
        {"max_waiting": -1},
        {"keep_seconds": -1},
        {"poll_milliseconds": True},
    ):
        with pytest.raises(ValueError):
            Jobs(**options)
    jobs.close()


def test_too_many_waiting_jobs_get_a_503(loop, make_jobs):
    jobs = make_jobs(max_running=1, max_waiting=1)
    gate = threading.Semaphore(0)
    jobs.start(count_gated, 1, gate)
    jobs.start(count_to, 1)
    client = Client(app_with(jobs, lambda: jobs.start(count_to, 1)))
    answer = client.post("/start")
    assert answer.status == 503 and "Too many jobs" in answer.text
    gate.release()
    loop.run_until(lambda: jobs.running() == 0)
    no_queue = make_jobs(max_running=1, max_waiting=0)
    job = no_queue.start(count_gated, 1, gate)  # a free slot: it need not wait
    with pytest.raises(HTTPError):
        no_queue.start(count_to, 1)
    gate.release()
    loop.run_until(lambda: job.is_finished)


def test_progress_must_be_counted_in_ints(loop, make_jobs):
    def bad(progress):
        progress.report("1", 3)

    jobs = make_jobs()
    job = jobs.start(bad)
    loop.run_until(lambda: job.is_finished)
    assert job.state == "failed"


def test_cancelled_is_not_swallowed_by_except_exception(loop, make_jobs):
    def stubborn(progress):
        while True:
            try:
                progress.report(1)
            except Exception:  # a job's own error handling
                pass
            time.sleep(0.001)

    assert not issubclass(Cancelled, Exception)
    jobs = make_jobs()
    job = jobs.start(stubborn)
    loop.run_until(lambda: job.state == "running")
    jobs.cancel(job)
    loop.run_until(lambda: job.is_finished)
    assert job.state == "cancelled"


# -- the example ---------------------------------------------------------------


@pytest.fixture
def demo(loop, tmp_path):
    from examples import load_example

    module = load_example("jobs_demo")
    jobs = Jobs()
    jobs.attach(loop)
    app = module.make_app(tmp_path / "people.db", tmp_path, jobs, 20_000)
    try:
        yield module, jobs, Client(app)
    finally:
        jobs.close(timeout_seconds=10)
        app.guard.close()


def test_the_demo_imports_a_csv_file_batch_by_batch(loop, demo):
    module, jobs, client = demo
    answer = client.post("/import")
    assert answer.status == 303 and answer.location.startswith("/jobs/")
    job = jobs.recent()[0]
    assert "People: 0" in client.get("/").text  # the app answers meanwhile
    loop.run_until(lambda: job.is_finished)
    assert job.state == "done"
    home = client.get("/").text
    assert "People: 20,000" in home and "done" in home
    assert status(client, job)["result_url"] == "/"


def test_the_demo_undoes_a_cancelled_import(loop, demo):
    module, jobs, client = demo
    location = client.post("/import").location
    job = jobs.recent()[0]

    # The loop has not run: the job waits with two batches handed over.
    def two_batches_handed_over():
        seen = job.status()
        return seen["message"] == "Importing people" and seen["done"] >= 4000

    deadline = time.monotonic() + WAIT_SECONDS
    while not two_batches_handed_over() and time.monotonic() < deadline:
        time.sleep(0.01)
    loop.run()  # the loop saves those two batches; the job goes on
    saved = client.get("/").text
    assert "People: 4,000" in saved and "running" in saved
    assert client.post(location + "/cancel").status == 303
    loop.run_until(lambda: job.is_finished)
    assert job.state == "cancelled"
    home = client.get("/").text
    assert "People: 0" in home and "cancelled" in home


def test_the_demo_as_a_user_runs_it_with_a_process_job(tmp_path):
    """python examples/jobs_demo.py: the process job (spawned, so it imports
    the script as a module) imports the file, and Ctrl-C stops it all."""
    import os
    import signal
    import subprocess
    import sys
    import urllib.parse
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen(
        [sys.executable, str(root / "examples" / "jobs_demo.py")]
        + ["--port", "0", "--no-browser", "--rows", "3000"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root), "TMPDIR": str(tmp_path)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert process.stdout is not None
        url = next(
            line.split()[2] for line in process.stdout if line.startswith("Serving on ")
        )
        form = urllib.parse.urlencode({"process": "1"}).encode()
        with urllib.request.urlopen(url + "import", data=form, timeout=10) as reply:
            job_url = reply.url
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            with urllib.request.urlopen(job_url + "/status", timeout=10) as reply:
                seen = json.load(reply)
            if seen["finished"]:
                break
            time.sleep(0.05)
        assert seen["state"] == "done", seen
        with urllib.request.urlopen(url, timeout=10) as reply:
            assert "People: 3,000" in reply.read().decode()
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, errors
    assert "Traceback" not in errors, errors
    assert list(tmp_path.iterdir()) == []  # the temporary folder is gone


def wait_for(progress: Progress, event: threading.Event) -> str:
    while not event.wait(0.01):
        progress.check()
    return "done"


def test_quit_when_closed_waits_for_a_running_job():
    from kali.pagewatch import watch_pages
    from kali.server import Server

    release = threading.Event()
    with Jobs() as jobs:
        app = Router()
        jobs.mount(app)
        server = Server(app, address="127.0.0.1", port=0)
        server.bind()
        watcher = watch_pages(server, grace_seconds=0.3)
        jobs.attach(server)
        watcher.waiting_since = None  # as if its page had been open and closed
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            job = jobs.start(wait_for, release)
            assert server.is_busy()
            thread.join(2.0)  # many grace periods: the job holds it open
            assert thread.is_alive() and job.state == "running"
            release.set()
            thread.join(10.0)  # the job ends, then one grace period
            assert not thread.is_alive() and job.state == "done"
            assert not server.is_busy()
        finally:
            release.set()
            server.stop()
            thread.join(10)
