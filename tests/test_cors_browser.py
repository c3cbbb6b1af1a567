"""CORS in a real headless Chromium (issue 17.2): three kali servers on
127.0.0.1, each its own origin. The API server invites the front-end's
origin only; a page there reads its JSON (a simple GET, a preflighted PUT
with a JSON body, a credentialed GET), while the same page served from the
third, uninvited origin is blocked by the browser, and its requests that
would change something never reach the API's handler."""

from __future__ import annotations

import json

import pytest

from kali.cors import CorsPolicy
from kali.handling import AppOptions
from kali.response import Response

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<title>front end</title></head><body><p>front end</p></body></html>"""

#: Run in the page: the outcome of one fetch, as text ("blocked" when the
#: browser refused to hand the answer to the page).
FETCH = """async (url, init) => {
    try {
        const response = await fetch(url, init);
        return response.status + " " + await response.text();
    } catch (error) {
        return "blocked: " + error.name;
    }
}"""


def front_end(request):
    return Response(PAGE)


def make_api(calls):
    def api(request):
        calls.append((request.command, request.headers.get("origin")))
        body = request.json() if request.command == "PUT" else None
        return Response.json(
            {
                "method": request.command,
                "body": body,
                "cookie": request.cookies.get("who"),
            }
        )

    return api


def fetch(page, url, init=None):
    return page.call(FETCH, url, init or {})


def test_only_the_invited_origin_reads_the_api(page, kali_server):
    invited = kali_server(front_end)
    uninvited = kali_server(front_end)
    invited_origin = f"http://127.0.0.1:{invited.port}"
    calls = []
    cors = CorsPolicy([invited_origin], credentials=True)
    api = kali_server(make_api(calls), options=AppOptions(cors=cors))
    url = f"http://127.0.0.1:{api.port}/api"
    put = {
        "method": "PUT",
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"name": "Zoë"}),
    }

    # -- from the invited origin: readable ----------------------------------------
    page.goto(invited.url)
    assert page.text("p") == "front end"
    status, _, text = fetch(page, url).partition(" ")
    assert status == "200", text
    assert json.loads(text)["method"] == "GET"

    status, _, text = fetch(page, url, put).partition(" ")
    assert status == "200", text
    assert json.loads(text) == {
        "method": "PUT",
        "body": {"name": "Zoë"},
        "cookie": None,
    }
    assert ("PUT", invited_origin) in calls  # the preflight went to kali, not the app
    assert not [call for call in calls if call[0] == "OPTIONS"]

    # Credentials: the browser sends the API's cookie (set here through a
    # same-origin visit) only because the API allows credentials.
    page.goto(f"http://127.0.0.1:{api.port}/api")
    page.evaluate("document.cookie = 'who=zoe; SameSite=Lax; path=/'")
    page.goto(invited.url)
    answer = fetch(page, url, {"credentials": "include"})
    assert answer.startswith("200 "), answer
    assert json.loads(answer[4:])["cookie"] == "zoe"

    # -- from another origin: blocked ----------------------------------------------
    calls.clear()
    page.goto(uninvited.url)
    assert fetch(page, url) == "blocked: TypeError"  # the GET ran, unreadable
    assert fetch(page, url, put) == "blocked: TypeError"  # its preflight got 403
    simple = {
        "method": "POST",
        "mode": "no-cors",
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        "body": "name=evil",
    }
    assert fetch(page, url, simple).startswith("0 ")  # opaque, as no-cors is
    assert calls == [("GET", f"http://127.0.0.1:{uninvited.port}")]
