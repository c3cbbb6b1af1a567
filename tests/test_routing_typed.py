"""Typed path values, the ``request`` parameter and ``url_for`` (kali.routing).

This module uses ``from __future__ import annotations`` on purpose: every
annotation below is a string that the Router resolves at registration.
"""

from __future__ import annotations

import decimal
import enum
import functools
import typing
import uuid

import pytest

from kali.request import Request
from kali.response import Response
from kali.routing import Router, Servlet, SignedInt
from kali.testing import Client

hypothesis = pytest.importorskip("hypothesis")
strategies = hypothesis.strategies


class Status(enum.Enum):
    OPEN = "open"
    DONE = "done"


class Priority(enum.Enum):
    LOW = 1
    HIGH = 2


UserId = typing.NewType("UserId", int)


def slug(text: str) -> str:
    """A custom converter: lower-case words joined by '-'."""
    if not text or not all(c.islower() or c.isdigit() or c == "-" for c in text):
        raise ValueError("not a slug")
    return text


class Point:
    """A custom converter class with to_url: '3,4' <-> Point(3, 4)."""

    def __init__(self, text: str) -> None:
        x, comma, y = text.partition(",")
        if not comma:
            raise ValueError("not a point")
        self.x, self.y = int(x), int(y)  # int() raises ValueError too

    @staticmethod
    def to_url(point: Point) -> str:
        return f"{point.x},{point.y}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


def broken(text: str) -> str:
    raise TypeError("a bug in the converter")


@pytest.fixture
def typed():
    """A router with one typed @function per converter; ``seen`` collects
    what each call received."""
    router = Router()
    seen = []

    @router.function("/int/*")
    def natural(n: int):
        seen.append(n)
        return "ok"

    @router.function("/signed/*")
    def signed(n: SignedInt):
        seen.append(n)
        return "ok"

    @router.function("/float/*")
    def number(x: float):
        seen.append(x)
        return "ok"

    @router.function("/uuid/*")
    def by_uuid(key: uuid.UUID):
        seen.append(key)
        return "ok"

    @router.function("/status/*/*")
    def by_status(status: Status, priority: Priority):
        seen.append((status, priority))
        return "ok"

    @router.function("/user/*")
    def user(user_id: UserId):
        seen.append(user_id)
        return "ok"

    @router.function("/slug/*")
    def by_slug(name: slug):
        seen.append(name)
        return "ok"

    @router.function("/point/*")
    def at(point: Point):
        seen.append(point)
        return "ok"

    @router.function("/text/*/*")
    def text(a: str, b):
        seen.append((a, b))
        return "ok"

    @router.function("/broken/*")
    def uses_broken(value: broken):
        return "unreachable"

    @router.function("/parts/*/*/*")
    def parts(*numbers: int):
        seen.append(numbers)
        return "ok"

    return router, seen, Client(router)


# -- typed values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, value",
    [
        ("/int/0", 0),
        ("/int/42", 42),
        ("/int/007", 7),
        (f"/int/{2**63 - 1}", 2**63 - 1),
        ("/signed/-5", -5),
        ("/signed/5", 5),
        (f"/signed/-{2**63}", -(2**63)),
        ("/float/1.5", 1.5),
        ("/float/-2", -2.0),
        ("/float/.5", 0.5),
        ("/float/1e3", 1000.0),
        ("/float/1e%2B16", 1e16),
        (
            "/uuid/12345678-1234-5678-9abc-def012345678",
            uuid.UUID("12345678-1234-5678-9abc-def012345678"),
        ),
        (
            "/uuid/12345678-1234-5678-9ABC-DEF012345678",
            uuid.UUID("12345678-1234-5678-9abc-def012345678"),
        ),
        ("/status/open/2", (Status.OPEN, Priority.HIGH)),
        ("/user/12", 12),
        ("/slug/tea-and-cake", "tea-and-cake"),
        ("/point/3,-4", Point("3,-4")),
        ("/text/a%20b/%C3%A9", ("a b", "é")),
        ("/parts/1/2/3", (1, 2, 3)),
    ],
)
def test_values_are_converted(typed, path, value):
    router, seen, client = typed
    answer = client.get(path)
    assert answer.status == 200, answer.text
    assert seen == [value]
    assert type(seen[0]) is type(value)


@pytest.mark.parametrize(
    "path",
    [
        "/int/abc",
        "/int/-5",  # plain int is for ids: no sign
        "/int/+5",
        "/int/%205",
        "/int/5%20",
        "/int/1_000",
        "/int/%D9%A3",  # ARABIC-INDIC DIGIT THREE: int() would take it
        "/int/" + "9" * 30,  # beyond SQLite's integer
        f"/int/{2**63}",
        "/int/",
        "/int/1.0",
        "/signed/--5",
        "/signed/-",
        "/signed/+5",
        f"/signed/-{2**63 + 1}",
        f"/signed/{2**63}",
        "/float/inf",
        "/float/nan",
        "/float/1e999",  # not finite
        "/float/1_0",
        "/float/%201",
        "/float/0x10",
        "/float/",
        "/uuid/12345678123456789abcdef012345678",  # uuid.UUID() would take these
        "/uuid/%7B12345678-1234-5678-9abc-def012345678%7D",
        "/uuid/urn:uuid:12345678-1234-5678-9abc-def012345678",
        "/uuid/1234567_-1234-5678-9abc-def012345678",
        "/uuid/nope",
        "/status/closed/1",
        "/status/open/3",
        "/status/OPEN/1",
        "/user/x",
        "/slug/Not%20A%20Slug",
        "/point/3",
        "/point/3,x",
        "/parts/1/x/3",
    ],
)
def test_values_that_do_not_convert_are_404(typed, path):
    router, seen, client = typed
    answer = client.get(path)
    assert answer.status == 404
    assert seen == []


def test_a_converter_that_fails_otherwise_is_a_500(typed):
    router, seen, client = typed
    assert client.get("/broken/x").status == 500


def test_conversion_comes_before_the_method_check(typed):
    router, seen, client = typed
    assert client.post("/int/abc").status == 404
    assert client.post("/int/5").status == 405


def test_request_args_keep_the_text():
    router = Router()

    @router.function("/n/*")
    def show(n: int, request):
        return Response.json({"args": request.args, "n": n})

    assert Client(router).get("/n/7").json() == {"args": ["7"], "n": 7}


# -- servlets and services -------------------------------------------------------------


def test_servlet_constructor_gets_typed_values_and_the_request():
    router = Router()
    made = []

    @router.servlet("/contacts/*")
    class ContactPage(Servlet):
        def __init__(self, request, contact_id: int):
            made.append((request.command, contact_id))
            self.contact_id = contact_id

        def do_GET(self, request):
            return str(self.contact_id * 2)

    client = Client(router)
    assert client.get("/contacts/21").text == "42"
    assert made == [("GET", 21)]
    assert client.get("/contacts/x").status == 404
    assert client.post("/contacts/x").status == 404
    assert client.post("/contacts/1").status == 405
    assert client.get("/contacts/-1").status == 404
    assert made == [("GET", 21)]  # never constructed for a refused value


def test_servlet_request_after_the_wildcards_and_by_keyword():
    router = Router()

    @router.servlet("/a/*/*")
    class Middle:
        def __init__(self, x: int, request, y: float):
            self.answer = [x, request.path, y]

        def do_GET(self, request):
            return Response.json(self.answer)

    @router.servlet("/b/*")
    class KeywordOnly:
        def __init__(self, key: uuid.UUID, *, request, extra="e"):
            self.answer = [str(key), request.command, extra]

        def do_GET(self, request):
            return Response.json(self.answer)

    client = Client(router)
    assert client.get("/a/1/2.5").json() == [1, ["a", "1", "2.5"], 2.5]
    key = uuid.uuid4()
    assert client.get(f"/b/{key}").json() == [str(key), "GET", "e"]


def test_service_constructor_gets_typed_values_and_the_request():
    router = Router()

    @router.service("/tasks/*/")
    class Task:
        def __init__(self, task_id: int, request):
            self.task_id = task_id
            self.method = request.command

        def do_GET_show(self, request):
            return f"task {self.task_id} via {self.method}"

        def do_POST_done(self, request):
            return f"done {self.task_id}"

    client = Client(router)
    assert client.get("/tasks/3/show").text == "task 3 via GET"
    assert client.post("/tasks/3/done").text == "done 3"
    assert client.get("/tasks/x/show").status == 404
    assert client.get("/tasks/3/nothing").status == 404


def test_annotations_of_callable_objects_partials_and_methods():
    class Double:
        def __call__(self, n: int, request):
            return str(2 * n)

    class Pages:
        def show(self, n: SignedInt, suffix: str = ""):
            return f"{n}{suffix}"

    def add(extra, n: float):
        return str(n + extra)

    router = Router()
    router.function("/double/*")(Double())
    router.function("/show/*")(Pages().show)
    router.function("/add/*")(functools.partial(add, 1))
    client = Client(router)
    assert client.get("/double/21").text == "42"
    assert client.get("/double/x").status == 404
    assert client.get("/show/-4?suffix=!").text == "-4!"
    assert client.get("/add/0.5").text == "1.5"
    assert client.get("/add/x").status == 404


def test_servlet_without_a_signature_gets_the_text():
    class Meta(type):
        __signature__ = "unknowable"  # inspect.signature() fails

    router = Router()

    @router.servlet("/odd/*")
    class Odd(metaclass=Meta):
        def __init__(self, key):
            self.key = key

        def do_GET(self, request):
            return self.key

    assert Client(router).get("/odd/5").text == "5"


# -- the request parameter in @function ------------------------------------------------


def test_function_request_parameter_in_every_position():
    router = Router()

    @router.function("/first/*")
    def first(request, n: int, q=""):
        return Response.json([request.command, n, q])

    @router.function("/last/*")
    def last(n: int, request):
        return Response.json([request.command, n])

    @router.function("/keyword/*")
    def keyword(n: int, q="", *, request):
        return Response.json([request.command, n, q])

    @router.function("/late/*")
    def late(n: int, q="", request=None):
        return Response.json([request.command, n, q])

    @router.function("/only")
    def only(request):
        return request.path

    @router.function("/rest/*/*")
    def rest(request, *parts: int):
        return Response.json([request.command, *parts])

    client = Client(router)
    assert client.get("/first/1?q=x").json() == ["GET", 1, "x"]
    assert client.get("/last/2").json() == ["GET", 2]
    assert client.get("/keyword/3?q=y").json() == ["GET", 3, "y"]
    assert client.get("/late/4?q=z").json() == ["GET", 4, "z"]
    assert client.get("/only").text == "only"
    assert client.get("/rest/5/6").json() == ["GET", 5, 6]
    # "request" is not a query parameter of a function that takes the request.
    refused = client.get("/only?request=x")
    assert refused.status == 400 and "reserved" in refused.text


def test_request_query_key_with_any_keyword():
    router = Router()

    @router.function("/with")
    def with_request(request, **query):
        return Response.json(query)

    @router.function("/without")
    def without_request(**query):
        return Response.json(query)

    client = Client(router)
    assert client.get("/with?a=1").json() == {"a": "1"}
    assert client.get("/with?request=1").status == 400
    # A function that does not take the request still gets ?request= (0.0.8).
    assert client.get("/without?request=1").json() == {"request": "1"}


def test_delegate_handlers_take_the_request_and_see_the_router():
    router = Router()
    router.delegate("/raw/*", lambda request: request.url_for("/raw/*", "x y"))
    assert Client(router).get("/raw/1").text == "/raw/x%20y"


# -- registration errors ---------------------------------------------------------------


def local_names_register():
    class Local:
        def __init__(self, text):
            self.text = text

    router = Router()

    @router.function("/x/*")
    def uses_local(value: Local):  # a string annotation naming a local class
        return value

    return router


@pytest.mark.parametrize(
    "register, words",
    [
        (lambda r: r.function("/x/*/*")(lambda a: a), "mount point has 2 wildcards"),
        (lambda r: r.function("/x/*/*")(lambda request, a: a), "besides 'request'"),
        (
            lambda r: r.function("/x/*")(_annotated("flag", bool)),
            "not a path converter",
        ),
        (
            lambda r: r.function("/x/*")(_annotated("n", typing.Optional[int])),
            "not a path converter",
        ),
        (lambda r: r.function("/x/*")(_annotated("n", list[int])), "converter"),
        (lambda r: r.function("/x/*")(_annotated("n", 5)), "converter"),
        (lambda r: r.function("/x/*")(_annotated("n", bytes)), "converter"),
        (lambda r: r.function("/x/*")(_annotated("n", "Missing")), "cannot resolve"),
        (lambda r: r.function("/x/*")(_annotated("n", "int(")), "cannot resolve"),
        (lambda r: r.servlet("/x/*/*")(_servlet_taking("a")), "2 wildcards"),
        (lambda r: r.servlet("/x")(_servlet_taking("a")), "no wildcard gives"),
        (lambda r: r.service("/x/")(_servlet_taking("a")), "no wildcard gives"),
        (lambda r: r.servlet("/x/*")(_servlet_typed("a", bool)), "converter"),
        (lambda r: r.function("/x/*")(_late_positional_request()), "positional-only"),
        (lambda r: local_names_register(), "module-level"),
    ],
)
def test_registration_errors(register, words):
    router = Router()
    with pytest.raises(ValueError) as caught:
        register(router)
    assert words in str(caught.value)
    for path in (["x"], ["x", "1"], ["x", "1", "2"], ["x", ""]):
        assert router.find(path) is None


def _annotated(name, annotation):
    def handler(value):
        return value

    handler.__annotations__ = {"value": annotation}
    handler.__qualname__ = name
    return handler


def _servlet_taking(*names):
    code = f"def __init__(self, {', '.join(names)}): pass"
    namespace: dict[str, object] = {}
    exec(code, namespace)
    return type("Taking", (), {"__init__": namespace["__init__"]})


def _servlet_typed(name, annotation):
    cls = _servlet_taking(name)
    cls.__init__.__annotations__ = {name: annotation}
    return cls


def _late_positional_request():
    namespace: dict[str, object] = {}
    exec("def late(value, other=1, request=None, /): pass", namespace)
    return namespace["late"]


def test_failed_servlet_registration_mounts_nothing():
    router = Router()
    with pytest.raises(ValueError):
        router.servlet("/x/*/*")(_servlet_taking("a"))
    with pytest.raises(ValueError):
        router.service("/s/*/")(_servlet_typed("a", bool))
    router.servlet("/x/*/*")(_servlet_taking("a", "b"))  # the place is still free
    router.service("/s/*/")(_servlet_taking("a"))
    assert router.url_for("/x/*/*", 1, 2) == "/x/1/2"


# -- url_for ---------------------------------------------------------------------------


@pytest.fixture
def site():
    router = Router()

    @router.function("")
    def home():
        return "home"

    @router.function("/contacts/*")
    def contact(contact_id: int, tab="main", *, request):
        return Response.json(
            [contact_id, tab, request.url_for(contact, contact_id, tab=tab)]
        )

    @router.function("/search")
    def search(q, page="1"):
        return q

    @router.function("/any/*")
    def anything(name, **query):
        return name

    @router.function("/folder/")
    def folder():
        return "folder"

    @router.servlet("/notes/*/edit")
    class EditNote:
        def __init__(self, note_id: SignedInt):
            self.note_id = note_id

        def do_GET(self, request):
            return request.url_for(EditNote, self.note_id)

    @router.service("/tasks/*/")
    class Tasks:
        def __init__(self, task_id: int):
            self.task_id = task_id

        def do_GET_show(self, request):
            return "show"

        def do_POST_done(self, request):
            return "done"

        def do_GET_(self, request):
            return "index"

    @router.servlet("/old/*")
    @router.servlet("/new/*")
    class Twice:
        def __init__(self, key):
            self.key = key

        def do_GET(self, request):
            return self.key

    def files(request):
        return "/".join(request.path_suffix())

    router.delegate_folder("/files/*/", files)
    return router, {
        "home": home,
        "contact": contact,
        "search": search,
        "anything": anything,
        "folder": folder,
        "EditNote": EditNote,
        "Tasks": Tasks,
        "Twice": Twice,
        "files": files,
    }


@pytest.mark.parametrize(
    "name, values, query, url",
    [
        ("home", (), {}, "/"),
        ("contact", (5,), {}, "/contacts/5"),
        ("contact", ("5",), {"tab": "notes"}, "/contacts/5?tab=notes"),
        ("contact", (5,), {"tab": None}, "/contacts/5"),
        ("search", (), {"q": "tea & cake", "page": 2}, "/search?q=tea+%26+cake&page=2"),
        ("search", (), {"q": "é"}, "/search?q=%C3%A9"),
        ("anything", ("a b",), {"x": [1, 2]}, "/any/a%20b?x=1&x=2"),
        ("anything", ("é?#%",), {}, "/any/%C3%A9%3F%23%25"),
        ("anything", ("",), {}, "/any/"),
        ("folder", (), {}, "/folder/"),
        ("EditNote", (-3,), {}, "/notes/-3/edit"),
        ("Tasks", (7,), {}, "/tasks/7/"),
        ("files", ("x",), {}, "/files/x/"),
    ],
)
def test_url_for_builds_paths(site, name, values, query, url):
    router, targets = site
    assert router.url_for(targets[name], *values, **query) == url


def test_url_for_service_actions_and_mount_points(site):
    router, targets = site
    tasks = targets["Tasks"]
    assert router.url_for(tasks.do_POST_done, 7) == "/tasks/7/done"
    assert router.url_for(tasks.do_GET_show, 7, ref="x") == "/tasks/7/show?ref=x"
    assert router.url_for(tasks.do_GET_, 7) == "/tasks/7/"
    assert router.url_for("/old/*", "k") == "/old/k"
    assert router.url_for("/new/*", "k") == "/new/k"
    assert router.url_for("/search", q=1) == "/search?q=1"
    assert router.url_for("/") == "/"
    client = Client(router)
    assert client.post(router.url_for(tasks.do_POST_done, 7)).text == "done"
    assert client.get(router.url_for(tasks.do_GET_, 7)).text == "index"


def test_request_url_for_inside_handlers(site):
    router, targets = site
    client = Client(router)
    assert client.get("/contacts/9?tab=x").json() == [9, "x", "/contacts/9?tab=x"]
    assert client.get("/notes/-2/edit").text == "/notes/-2/edit"


@pytest.mark.parametrize(
    "name, values, query, error, words",
    [
        ("contact", (), {}, TypeError, "takes 1 path values, not 0"),
        ("contact", (1, 2), {}, TypeError, "not 2"),
        ("contact", ("abc",), {}, ValueError, "not a valid value for 'contact_id'"),
        ("contact", (-1,), {}, ValueError, "not a valid value"),
        ("contact", (True,), {}, ValueError, "not a valid value"),
        ("contact", (2**63,), {}, ValueError, "not a valid value"),
        ("contact", (1,), {"tabs": "x"}, ValueError, "Unknown query parameter 'tabs'"),
        ("contact", (1,), {"contact_id": 2}, ValueError, "is in the path"),
        ("contact", (1,), {"request": 2}, ValueError, "reserved"),
        ("search", (), {}, ValueError, "Missing query parameter 'q'"),
        ("search", (), {"q": None}, ValueError, "Missing query parameter 'q'"),
        ("anything", ("a/b",), {}, ValueError, "contains '/'"),
        ("anything", (".",), {}, ValueError, "cannot be a path component"),
        ("anything", ("..",), {}, ValueError, "cannot be a path component"),
        ("Tasks", ("",), {}, ValueError, "empty"),  # "/tasks//" would redirect
        ("Twice", ("k",), {}, ValueError, "'/new/*', '/old/*'"),
        ("EditNote", ("--1",), {}, ValueError, "not a valid value for 'note_id'"),
    ],
)
def test_url_for_errors(site, name, values, query, error, words):
    router, targets = site
    with pytest.raises(error) as caught:
        router.url_for(targets[name], *values, **query)
    assert words in str(caught.value)


def test_url_for_unknown_targets():
    router = Router()
    router.function("/x")(lambda: "x")
    with pytest.raises(ValueError, match="not mounted"):
        router.url_for(print)
    with pytest.raises(ValueError, match="nothing is mounted at '/y'"):
        router.url_for("/y")
    with pytest.raises(ValueError, match="not dispatched by a Router"):
        Request("GET", "/", "HTTP/1.0").url_for("/x")
    other = Router()
    other.function("/z")(lambda: "z")
    with pytest.raises(ValueError, match="not mounted"):
        router.url_for(other.url_for)


def test_url_for_custom_converter_to_url_and_bound_methods():
    router = Router()

    @router.function("/at/*")
    def at(point: Point):
        return f"{point.x} {point.y}"

    class Pages:
        def page(self, request):
            return "page"

    pages = Pages()
    router.delegate("/page", pages.page)
    assert router.url_for(at, Point("1,-2")) == "/at/1%2C-2"
    assert Client(router).get(router.url_for(at, Point("1,-2"))).text == "1 -2"
    assert router.url_for(pages.page) == "/page"  # a fresh bound method, equal


def test_url_for_unhashable_handler():
    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, request):
            return "ok"

    handler = Unhashable()
    router = Router()
    router.delegate("/u/*", handler)
    assert router.url_for(handler, "v") == "/u/v"


def test_url_for_query_of_a_function_without_signature():
    class NoSignature:
        __signature__ = "unknowable"

        def __call__(self, **query):
            return query

    handler = NoSignature()
    router = Router()
    router.function("/odd/*")(handler)
    assert router.url_for(handler, "a", anything="b") == "/odd/a?anything=b"


# -- round trips -----------------------------------------------------------------------


def round_trip_router():
    router = Router()
    seen = []

    def record(*values):
        seen.append(values)
        return "ok"

    targets = {}

    @router.function("/text/*/*")
    def text(a, b: str):
        return record(a, b)

    @router.function("/numbers/*/*/*")
    def numbers(a: int, b: SignedInt, c: float):
        return record(a, b, c)

    @router.servlet("/things/*/*")
    class Thing:
        def __init__(self, request, key: uuid.UUID, status: Status):
            self.values = (key, status)

        def do_GET(self, request):
            return record(*self.values)

    @router.function("/query")
    def query(**pairs):
        return record(pairs)

    targets.update(text=text, numbers=numbers, Thing=Thing, query=query)
    return router, seen, targets


path_text = strategies.text(
    strategies.characters(blacklist_categories=("Cs",), blacklist_characters="/"),
    min_size=1,
).filter(lambda text: text not in (".", ".."))


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(path_text, path_text, strategies.dictionaries(path_text, path_text))
def test_round_trip_text(a, b, query):
    router, seen, targets = round_trip_router()
    url = router.url_for(targets["text"], a, b)
    assert Client(router).get(url).status == 200
    assert seen == [(a, b)]
    url = router.url_for(targets["query"], **query)
    assert Client(router).get(url).status == 200
    assert seen == [(a, b), (query,)]


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(
    strategies.integers(0, 2**63 - 1),
    strategies.integers(-(2**63), 2**63 - 1),
    strategies.floats(allow_nan=False, allow_infinity=False),
)
def test_round_trip_numbers(a, b, c):
    router, seen, targets = round_trip_router()
    url = router.url_for(targets["numbers"], a, b, c)
    assert Client(router).get(url).status == 200
    assert seen == [(a, b, c)]


@hypothesis.settings(max_examples=50, deadline=None)
@hypothesis.given(strategies.uuids(), strategies.sampled_from(Status))
def test_round_trip_servlet(key, status):
    router, seen, targets = round_trip_router()
    url = router.url_for(targets["Thing"], key, status)
    assert url == f"/things/{key}/{status.value}"
    assert Client(router).get(url).status == 200
    assert seen == [(key, status)]


# -- base_url --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target, headers, base",
    [
        ("/x", {"host": "127.0.0.1:8080"}, "http://127.0.0.1:8080"),
        ("/x", {"host": "LocalHost"}, "http://localhost"),
        ("/x", {"host": "[::1]:8443"}, "http://[::1]:8443"),
        ("/x", {}, ""),
        ("/x", {"host": ""}, ""),
        ("/x", {"host": "evil.example/path"}, ""),
        ("/x", {"host": "a b"}, ""),
        ("/x", {"host": "ex\u00e4mple"}, ""),
        ("http://127.0.0.1:9/x", {"host": "other"}, "http://127.0.0.1:9"),
        ("https://example.org/x", {}, "https://example.org"),
    ],
)
def test_base_url(target, headers, base):
    assert Request("GET", target, "HTTP/1.1", headers).base_url == base


def test_base_url_uses_the_request_scheme():
    request = Request("GET", "/", "HTTP/1.1", {"host": "localhost:1"})
    request.scheme = "https"
    assert request.base_url == "https://localhost:1"


def test_base_url_through_the_client():
    router = Router()
    router.function("/me")(lambda request: request.base_url + request.url_for("/me"))
    assert Client(router).get("/me").text == "http://127.0.0.1:8080/me"


def test_a_decimal_annotation_converts_and_bad_text_is_a_404():
    from kali import Router
    from kali.testing import Client

    router = Router()

    @router.function("/price/*")
    def price(amount: decimal.Decimal):
        return [repr(amount)]

    client = Client(router)
    assert client.get("/price/12.50").text == "Decimal('12.50')"
    assert client.get("/price/abc").status == 404
