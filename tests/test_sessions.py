"""kali.sessions: signed-cookie sessions through kali.testing's cookie jar."""

import base64
import json
import os
import stat

import pytest

from kali import HTTPError, Request, Response, Router
from kali.sessions import Session, Sessions, session_of
from kali.testing import Client, parse_set_cookie

#: The cookie's name for kali.testing's Client (Host 127.0.0.1:8080).
COOKIE = "kali-session-8080"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now=1_700_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


def make_router():
    """A two-step workflow: fill a form half-way, pick a contact, come back."""
    router = Router()

    def route(where):
        def register(handler):
            router.delegate(where, handler)
            return handler

        return register

    @route("/draft")
    def draft(request):
        return repr(sorted(request.session.get("draft", {}).items()))

    @router.servlet("/draft/save")
    class SaveDraft:
        def do_POST(self, request):
            request.session["draft"] = dict(request.POST.items())
            return Response.redirect("/contacts")

    @router.servlet("/contacts/pick")
    class Pick:
        def do_POST(self, request):
            draft = request.session.setdefault("draft", {})
            draft["contact"] = request.POST.get("contact")
            request.session.modified = True  # an in-place change: say so
            return Response.redirect("/draft")

    @route("/visits")
    def visits(request):
        session = session_of(request)
        session["visits"] = session.get("visits", 0) + 1
        return str(session["visits"])

    @route("/peek")
    def peek(request):
        return "new" if request.session.new else "known"

    @router.servlet("/logout")
    class Logout:
        def do_POST(self, request):
            request.session.clear()
            return Response.redirect("/")

    @route("/fail")
    def fail(request):
        request.session["visits"] = 1000
        raise HTTPError(400, "no")

    @route("/crash")
    def crash(request):
        request.session["visits"] = 1000
        raise RuntimeError("boom")

    @route("/iolist")
    def iolist(request):
        request.session["seen"] = True
        return ["an ", "iolist"]

    return router


def set_cookie_headers(page):
    return page.headers.get_list("set-cookie")


# -- round trips -----------------------------------------------------------------------


def test_a_workflow_round_trips_through_the_cookie_jar():
    client = Client(Sessions().wrap(make_router()))
    saved = client.post("/draft/save", data={"title": "Dentist", "day": "2024-05-01"})
    assert saved.status == 302
    [header] = set_cookie_headers(saved)
    assert header.startswith(f"{COOKIE}=")
    assert "; Path=/" in header and "; HttpOnly" in header
    assert "; SameSite=Lax" in header and "; Max-Age=1209600" in header  # 14 days
    assert client.post("/contacts/pick", data={"contact": "Ann"}).status == 302
    page = client.get("/draft")
    assert page.text == repr(
        [("contact", "Ann"), ("day", "2024-05-01"), ("title", "Dentist")]
    )
    assert not set_cookie_headers(page)  # unchanged: no cookie sent back


def test_counting_visits_and_new_sessions():
    client = Client(Sessions().wrap(make_router()))
    assert client.get("/peek").text == "new"
    assert [client.get("/visits").text for _ in range(3)] == ["1", "2", "3"]
    assert client.get("/peek").text == "known"
    other_browser = Client(client.handler)
    assert other_browser.get("/visits").text == "1"


def test_an_iolist_is_wrapped_and_gets_the_cookie():
    client = Client(Sessions().wrap(make_router()))
    page = client.get("/iolist")
    assert page.text == "an iolist" and COOKIE in client.cookies


def test_clearing_the_session_deletes_the_cookie():
    client = Client(Sessions().wrap(make_router()))
    client.get("/visits")
    assert COOKIE in client.cookies
    page = client.post("/logout")
    [header] = set_cookie_headers(page)
    assert header.startswith(f"{COOKIE}=;") and "Max-Age=0" in header
    assert COOKIE not in client.cookies
    assert client.get("/peek").text == "new"
    # Clearing a session the browser never had sends nothing.
    assert not set_cookie_headers(Client(client.handler).post("/logout"))


def test_nothing_is_saved_when_the_handler_raises():
    client = Client(Sessions().wrap(make_router()))
    client.get("/visits")
    failed = client.get("/fail")
    assert failed.status == 400 and not set_cookie_headers(failed)
    crashed = client.get("/crash")
    assert crashed.status == 500 and not set_cookie_headers(crashed)
    assert client.get("/visits").text == "2"


def test_options_reach_the_cookie():
    sessions = Sessions(
        cookie_name="app", max_age=600, same_site="Strict", path="/app", secure=True
    )
    client = Client(sessions.wrap(make_router()))
    [header] = set_cookie_headers(client.get("/visits"))
    assert header.startswith("app=")
    for part in ("Path=/app", "Max-Age=600", "HttpOnly", "SameSite=Strict", "Secure"):
        assert f"; {part}" in header


def test_the_cookie_value_is_signed_json_with_a_timestamp():
    clock = Clock()
    sessions = Sessions(b"k" * 32, clock=clock)
    value = sessions.encode({"name": "Zoë", "n": [1, 2]})
    payload, signature = value.split(".")
    text = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert json.loads(text) == [int(clock.now), {"name": "Zoë", "n": [1, 2]}]
    assert len(signature) == 43  # 32 bytes of HMAC-SHA256, unpadded
    assert sessions.decode(value) == {"name": "Zoë", "n": [1, 2]}
    # Same secret, same answer; a different cookie name does not verify.
    assert Sessions(b"k" * 32, clock=clock).decode(value) is not None
    assert Sessions(b"k" * 32, cookie_name="other").decode(value) is None


def test_session_of_without_the_middleware():
    with pytest.raises(RuntimeError, match="Sessions"):
        session_of(Request("GET", "/", "HTTP/1.0"))


# -- tampering -------------------------------------------------------------------------


def forge(value, data):
    """The same signature over different data."""
    issued = json.loads(base64.urlsafe_b64decode(value.split(".")[0] + "=" * 4))[0]
    text = json.dumps([issued, data], separators=(",", ":")).encode()
    payload = base64.urlsafe_b64encode(text).rstrip(b"=").decode()
    return payload + "." + value.split(".")[1]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda v: forge(v, {"visits": 1000}),
        lambda v: v[:-1] + ("A" if v[-1] != "A" else "B"),  # the signature
        lambda v: ("B" if v[0] != "B" else "C") + v[1:],  # the payload
        lambda v: v.split(".")[0],  # no signature
        lambda v: v + ".extra",
        lambda v: "",
        lambda v: "garbage",
        lambda v: "....",
        lambda v: "é" + v,
        lambda v: "%00" + v,
        lambda v: v * 3,
    ],
)
def test_a_tampered_cookie_reads_as_an_empty_session(tamper):
    client = Client(Sessions().wrap(make_router()))
    client.get("/visits")
    client.get("/visits")
    client.cookies[COOKIE] = tamper(client.cookies[COOKIE])
    assert client.get("/peek").text == "new"
    assert client.get("/visits").text == "1"  # never a 500


@pytest.mark.parametrize(
    "data",
    [
        "not a list",
        [1],
        [1, 2, 3],
        ["1700000000", {}],
        [True, {}],
        [1, ["x"]],
        [1, {}, 5],
        [1, {}, "not an id!"],
        [1, {}, "id", "more"],
    ],
)
def test_signed_but_malformed_payloads_read_as_empty(data):
    sessions = Sessions(b"s" * 32, clock=Clock(1))
    text = json.dumps(data).encode()
    payload = base64.urlsafe_b64encode(text).rstrip(b"=").decode()
    signature = sessions._signature("kali-session", payload)
    assert sessions.decode(f"{payload}.{signature}") is None
    bad_utf8 = base64.urlsafe_b64encode(b"\xff\xfe").rstrip(b"=").decode()
    signature = sessions._signature("kali-session", bad_utf8)
    assert sessions.decode(f"{bad_utf8}.{signature}") is None


# -- expiry ----------------------------------------------------------------------------


def test_a_session_expires_after_max_age():
    clock = Clock()
    client = Client(Sessions(max_age=3600, clock=clock).wrap(make_router()))
    assert client.get("/visits").text == "1"
    clock.now += 3600
    assert client.get("/visits").text == "2"  # saved again: a fresh hour
    clock.now += 3601
    # The browser should have dropped it (Max-Age); if it did not, or a copy
    # is replayed, the signed timestamp refuses it.
    assert client.get("/peek").text == "new"
    assert client.get("/visits").text == "1"


def test_the_timestamp_cannot_be_moved_without_the_secret():
    clock = Clock()
    sessions = Sessions(max_age=60, clock=clock)
    value = sessions.encode({"user": "ann"})
    clock.now += 120
    assert sessions.decode(value) is None
    payload = json.dumps([int(clock.now), {"user": "ann"}]).encode()
    moved = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    assert sessions.decode(moved + "." + value.split(".")[1]) is None


def test_an_active_session_is_refreshed_half_way_to_max_age():
    clock = Clock()
    client = Client(Sessions(max_age=100, clock=clock).wrap(make_router()))
    client.get("/visits")
    clock.now += 40
    assert not set_cookie_headers(client.get("/peek"))  # still young
    clock.now += 20
    refreshed = client.get("/peek")  # unmodified, but 60 s old: re-issued
    assert len(set_cookie_headers(refreshed)) == 1
    clock.now += 90  # 150 s after the first save, 90 after the refresh
    assert client.get("/peek").text == "known"
    assert client.get("/visits").text == "2"


def test_a_session_expires_after_14_days_by_default():
    clock = Clock()
    client = Client(Sessions(clock=clock).wrap(make_router()))
    client.get("/visits")
    clock.now += 13 * 86400
    assert client.get("/visits").text == "2"  # used: saved again
    clock.now += 14 * 86400 + 1
    assert client.get("/peek").text == "new"  # idle 14 days: refused
    assert client.get("/visits").text == "1"


def test_without_max_age_the_cookie_ends_with_the_browser_and_still_expires():
    clock = Clock()
    client = Client(Sessions(max_age=None, clock=clock).wrap(make_router()))
    [header] = set_cookie_headers(client.get("/visits"))
    assert "Max-Age" not in header  # the browser forgets it when it closes
    clock.now += 8 * 86400
    refreshed = client.get("/peek")  # unmodified, but past half its life
    assert client.get("/peek").text == "known"
    assert len(set_cookie_headers(refreshed)) == 1
    clock.now += 15 * 86400
    assert client.get("/peek").text == "new"  # never valid for ever


# -- size and values -------------------------------------------------------------------


def test_a_session_too_big_for_a_cookie_raises_and_is_not_dropped():
    sessions = Sessions(max_bytes=500)
    router = make_router()

    def big(request):
        request.session["blob"] = "x" * int(request.GET.get("size"))
        return "stored"

    router.delegate("/big", big)

    client = Client(sessions.wrap(router), raise_exceptions=True)
    assert client.get("/big", query={"size": "100"}).text == "stored"
    kept = client.cookies[COOKIE]
    with pytest.raises(ValueError, match="too big"):
        client.get("/big", query={"size": "1000"})
    assert client.cookies[COOKIE] == kept  # the old one is still there
    answered = Client(sessions.wrap(router)).get("/big", query={"size": "1000"})
    assert answered.status == 500 and not set_cookie_headers(answered)


def test_the_default_limit_fits_a_browser_cookie():
    sessions = Sessions()
    value = sessions.encode({"blob": "x" * 2800})
    assert len("kali-session-65535=" + value) <= 4000
    with pytest.raises(ValueError):
        sessions.encode({"blob": "x" * 3000})


@pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes", float("nan")])
def test_values_must_be_json(value):
    with pytest.raises(TypeError, match="JSON"):
        Sessions().encode({"x": value})


def test_json_turns_tuples_into_lists():
    sessions = Sessions()
    assert sessions.decode(sessions.encode({"t": (1, 2)})) == {"t": [1, 2]}


# -- the Session dict ------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.__setitem__("a", 2),
        lambda s: s.__delitem__("a"),
        lambda s: s.clear(),
        lambda s: s.pop("a"),
        lambda s: s.popitem(),
        lambda s: s.setdefault("b", 1),
        lambda s: s.update(b=1),
        lambda s: s.__ior__({"b": 1}),
    ],
)
def test_session_notices_changes(change):
    session = Session({"a": 1}, new=False)
    assert not session.modified and not session.new
    change(session)
    assert session.modified


@pytest.mark.parametrize(
    "look",
    [
        lambda s: s.get("a"),
        lambda s: s.pop("missing", None),
        lambda s: s.setdefault("a", 5),
        lambda s: s["a"],
        lambda s: dict(s),
    ],
)
def test_session_reads_are_not_changes(look):
    session = Session({"a": 1})
    look(session)
    assert not session.modified
    assert "unmodified" in repr(session) and "new" in repr(session)


# -- secrets ---------------------------------------------------------------------------


def test_a_per_launch_secret_differs_each_time(monkeypatch):
    monkeypatch.delenv("KALI_SECRET", raising=False)
    first, second = Sessions(), Sessions()
    value = first.encode({"user": "ann"})
    assert first.decode(value) == {"user": "ann"}
    assert second.decode(value) is None
    assert first._secret != second._secret and len(first._secret) == 32
    assert first._secret.hex() not in repr(first)


def test_str_and_bytes_secrets_agree():
    value = Sessions("a secret phrase").encode({"x": 1})
    assert Sessions(b"a secret phrase").decode(value) == {"x": 1}


@pytest.mark.parametrize(
    "options",
    [
        {"secret": b""},
        {"cookie_name": "bad name"},
        {"cookie_name": ""},
        {"max_age": 0},
        {"max_age": -5},
        {"same_site": "None"},
        {"same_site": "lax"},
        {"path": "relative"},
        {"path": "/a;b"},
        {"max_bytes": 10},
    ],
)
def test_bad_options_are_refused(options):
    with pytest.raises(ValueError):
        Sessions(**options)


@pytest.mark.parametrize("options", [{"secret": 42}, {"max_age": 1.5}])
def test_bad_option_types_are_refused(options):
    with pytest.raises((TypeError, ValueError)):
        Sessions(**options)


def test_a_persisted_secret_survives_a_restart(tmp_path):
    path = tmp_path / "session.key"
    secret = Sessions.load_secret(path)
    assert len(secret) == 32 and path.read_bytes() == secret
    assert Sessions.load_secret(path) == secret
    value = Sessions(secret).encode({"user": "ann"})
    restarted = Sessions(Sessions.load_secret(str(path)))
    assert restarted.decode(value) == {"user": "ann"}
    assert [p.name for p in tmp_path.iterdir()] == ["session.key"]  # no temp files


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_a_persisted_secret_is_private(tmp_path):
    old_umask = os.umask(0o022)
    try:
        path = tmp_path / "session.key"
        Sessions.load_secret(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        path.chmod(0o644)
        Sessions.load_secret(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old_umask)


def test_a_damaged_secret_file_is_replaced(tmp_path):
    path = tmp_path / "session.key"
    path.write_bytes(b"short")
    secret = Sessions.load_secret(path)
    assert len(secret) == 32 and path.read_bytes() == secret
    path.write_bytes(b"")
    assert Sessions.load_secret(path) != secret


def test_load_secret_does_not_create_folders(tmp_path):
    with pytest.raises(OSError):
        Sessions.load_secret(tmp_path / "missing" / "session.key")
    assert not (tmp_path / "missing").exists()


def test_parse_set_cookie_sees_the_deletion():
    sessions = Sessions()
    response = Response("x")
    request = Request("GET", "/", "HTTP/1.0", {"cookie": "kali-session=abc"})
    session = sessions.load(request)
    assert session.new
    session.clear()
    sessions.save(session, request, response)
    header = response.get_header("set-cookie")
    assert parse_set_cookie(header) == ("kali-session", "", True)


def test_inside_a_transaction_guard_a_refused_request_saves_no_session():
    from kali.sqlite import connect, transaction_guard

    db = connect(":memory:")
    try:
        db.execute("CREATE TABLE t (x)")

        def handler(request):
            request.session["step"] = request.path[-1]
            db.execute("INSERT INTO t VALUES (1)")
            if request.path[-1] == "commit":
                db.commit()
            return "ok"

        client = Client(transaction_guard(Sessions().wrap(handler), db))
        assert client.get("/commit").status == 200
        kept = client.cookies[COOKIE]
        forgot = client.get("/forget")
        assert forgot.status == 500 and not set_cookie_headers(forgot)
        assert client.cookies[COOKIE] == kept
    finally:
        db.close()


# -- the cookie's name: one per app ----------------------------------------------------


def test_two_apps_on_one_host_keep_their_own_sessions():
    """A browser sends 127.0.0.1's cookies to every port: with one shared
    cookie name, the second app would overwrite the first app's session."""
    first = Client(Sessions(b"1" * 32).wrap(make_router()), port=8080)
    second = Client(Sessions(b"2" * 32).wrap(make_router()), port=9090)
    second.cookies = first.cookies  # one browser, one jar for the host name
    assert first.get("/visits").text == "1"
    assert second.get("/visits").text == "1"
    assert first.get("/visits").text == "2"  # not overwritten by the other app
    assert second.get("/visits").text == "2"
    assert set(first.cookies) == {"kali-session-8080", "kali-session-9090"}


def test_the_cookie_is_named_after_the_app_id_or_the_given_name():
    by_id = Client(Sessions(app_id="notes").wrap(make_router()))
    by_id.get("/visits")
    assert list(by_id.cookies) == ["kali-session-notes"]
    named = Sessions(cookie_name="mine", app_id="notes")
    assert named.cookie_name == "mine"
    with pytest.raises(ValueError, match="cookie name"):
        Sessions(app_id="two words")


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("127.0.0.1:8080", "kali-session-8080"),
        ("[::1]:9000", "kali-session-9000"),
        ("localhost", "kali-session"),
        ("example.org:99999", "kali-session"),  # not a port
        ("", "kali-session"),
    ],
)
def test_the_port_comes_from_the_host_header(host, name):
    headers = {"host": host} if host else {}
    assert Sessions().name_for(Request("GET", "/", "HTTP/1.1", headers)) == name


def test_a_cookie_moved_to_another_name_does_not_verify():
    sessions = Sessions(b"k" * 32)
    value = sessions.encode({"user": "ann"}, "kali-session-8080")
    assert sessions.decode(value, "kali-session-8080") == {"user": "ann"}
    assert sessions.decode(value, "kali-session-9090") is None


# -- the session id --------------------------------------------------------------------


def id_router():
    router = Router()
    router.delegate("/id", lambda request: request.session.id)
    router.delegate("/has-id", lambda request: str(request.session.has_id))

    @router.servlet("/logout")
    class Logout:
        def do_POST(self, request):
            request.session.clear()
            return Response.redirect("/")

    return router


def test_a_session_id_is_made_once_and_kept_in_the_signed_cookie():
    client = Client(Sessions().wrap(id_router()))
    assert client.get("/has-id").text == "False"
    first = client.get("/id")
    assert len(first.text) == 24 and set_cookie_headers(first)  # saved
    again = client.get("/id")
    assert again.text == first.text and not set_cookie_headers(again)
    assert client.get("/has-id").text == "True"
    assert Client(client.handler).get("/id").text != first.text  # another browser
    client.post("/logout")  # clear() forgets the id: the cookie goes
    assert COOKIE not in client.cookies
    assert client.get("/id").text != first.text


def test_a_session_id_cannot_be_chosen_by_the_browser():
    sessions = Sessions(b"k" * 32)
    client = Client(sessions.wrap(id_router()))
    real = client.get("/id").text
    payload = base64.urlsafe_b64encode(
        json.dumps([1_700_000_000, {}, "chosen-by-me"]).encode()
    ).rstrip(b"=")
    signature = client.cookies[COOKIE].split(".")[1]
    client.cookies[COOKIE] = payload.decode() + "." + signature
    assert client.get("/id").text not in (real, "chosen-by-me")


# -- where the secret comes from -------------------------------------------------------


def test_without_a_secret_kali_secret_is_used(monkeypatch):
    monkeypatch.setenv("KALI_SECRET", "one secret for every worker")
    value = Sessions().encode({"user": "ann"})
    assert Sessions().decode(value) == {"user": "ann"}  # another process, same key
    assert Sessions(b"one secret for every worker").decode(value) == {"user": "ann"}


def test_a_per_process_secret_is_said_in_the_log(monkeypatch, caplog):
    monkeypatch.delenv("KALI_SECRET", raising=False)
    with caplog.at_level("INFO", logger="kali"):
        Sessions()
    assert "this process only" in caplog.text and "KALI_SECRET" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="kali"):
        Sessions(b"k" * 32)
    assert not caplog.text
