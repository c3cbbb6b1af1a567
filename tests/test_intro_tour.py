"""examples/intro.py, the guided tour: every page answers, each step links
the next and shows its own code from the file, the links on a step run that
code, bad input is a 400, and only a POST stops the server."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from examples import load_example
from kali.testing import Client

ROOT = Path(__file__).resolve().parents[1]
intro = load_example("intro")
PAGES = ["/"] + [f"/step/{n}" for n in range(1, len(intro.STEPS) + 1)]


@pytest.fixture
def client():
    return Client(intro.make_app())


def links(page):
    return re.findall(r'<a [^>]*href="([^"]*)"', page.text)


def next_link(page):
    found = re.findall(r'<a [^>]*rel="next" href="([^"]*)"', page.text)
    assert len(found) == 1, page.text
    return found[0]


def shown_code(page):
    """The code panel's text, as a reader sees it."""
    block = re.search(r'<pre class="code"><code>(.*?)</code></pre>', page.text, re.S)
    assert block is not None, page.text
    return html.unescape(re.sub(r"<[^>]+>", "", block.group(1))).rstrip("\n")


def test_there_are_six_steps_each_with_its_code():
    code = intro.read_steps((ROOT / "examples" / "intro.py").read_text("utf-8"))
    assert sorted(code) == list(range(1, len(intro.STEPS) + 1)) == [1, 2, 3, 4, 5, 6]
    assert all(text.strip() for text in code.values())
    # The tour's own machinery is in no step.
    assert not any("add_tour" in text for text in code.values())


@pytest.mark.parametrize("path", PAGES)
def test_every_page_of_the_tour_answers(client, path):
    page = client.get(path)
    assert page.status == 200 and page.content_type == "text/html"
    assert page.text.startswith("<!DOCTYPE html>")
    assert '<link rel="stylesheet"' not in page.text  # one file: the CSS is inline
    assert not re.search(r'(src|href)="(https?:)?//', page.text)  # nothing external


def test_the_tour_runs_from_the_start_to_the_last_step_and_back(client):
    visited = []
    path = "/"
    while path not in visited:
        visited.append(path)
        page = client.get(path)
        assert page.status == 200
        path = next_link(page)
    assert visited == PAGES
    assert path == "/"  # the last step ends at a link back to the start


@pytest.mark.parametrize("number", range(1, 7))
def test_a_step_shows_its_code_and_runs_it(client, number):
    step = intro.STEPS[number - 1]
    page = client.get(f"/step/{number}")
    assert f"Step {number} of 6" in page.text
    code = shown_code(page)
    assert code == intro.read_steps(Path(intro.__file__).read_text("utf-8"))[number]
    # The frame opens the step's first address, and every address it offers
    # is a route of this step's code, answered by the app.
    first = html.escape(step.paths[0])
    assert f'<iframe name="result" src="{first}"' in page.text
    for path in step.paths:
        assert f'href="{html.escape(path)}" target="result"' in page.text
        route = "/" + path.split("?")[0].split("/")[1]
        if route != "/no":  # the one address that nobody serves
            assert re.search(rf'@app\.\w+\("{re.escape(route)}[/"]', code), route
        assert client.get(path).status in (200, 400, 404, 405, 500)


@pytest.mark.parametrize("step", intro.STEPS, ids=lambda step: step.title)
def test_the_readme_sections_a_step_names_exist(step):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    headings = re.findall(r"^#+ (.*)$", readme, re.M)
    chapter, section = step.readme
    assert any(heading.startswith(chapter) for heading in headings), chapter
    assert any(section in heading for heading in headings), section


def test_each_example_does_what_its_step_says(client):
    plain = client.get("/plain")
    assert plain.content_type == "text/plain" and "<b>Not bold</b>" in plain.text
    assert "<h1>Hello, World!</h1>" in client.get("/hello/World").text
    tag = client.get("/hello/%3Cscript%3E")
    assert "&lt;script&gt;" in tag.text and "<script>" not in tag.text
    form = client.get("/greet").form()
    form["name"] = "Zoë"
    assert "Hello, Zoë!" in form.submit().text
    assert "Please type a name." in client.post("/greet", data={"name": " "}).text
    assert client.get("/oops").status == 500
    missing = client.get("/book/7")
    assert missing.status == 404 and "There is no book number 7 here." in missing.text
    assert client.get("/book/abc").status == 404


def test_adding_up(client):
    page = client.get("/add", query={"a": "2", "b": "40"})
    assert page.status == 200 and "2 + 40 = <strong>42</strong>" in page.text
    empty = client.get("/add")
    assert empty.status == 200 and "=" not in re.sub(r"<[^>]*>", "", empty.text)


@pytest.mark.parametrize(
    "query, field, message",
    [
        ({"a": "x", "b": "40"}, "a", "is not a whole number."),
        ({"a": "2", "b": "4.5"}, "b", "is not a whole number."),
        ({"a": "2"}, "b", "may not be blank."),
        ({"a": "1" * 400, "b": ""}, "b", "may not be blank."),
    ],
)
def test_adding_up_bad_input_is_a_400_with_a_message(client, query, field, message):
    page = client.get("/add", query=query)
    assert page.status == 400
    assert f'<span class="error" id="{field}-error">{message}</span>' in page.text
    assert page.form()["a"] == query["a"]  # what was typed is kept


def test_typing_letters_into_the_form_is_a_400(client):
    form = client.get("/add").form()
    assert form.method == "GET"
    form["a"], form["b"] = "x", "2"
    answer = form.submit()
    assert answer.status == 400 and "is not a whole number." in answer.text
    assert answer.url == "/add?a=x&b=2"


def test_quit_is_a_post_only(client):
    refused = client.get("/quit")
    assert refused.status == 405 and refused.headers["Allow"] == "POST"
    assert not refused.response.shut_down
    bye = client.post("/quit")
    assert bye.status == 200 and bye.response.shut_down
    assert "The server has stopped" in bye.text


@pytest.mark.parametrize("path", PAGES)
def test_every_page_offers_quit_as_a_button_that_posts(client, path):
    page = client.get(path)
    quit_form = page.form(0)  # in the bar at the top
    assert quit_form.method == "POST" and quit_form.action == "/quit"
    # A link to /quit (the last step shows one) is a GET: it cannot stop it.
    for href in links(page):
        if href.startswith("/quit"):
            answer = client.get(href)
            assert answer.status == 405 and not answer.response.shut_down


def test_the_last_step_has_a_quit_button_beside_its_code(client):
    page = client.get("/step/6")
    assert len(page.forms) == 2 and page.form(1).action == "/quit"
    answer = page.form(1).submit()
    assert answer.response.shut_down


def test_a_step_that_does_not_exist_is_a_404(client):
    assert client.get("/step/7").status == 404
    assert client.get("/step/0").status == 404
    assert client.get("/step/first").status == 404
