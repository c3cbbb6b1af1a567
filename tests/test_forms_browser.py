"""A real headless Chromium fills the example's contact form with non-ASCII
text, submits it with an error, finds every input kept, fixes it and saves."""

from __future__ import annotations

import pytest

from examples import load_example

pytestmark = pytest.mark.browser


NAME = "Zoë Ångström 中文 🐍 <b>&amp;</b>"
NOTES = "Café ☕\nsecond line — ünïcödé\n\n  indented"


def selected_groups(page):
    return page.evaluate(
        "[...document.querySelector('#groups').selectedOptions].map(o => o.value)"
    )


def test_contact_form_keeps_input_across_an_error_then_saves(
    page, kali_server, tmp_path
):
    server = kali_server(load_example("contacts_form").make_app(str(tmp_path)))
    page.goto(server.url + "new")
    # The first field asks for focus (whether a background tab gets it is up
    # to the browser, so check the attribute rather than the focus).
    assert page.evaluate("document.querySelector('#name').autofocus") is True

    # Clicking a label focuses (or ticks) its field: the id/label wiring.
    page.click("label[for=notes]")
    assert page.evaluate("document.activeElement.id") == "notes"

    page.fill("#name", NAME)
    page.fill("#email", "zoe@example.org")
    page.fill("#notes", NOTES)
    page.fill("#budget", "12.50")
    page.set_value("#birthday", "2999-01-01")  # in the future: refused
    page.click("label[for=kind-2]")  # "work"
    page.click("label[for=newsletter]")
    page.call(
        """() => {
            for (const option of document.querySelector('#groups').options)
                option.selected = option.value !== 'book club'
                    && option.value !== 'neighbours';
        }"""
    )
    assert page.evaluate("document.querySelector('#kind-2').checked") is True
    page.submit("form")

    # The server refused the birthday and sent everything back as typed.
    assert "Birthday" in page.text("ul.errors")
    assert "is in the future." in page.text("ul.errors")
    assert page.value("#name") == NAME
    assert page.value("#email") == "zoe@example.org"
    assert page.value("#notes") == NOTES
    assert page.value("#budget") == "12.50"
    assert page.value("#birthday") == "2999-01-01"
    assert page.evaluate("document.querySelector('#kind-2').checked") is True
    assert page.evaluate("document.querySelector('#newsletter').checked") is True
    assert selected_groups(page) == ["climbing", "choir"]

    # Fix the one mistake and save with a real click on the button.
    page.set_value("#birthday", "1990-02-03")
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.evaluate("location.pathname") == "/"
    assert page.text("table a") == NAME
    assert "1990-02-03" in page.text("table")

    # The stored record comes back exactly, through the edit form.
    page.goto(server.url + "edit/1")
    assert page.value("#name") == NAME
    assert page.value("#notes") == NOTES
    assert page.value("#budget") == "12.50"
    assert page.evaluate("document.querySelector('#kind-2').checked") is True
    assert selected_groups(page) == ["climbing", "choir"]
    assert page.failures == []
