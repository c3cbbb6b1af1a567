"""kali.forms.guard: signed one-time form tokens, and how a Formlet uses them
(replays without cookies, a busy database), alone and in the datebook."""

import re
import sqlite3

import pytest

from examples import load_example
from kali import Response, Router
from kali.forms import Entry, Formlet, SubmitGuard, TokenState
from kali.forms.formlet import BUSY_MESSAGE
from kali.sessions import Sessions
from kali.testing import Client

SECRET = b"a secret of thirty-two bytes...."


class Clock:
    def __init__(self, now=1_700_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


# -- the tokens ---------------------------------------------------------------------


def test_tokens_are_signed_and_stateless():
    guard = SubmitGuard(secret=SECRET)
    tokens = [guard.issue() for _ in range(2000)]
    assert len(set(tokens)) == 2000
    assert "0 used" in repr(guard)  # nothing kept for a form only shown
    assert all(guard.state(token) is TokenState.PENDING for token in tokens)
    assert SECRET.hex() not in repr(guard) and "secret" not in repr(guard)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the signature
        lambda t: format(int(t.split(".")[0], 16) + 1, "x") + t[t.index(".") :],
        lambda t: t.split(".")[0] + ".AAAAAAAAAAAAAAAA." + t.split(".")[2],
        lambda t: t + "x",
        lambda t: " " + t,
        lambda t: "",
        lambda t: "....",
        lambda t: "zz." + t,
    ],
)
def test_a_changed_token_is_unknown(tamper):
    guard = SubmitGuard(secret=SECRET)
    assert guard.state(tamper(guard.issue())) is TokenState.UNKNOWN


def test_another_secret_or_field_name_does_not_verify():
    token = SubmitGuard(secret=SECRET).issue()
    assert SubmitGuard(secret=b"x" * 32).state(token) is TokenState.UNKNOWN
    other_field = SubmitGuard(secret=SECRET, field_name="once")
    assert other_field.state(token) is TokenState.UNKNOWN


def test_guards_sharing_a_secret_accept_each_others_tokens():
    """Two worker processes of one app each build their own guard."""
    one, two = SubmitGuard(secret=SECRET), SubmitGuard(secret=SECRET.decode())
    token = one.issue()
    assert two.state(token) is TokenState.PENDING
    two.complete(token, "saved")
    assert two.state(token) is TokenState.USED


def test_kali_secret_from_the_environment(monkeypatch):
    monkeypatch.setenv("KALI_SECRET", "the same in every worker process")
    assert SubmitGuard().state(SubmitGuard().issue()) is TokenState.PENDING


def test_a_per_process_secret_is_said_in_the_log(monkeypatch, caplog):
    monkeypatch.delenv("KALI_SECRET", raising=False)
    with caplog.at_level("INFO", logger="kali"):
        guard = SubmitGuard()
        assert not caplog.text  # not at import time, before "Listening on"
        token = guard.issue()
        guard.issue()
    assert caplog.text.count("only in this process") == 1
    assert SubmitGuard(secret=SECRET).state(token) is TokenState.UNKNOWN


def test_a_token_expires_after_max_age():
    clock = Clock()
    guard = SubmitGuard(secret=SECRET, max_age=3600, clock=clock)
    token = guard.issue()
    clock.now += 3600
    assert guard.state(token) is TokenState.PENDING
    clock.now += 1
    assert guard.state(token) is TokenState.UNKNOWN


def test_a_token_from_the_future_is_unknown():
    clock = Clock()
    early = SubmitGuard(secret=SECRET, clock=Clock(clock.now + 3600)).issue()
    slightly = SubmitGuard(secret=SECRET, clock=Clock(clock.now + 30)).issue()
    guard = SubmitGuard(secret=SECRET, clock=clock)
    assert guard.state(early) is TokenState.UNKNOWN
    assert guard.state(slightly) is TokenState.PENDING  # clocks differ a little


def test_used_tokens_are_forgotten_once_too_old_to_be_accepted():
    clock = Clock()
    guard = SubmitGuard(secret=SECRET, max_age=100, clock=clock)
    old = guard.issue()
    guard.complete(old, "first")
    clock.now += 101
    fresh = guard.issue()
    guard.complete(fresh, "second")
    assert "1 used" in repr(guard)
    assert guard.state(old) is TokenState.UNKNOWN  # expired anyway


def test_an_overflowing_record_never_accepts_a_used_token_again():
    clock = Clock()
    guard = SubmitGuard(secret=SECRET, max_used=3, clock=clock)
    tokens = []
    for _ in range(6):
        tokens.append(guard.issue())
        clock.now += 1
    waiting = guard.issue()  # a form still open, issued after all of them
    for token in tokens[:5]:
        guard.complete(token)
    assert "3 used" in repr(guard)
    # The two forgotten ones are refused as expired, never saved again...
    assert [guard.state(token) for token in tokens[:2]] == [TokenState.UNKNOWN] * 2
    assert all(guard.state(token) is TokenState.USED for token in tokens[2:5])
    # ...and so is a pending one issued before them; later ones are fine.
    assert guard.state(tokens[5]) is TokenState.PENDING
    assert guard.state(waiting) is TokenState.PENDING


# -- a Formlet with a guard ---------------------------------------------------------


def make_app(guard, save):
    router = Router()

    @router.servlet("/new")
    class New(Formlet):
        def __init__(self):
            super().__init__({"name": Entry(label="Name")}, guard=guard)

        def get_native(self):
            return {}

        def save(self, native, request):
            return save(native, request)

    return Sessions(SECRET).wrap(router)


def token_in(page):
    return re.search(r'name="submit_token" value="([^"]+)"', page.text).group(1)


def test_a_replay_is_a_fresh_copy_without_the_first_cookies():
    saved = []

    def save(native, request):
        saved.append(native["name"])
        request.session["last"] = native["name"]
        response = Response("<p>Saved</p>", code=201, headers={"x-saved": "yes"})
        return response.set_cookie("theme", "dark")

    client = Client(make_app(SubmitGuard(secret=SECRET), save))
    data = {"name": "Ada", "submit_token": token_in(client.get("/new"))}
    first = client.post("/new", data=data)
    assert first.status == 201 and len(first.headers.get_list("set-cookie")) == 2
    for _ in range(3):
        again = client.post("/new", data=data)
        assert (again.status, again.text, again.headers["x-saved"]) == (
            201,
            "<p>Saved</p>",
            "yes",
        )
        assert again.headers.get_list("set-cookie") == []
    assert saved == ["Ada"]


def test_a_busy_database_shows_the_form_as_typed():
    attempts = []

    def save(native, request):
        attempts.append(native["name"])
        if len(attempts) == 1:
            raise sqlite3.OperationalError("database is locked")
        return Response.redirect("/done")

    client = Client(make_app(SubmitGuard(secret=SECRET), save))
    token = token_in(client.get("/new"))
    page = client.post("/new", data={"name": "Zoë <b>", "submit_token": token})
    assert page.status == 503 and page.headers["retry-after"] == "1"
    assert BUSY_MESSAGE in page.text
    assert 'value="Zoë &lt;b&gt;"' in page.text and token_in(page) == token
    saved = client.post("/new", data={"name": "Zoë <b>", "submit_token": token})
    assert saved.status == 302 and attempts == ["Zoë <b>", "Zoë <b>"]


def test_other_database_errors_still_propagate():
    def save(native, request):
        raise sqlite3.OperationalError("no such table: person")

    client = Client(make_app(SubmitGuard(secret=SECRET), save))
    token = token_in(client.get("/new"))
    assert client.post("/new", data={"name": "x", "submit_token": token}).status == 500


# -- the datebook: a user's open form cannot be pushed out ---------------------------


def test_2000_cross_site_gets_do_not_expire_an_open_form(tmp_path):
    datebook = load_example("datebook")
    app = datebook.make_app(tmp_path / "book.sqlite3", tmp_path / "files")
    try:
        user = Client(app, error_page=datebook.error_page)
        token = token_in(user.get("/contacts/new"))
        attacker = Client(app)  # a page elsewhere, loading the form again and again
        cross_site = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors"}
        for _ in range(2000):
            assert attacker.get("/contacts/new", headers=cross_site).status == 200
        saved = user.post(
            "/contacts/new",
            data={
                "name": "Ada",
                "email": "",
                "phone": "",
                "birthday": "",
                "notes": "",
                "submit_token": token,
            },  # fmt: skip
        )
        assert saved.status == 302, saved.text
        count = app.guard.connections[0].execute("SELECT count(*) FROM contact")
        assert count.fetchone()[0] == 1
    finally:
        app.guard.close()
