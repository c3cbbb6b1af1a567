"""The intro's guided tour in a real headless Chromium: from the welcome page
through the first four steps, using the live frame beside the code as a
user would, then Quit."""

from __future__ import annotations

import pytest

from examples import load_example

pytestmark = pytest.mark.browser

FRAME = "document.querySelector('iframe[name=result]')"


def click_and_wait(page, selector):
    with page.expect_navigation():
        page.click(selector)


def path_of(page):
    return page.evaluate("location.pathname + location.search")


def wait_for_frame(page, path, text):
    """Wait until the frame shows ``path`` with ``text`` in it; its text."""
    return page.wait_for(
        f"""(() => {{
            const frame = {FRAME}.contentWindow;
            const body = frame.document.body;
            if (frame.location.pathname + frame.location.search !== {path!r}
                || !body || frame.document.readyState !== "complete") return "";
            return body.innerText.includes({text!r}) ? body.innerText : "";
        }})()"""
    )


def in_frame(page, script):
    """Run ``script`` with ``doc`` bound to the frame's document."""
    return page.evaluate(f"(doc => {{ {script} }})({FRAME}.contentDocument)")


def test_the_first_steps_of_the_tour(page, kali_server):
    server = kali_server(load_example("intro").make_app())
    page.set_viewport(1280, 900)
    page.goto(server.url)
    assert page.text("h1") == "Welcome to kali"
    # The datebook's look: its dark bar and its blue primary button.
    bar = "getComputedStyle(document.querySelector('header.top')).backgroundColor"
    assert page.evaluate(bar) == "rgb(31, 36, 48)"
    button = "getComputedStyle(document.querySelector('a[rel=next]')).backgroundColor"
    assert page.evaluate(button) == "rgb(61, 90, 254)"

    # -- Step 1: the code, and beside it what it answers ------------------------
    click_and_wait(page, "a[rel=next]")
    assert path_of(page) == "/step/1"
    assert page.text("h1") == "A handler is a function"
    assert '@app.function("/plain")' in page.text("pre.code")
    wait_for_frame(page, "/plain", "Just text. <b>Not bold</b>: not HTML.")
    assert page.text("header nav a.current") == "1"

    # -- Step 2: a link beside the code runs it in the frame ----------------------
    click_and_wait(page, "a[rel=next]")
    assert path_of(page) == "/step/2"
    wait_for_frame(page, "/hello/World", "Hello, World!")
    page.click("a[href='/hello/%3Cscript%3E'][target=result]")
    wait_for_frame(page, "/hello/%3Cscript%3E", "Hello, <script>!")
    assert in_frame(page, "return doc.querySelector('script') === null")
    assert path_of(page) == "/step/2"  # the tour page itself stays

    # -- Step 3: a form posted from inside the frame --------------------------------
    click_and_wait(page, "a[rel=next]")
    wait_for_frame(page, "/greet", "Your name")
    in_frame(
        page,
        "doc.querySelector('input[name=name]').value = 'Zoë 中文';"
        "doc.querySelector('form').requestSubmit();",
    )
    wait_for_frame(page, "/greet", "Hello, Zoë 中文!")

    # -- Step 4: letters where a number belongs: a message, not a crash --------------
    click_and_wait(page, "a[rel=next]")
    assert page.text("h1") == "Checking input"
    wait_for_frame(page, "/add?a=2&b=40", "2 + 40 = 42")
    in_frame(
        page,
        "doc.querySelector('#a').value = 'x';"
        "doc.querySelector('form').requestSubmit();",
    )
    shown = wait_for_frame(page, "/add?a=x&b=40", "is not a whole number.")
    assert "42" not in shown
    assert in_frame(page, "return doc.querySelector('#a').value") == "x"
    statuses = {
        response["response"]["url"].split("/", 3)[-1]: response["response"]["status"]
        for response in page.event_params("Network.responseReceived")
    }
    assert statuses["add?a=x&b=40"] == 400

    # -- Quit, from the bar at the top: a POST, and the server stops -------------------
    click_and_wait(page, "button.quit")
    assert path_of(page) == "/quit"
    assert page.text("h1") == "Goodbye"
    assert "The server has stopped" in page.text("main")
