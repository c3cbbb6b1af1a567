"""A job's page in a real headless Chromium: started from a form, its
progress bar updates in place (no reload) as the job counts, the result link
appears at the end, the cancel button works, and without JavaScript the
<noscript> refresh takes over."""

from __future__ import annotations

import threading

import pytest

from kali import Router
from kali.jobs import Jobs, Progress

pytestmark = pytest.mark.browser

STEPS = 4


def count_gated(progress: Progress, total: int, gate: threading.Semaphore) -> int:
    progress.report(0, total, "starting")
    for number in range(1, total + 1):
        gate.acquire()
        progress.report(number, total, f"counted {number}")
    return total


@pytest.fixture
def job_app(kali_server):
    """``(server, jobs, gate)``: an app whose form starts a gated counting job."""
    gate = threading.Semaphore(0)
    jobs = Jobs(poll_milliseconds=100)
    app = Router()
    jobs.mount(app)

    @app.function("/")
    def home():
        return (
            "<!DOCTYPE html><title>Home</title>"
            '<form method="post" action="/start"><button>Count</button></form>'
        )

    @app.servlet("/start")
    class Start:
        def do_POST(self, request):
            job = jobs.start(count_gated, STEPS, gate, title="Counting", result_url="/")
            return jobs.redirect(job)

    server = kali_server(app)
    jobs.attach(server)
    try:
        yield server, jobs, gate
    finally:
        for _ in range(STEPS * 2):  # let any job still counting finish
            gate.release()
        jobs.close()


def count_text(page) -> str:
    return page.evaluate("document.querySelector('[data-job-count]').textContent")


def test_the_progress_bar_updates_without_a_reload(page, job_app):
    server, jobs, gate = job_app
    page.goto(server.url)
    page.submit("form")
    assert page.evaluate("location.pathname").startswith("/jobs/")
    page.wait_for(
        "document.querySelector('[data-job-message]').textContent === 'starting'"
    )
    page.evaluate("window.keptAcrossUpdates = 42")
    loads = len(page.event_params("Page.loadEventFired"))

    for number in range(1, STEPS + 1):
        gate.release()
        page.wait_for(
            "document.querySelector('[data-job-count]').textContent"
            f" === '{number} of {STEPS}'"
        )
        assert page.evaluate("document.querySelector('progress').value") == (
            number * 100 // STEPS
        )

    page.wait_for("document.querySelector('[data-kali-job]').dataset.state === 'done'")
    assert page.evaluate("window.keptAcrossUpdates") == 42  # the same document
    assert len(page.event_params("Page.loadEventFired")) == loads  # no reload
    assert (
        int(page.evaluate("document.querySelector('[data-kali-job]').dataset.updates"))
        >= 3
    )
    assert page.text("[data-job-state]") == "Done."
    assert page.evaluate(
        "document.querySelector('[data-job-result]').offsetParent !== null"
    )
    assert page.evaluate("document.querySelector('[data-job-result]').pathname") == "/"
    assert page.evaluate("document.querySelector('[data-job-cancel]').hidden")
    assert not [line for line in page.console if line.startswith("exception")]


def test_the_cancel_button_cancels_the_job(page, job_app):
    server, jobs, gate = job_app
    page.goto(server.url)
    page.submit("form")
    page.wait_for(
        "document.querySelector('[data-job-message]').textContent === 'starting'"
    )
    with page.expect_navigation():
        page.click("[data-job-cancel] button")
    assert page.text("[data-job-state]") == "Cancelling."
    gate.release()  # the job's next report notices the cancel
    page.wait_for(
        "document.querySelector('[data-kali-job]').dataset.state === 'cancelled'"
    )
    assert page.text("[data-job-state]") == "Cancelled."
    assert jobs.recent()[0].state == "cancelled"


def test_without_javascript_the_page_refreshes_itself(page, job_app):
    server, jobs, gate = job_app
    page.send("Emulation.setScriptExecutionDisabled", {"value": True})
    job = jobs.start(count_gated, STEPS, gate, title="No script")
    page.goto(server.url + f"jobs/{job.id}")
    gate.release()

    def reload_until(text: str) -> None:
        for _ in range(10):  # each refresh comes after NOSCRIPT_REFRESH_SECONDS
            if count_text(page) == text:
                return
            mark = len(page.events)
            page.wait_for_event("Page.loadEventFired", after=mark, timeout=10)
        raise AssertionError(f"the page never showed {text!r}")

    reload_until(f"1 of {STEPS}")
    assert (
        page.evaluate("document.querySelector('[data-kali-job]').dataset.updates")
        is None
    )
    for _ in range(STEPS - 1):
        gate.release()
    reload_until(f"{STEPS} of {STEPS}")
    if page.text("[data-job-state]") != "Done.":
        page.wait_for_event("Page.loadEventFired", after=len(page.events), timeout=10)
    assert page.text("[data-job-state]") == "Done."
    assert "http-equiv" not in page.content()  # a finished job stops refreshing
