"""The static_content and simple_task_list examples, page by page."""

import html
import importlib.util
import os
import re

import pytest

from kali.testing import Client

EXAMPLES = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"
)


def load(name):
    spec = importlib.util.spec_from_file_location(
        f"example_{name}", os.path.join(EXAMPLES, name + ".py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- static_content --------------------------------------------------------------------


@pytest.fixture
def static_client():
    return Client(load("static_content").make_app())


def test_static_listing_shows_the_examples(static_client):
    page = static_client.get("/")
    assert page.status == 200
    assert "<title>Showing Folder /</title>" in page.text
    assert '<a href="static_content.py">static_content.py</a>' in page.text
    assert '<a href="simple_task_list.py">simple_task_list.py</a>' in page.text
    assert "__pycache__" not in page.text


def test_static_serves_its_own_source(static_client):
    source = static_client.get("/static_content.py")
    assert source.status == 200
    assert source.headers["content-type"] == "text/x-python; charset=utf-8"
    with open(os.path.join(EXAMPLES, "static_content.py"), "rb") as handle:
        assert source.body == handle.read()
    again = static_client.get(
        "/static_content.py", headers={"If-None-Match": source.headers["etag"]}
    )
    assert again.status == 304
    part = static_client.get("/static_content.py", headers={"Range": "bytes=0-2"})
    assert part.status == 206 and part.body == b'"""'
    assert static_client.head("/static_content.py").body == b""


def test_static_refuses_the_rest(static_client):
    assert static_client.get("/../README.md").status == 404
    assert static_client.get("/%2e%2e/README.md", follow_redirects=True).status == 404
    assert static_client.get("/__pycache__/").status == 403
    assert static_client.get("/nope.py").status == 404
    assert static_client.post("/static_content.py").status == 405


def test_static_make_app_takes_a_folder(tmp_path):
    (tmp_path / "x.txt").write_text("x", encoding="utf-8")
    client = Client(load("static_content").make_app(str(tmp_path)))
    assert client.get("/x.txt").text == "x"


# -- simple_task_list ------------------------------------------------------------------


@pytest.fixture
def tasks():
    return Client(load("simple_task_list").make_app())


def titles(page):
    return [html.unescape(t) for t in re.findall(r"<span>(.*?)</span>", page.text)]


def test_task_list_home(tasks):
    page = tasks.get("/")
    assert page.status == 200
    assert "<title>Things to do</title>" in page.text
    assert titles(page) == ["Try kali", "Write a local app"]
    assert '<form method="post" action="/">' in page.text
    head = tasks.head("/")
    assert (
        head.body == b""
        and head.headers["content-length"] == page.headers["content-length"]
    )


def test_task_list_add_toggle_rename_delete(tasks):
    added = tasks.post("/", data={"title": "  Walk the dog  "})
    assert added.status == 302 and added.location == "/"
    assert titles(tasks.get("/"))[-1] == "Walk the dog"

    done = tasks.post("/task/3/toggle", follow_redirects=True)
    assert '<li class="done"><span>Walk the dog</span>' in done.text
    undone = tasks.post("/task/3/toggle", follow_redirects=True)
    assert '<li class=""><span>Walk the dog</span>' in undone.text

    form = tasks.get("/task/3/rename")
    assert form.status == 200 and 'value="Walk the dog"' in form.text
    renamed = tasks.post("/task/3/rename", data={"title": "Walk the cat"})
    assert renamed.status == 302
    assert titles(tasks.get("/"))[-1] == "Walk the cat"

    assert tasks.post("/task/1/delete").status == 302
    assert titles(tasks.get("/")) == ["Write a local app", "Walk the cat"]


def test_task_list_blank_title_comes_back_with_a_message(tasks):
    page = tasks.post("/", data={"title": "   "})
    assert page.status == 200
    assert "A task needs a title." in page.text
    assert len(titles(page)) == 2
    rename = tasks.post("/task/1/rename", data={"title": ""})
    assert rename.status == 200 and "A task needs a title." in rename.text
    assert titles(tasks.get("/"))[0] == "Try kali"


def test_task_list_escapes_what_users_type(tasks):
    tasks.post("/", data={"title": "<script>alert(1)</script>"})
    page = tasks.get("/")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_task_list_errors(tasks):
    assert tasks.get("/task/99/rename").status == 404
    assert tasks.post("/task/99/toggle").status == 404
    assert tasks.get("/task/1/toggle").status == 405  # POST only
    assert tasks.get("/task/1/toggle").headers["allow"] == "POST"
    assert tasks.get("/task/1/explode").status == 404
    assert tasks.get("/task/1/rename/more").status == 404
    assert tasks.put("/").status == 405
    assert tasks.put("/").headers["allow"] == "GET, HEAD, POST"
    assert tasks.get("/task/1").status == 302  # the service folder adds its slash
    assert tasks.get("/elsewhere").status == 404
    cross = tasks.post(
        "/", data={"title": "x"}, headers={"Origin": "http://evil.example"}
    )
    assert cross.status == 403
    assert len(titles(tasks.get("/"))) == 2


def test_each_app_is_independent():
    module = load("simple_task_list")
    first, second = Client(module.make_app()), Client(module.make_app())
    first.post("/", data={"title": "only here"})
    assert "only here" not in second.get("/").text
