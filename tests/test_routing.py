"""Router dispatch, the five registration styles, and every 0.0.8 fix."""

import html
import subprocess
import sys

import pytest

from kali.errors import HTTPError
from kali.request import Request
from kali.response import Response
from kali.routing import KNOWN_METHODS, RouteNode, Router, Servlet, json_handler
from kali.testing import Client


def recorder(name):
    """A handler that reports where it was mounted and what it saw."""

    def handler(request):
        return Response.json(
            {
                "name": name,
                "depth": request.mount_depth,
                "args": request.args,
                "suffix": request.path_suffix(),
            }
        )

    return handler


def routed(router, path, method="GET", **options):
    answer = Client(router).request(method, path, **options)
    return answer


# -- the prefix tree -------------------------------------------------------------------


@pytest.fixture
def spec_router():
    router = Router()
    for where in ("/a", "/a/*/c", "/a/b/d"):
        router.delegate(where, recorder(where))
    return router


@pytest.mark.parametrize(
    "path, name, args, suffix",
    [
        # The three examples of spec 2.7.
        ("/a/b/c", "/a/*/c", ["b"], []),
        ("/a/x/y", "/a", [], ["x", "y"]),
        ("/a/x/c/z", "/a/*/c", ["x"], ["z"]),
        # More of the same tree.
        ("/a", "/a", [], []),
        ("/a/b/d", "/a/b/d", [], []),
        ("/a/b/d/e/", "/a/b/d", [], ["e", ""]),
        ("/a/b", "/a", [], ["b"]),
        ("/a/", "/a", [], [""]),
    ],
)
def test_spec_examples(spec_router, path, name, args, suffix):
    answer = routed(spec_router, path)
    assert answer.status == 200
    assert answer.json() == {
        "name": name,
        "depth": len(path.lstrip("/").split("/")) - len(suffix),
        "args": args,
        "suffix": suffix,
    }


def test_no_match_is_404(spec_router):
    assert routed(spec_router, "/b").status == 404
    assert routed(spec_router, "/").status == 404


def test_root_catch_all():
    router = Router()
    router.delegate("", recorder("root"))
    router.delegate("/x", recorder("x"))
    assert routed(router, "/").json()["suffix"] == [""]
    assert routed(router, "/nothing/here").json() == {
        "name": "root",
        "depth": 0,
        "args": [],
        "suffix": ["nothing", "here"],
    }
    assert routed(router, "/x/y").json()["name"] == "x"


def test_literal_beats_wildcard_and_wildcard_takes_one_component():
    router = Router()
    router.delegate("/x/*", recorder("wild"))
    router.delegate("/x/lit", recorder("lit"))
    assert routed(router, "/x/lit").json()["name"] == "lit"
    assert routed(router, "/x/other").json()["args"] == ["other"]
    # "*" matches an empty component too (kept from 0.0.8).
    assert routed(router, "/x/").json() == {
        "name": "wild",
        "depth": 2,
        "args": [""],
        "suffix": [],
    }
    assert routed(router, "/x").status == 404


def test_backtracking_and_longest_mount():
    router = Router()
    router.delegate("/a/b/x", recorder("literal"))
    router.delegate("/a/*/y", recorder("wild"))
    router.delegate("/a/*/y/*/z", recorder("deep"))
    assert routed(router, "/a/b/y").json()["name"] == "wild"
    assert routed(router, "/a/b/x").json()["name"] == "literal"
    assert routed(router, "/a/q/y/w/z/rest").json() == {
        "name": "deep",
        "depth": 5,
        "args": ["q", "w"],
        "suffix": ["rest"],
    }


def test_equal_depth_first_reached_wins():
    router = Router()
    router.delegate("/a/*/c", recorder("wild-first"))
    router.delegate("/a/b/*", recorder("literal-first"))
    # The literal child is searched before the wildcard at each node.
    assert routed(router, "/a/b/c").json()["args"] == ["c"]
    assert routed(router, "/a/z/c").json()["name"] == "wild-first"


def test_find_and_route_node():
    router = Router()
    handler = recorder("x")
    router.delegate("/x/*", handler)
    assert router.find(["x", "7", "more"]) == (handler, 2, ["7"])
    assert router.find(["y"]) is None
    assert isinstance(router.root, RouteNode)
    assert router.root.dig("x") is router.root.kids["x"]
    assert router.root.kids["x"].kids["*"].entry == (handler, (1,))
    assert Router.WILDCARD == "*"


def test_router_returns_the_handlers_value_and_sets_request_fields():
    router = Router()
    router.delegate("/p/*", lambda request: ["raw", request.args[0]])
    request = Request("GET", "/p/q/r", "HTTP/1.0")
    assert router(request) == ["raw", "q"]
    assert request.mount_depth == 2 and request.args == ["q"]
    assert request.router is router  # for request.url_for
    assert Request("GET", "/", "HTTP/1.0").router is None
    # As in 0.0.8, no match is answered with a 404 page, not an exception.
    missing = router(Request("GET", "/nothing", "HTTP/1.0"))
    assert isinstance(missing, Response) and missing.code == 404
    assert missing.is_error_page
    # The app's own HTTPErrors propagate through the Router unchanged.
    router.delegate("/teapot", lambda request: (_ for _ in ()).throw(HTTPError(418)))
    with pytest.raises(HTTPError) as caught:
        router(Request("GET", "/teapot", "HTTP/1.0"))
    assert caught.value.status == 418


def test_percent_encoded_slash_splits_components():
    router = Router()
    router.delegate("/a/b", recorder("ab"))
    assert routed(router, "/a%2Fb").json()["name"] == "ab"


# -- normalize() -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, location",
    [
        ("/a/./b?q=1", "/a/b?q=1"),
        ("/a//b?q=1&q=2", "/a/b?q=1&q=2"),
        ("/a/x/../b", "/a/b"),
        ("//a/b", "/a/b"),
        ("//evil.example/x", "/evil.example/x"),
        ("/a/b/./", "/a/b/"),
    ],
)
def test_normalize_redirects(path, location):
    router = Router()
    router.delegate("", recorder("root"))
    answer = routed(router, path)
    assert answer.status == 302
    assert answer.location == location


@pytest.mark.parametrize("path", ["/..", "/../x", "/a/../../x", "/%2e%2e/x", "/..%2Fx"])
def test_dot_dot_above_the_root_is_404(path):
    router = Router()
    router.delegate("", recorder("root"))
    assert routed(router, path).status == 404


# -- delegate_folder -------------------------------------------------------------------


def test_delegate_folder_adds_the_slash_and_keeps_the_query():
    router = Router()
    router.delegate_folder("/x/", recorder("folder"))
    answer = routed(router, "/x?a=1&b=%C3%A9")
    assert answer.status == 302 and answer.location == "/x/?a=1&b=%C3%A9"
    assert routed(router, "/x/").json()["suffix"] == [""]
    assert routed(router, "/x/y/z").json()["suffix"] == ["y", "z"]


def test_delegate_folder_at_the_root():
    router = Router()
    router.delegate_folder("/", recorder("root"))
    assert routed(router, "/").json()["suffix"] == [""]
    assert routed(router, "/f").json()["suffix"] == ["f"]


# -- @function -------------------------------------------------------------------------


@pytest.fixture
def fn_router():
    router = Router()

    @router.function("/add/*/*")
    def add(a, b, scale="1"):
        return Response.plain_text(str((int(a) + int(b)) * int(scale)))

    @router.function("/greet")
    def greet(name, *, punctuation="!"):
        return ["Hello, ", name, punctuation]

    @router.function("/any")
    def anything(**query):
        return Response.json(query)

    @router.function("/boom")
    def boom():
        return len(None)  # a TypeError inside fn is a 500, not a 400

    @router.function("/dict")
    def as_dict():
        return {"a": 1, "b": "two"}

    @router.function("/api", json=True)
    def api(n="3"):
        return [{"i": i} for i in range(int(n))]

    @router.function("/api/page", json=True)
    def api_page():
        return Response.plain_text("not json")

    @router.function("/folder/")
    def folder():
        return "index"

    @router.function("")
    def home():
        return "home"

    assert add.__name__ == "add"  # returned unchanged
    return router


def test_function_positional_wildcards_and_keyword_query(fn_router):
    assert routed(fn_router, "/add/2/3").text == "5"
    assert routed(fn_router, "/add/2/3?scale=10").text == "50"
    assert routed(fn_router, "/add/2/3?scale=2&scale=3").text == "15"  # last wins
    assert routed(fn_router, "/greet?name=Bo&punctuation=.").text == "Hello, Bo."
    assert routed(fn_router, "/any?x=1&y=").json() == {"x": "1", "y": ""}
    assert routed(fn_router, "/").text == "home"


@pytest.mark.parametrize(
    "path, named",
    [
        ("/greet", "'name'"),  # missing required
        ("/greet?name=a&nam=b", "'nam'"),  # unknown
        ("/add/1/2?a=5", "'a'"),  # already given by the path
        ("/add/1/2?%3Cscript%3E=1", "'<script>'"),
    ],
)
def test_function_bad_query_is_400_naming_it(fn_router, path, named):
    answer = routed(fn_router, path)
    assert answer.status == 400
    assert named in html.unescape(answer.text)
    assert "<script>" not in answer.text


def test_function_type_error_inside_is_500(fn_router):
    answer = routed(fn_router, "/boom")
    assert answer.status == 500
    assert "Traceback" not in answer.text


def test_function_methods(fn_router):
    answer = routed(fn_router, "/add/1/2", "POST")
    assert answer.status == 405
    assert answer.headers["Allow"] == "GET, HEAD"
    assert routed(fn_router, "/add/1/2", "DELETE").status == 405
    assert routed(fn_router, "/add/1/2", "BREW").status == 501
    get = routed(fn_router, "/add/1/2")
    head = routed(fn_router, "/add/1/2", "HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == get.headers["content-length"] == "1"


def test_function_suffix_is_404_and_folder_function_redirects(fn_router):
    assert routed(fn_router, "/greet/more?name=x").status == 404
    assert routed(fn_router, "/greet/?name=x").status == 404
    answer = routed(fn_router, "/folder?x=1")
    assert answer.status == 302 and answer.location == "/folder/?x=1"
    assert routed(fn_router, "/folder/").text == "index"
    assert routed(fn_router, "/folder/other").status == 404


def test_plain_dict_stays_an_iolist_and_json_is_opt_in(fn_router):
    answer = routed(fn_router, "/dict")
    assert answer.content_type == "text/html"
    assert answer.body == b"a: 1\r\nb: two\r\n"
    api = routed(fn_router, "/api?n=2")
    assert api.content_type == "application/json"
    assert api.json() == [{"i": 0}, {"i": 1}]
    assert routed(fn_router, "/api/page").text == "not json"


def test_function_signature_checked_at_registration():
    router = Router()
    with pytest.raises(ValueError):
        router.function("/x/*/*")(lambda a: a)
    with pytest.raises(ValueError):
        router.function("/y")(lambda a, /: a)
    router.function("/z/*/*")(lambda *parts: "/".join(parts))
    assert routed(router, "/z/p/q").text == "p/q"


def test_function_without_signature_still_works():
    class NoSignature:  # like some builtins: inspect.signature() fails
        __signature__ = "unknowable"

        def __call__(self, **query):
            return query

    router = Router()
    router.function("/odd")(NoSignature())
    assert routed(router, "/odd?a=1").body == b"a: 1\r\n"


# -- @servlet --------------------------------------------------------------------------


@pytest.fixture
def servlet_router():
    router = Router()

    @router.servlet("/item/*")
    @router.servlet("/other/*")
    class Item(Servlet):
        def __init__(self, key):
            self.key = key

        def do_GET(self, request):
            return ["item ", self.key]

        def do_PUT(self, request):
            return ["put ", self.key]

    @router.servlet("/post-only")
    class PostOnly(Servlet):
        def do_POST(self, request):
            return "posted"

    @router.servlet("/stubs")
    class Stubs(Servlet):
        pass

    @router.servlet("/head")
    class WithHead:
        def do_GET(self, request):
            return "full body"

        def do_HEAD(self, request):
            return Response("x", headers={"x-head": "yes"})

    @router.servlet("/deep", allow_suffix=True)
    class Deep:
        def do_GET(self, request):
            return "/".join(request.path_suffix())

    assert Item.__name__ == "Item"
    return router


def test_servlet_constructor_args_and_methods(servlet_router):
    assert routed(servlet_router, "/item/7").text == "item 7"
    assert routed(servlet_router, "/other/8").text == "item 8"
    assert routed(servlet_router, "/item/7", "PUT").text == "put 7"
    assert routed(servlet_router, "/post-only", "POST").text == "posted"


def test_servlet_head(servlet_router):
    head = routed(servlet_router, "/item/7", "HEAD")
    assert head.status == 200 and head.body == b""
    assert head.headers["content-length"] == "6"
    own = routed(servlet_router, "/head", "HEAD")
    assert own.headers["x-head"] == "yes"


@pytest.mark.parametrize(
    "path, method, allow",
    [
        ("/item/7", "POST", "GET, HEAD, PUT"),
        ("/item/7", "DELETE", "GET, HEAD, PUT"),
        ("/post-only", "GET", "POST"),
        ("/post-only", "HEAD", "POST"),
        ("/stubs", "GET", ""),  # inherited stubs count as missing
        ("/stubs", "POST", ""),
    ],
)
def test_servlet_missing_method_is_405_with_allow(servlet_router, path, method, allow):
    answer = routed(servlet_router, path, method)
    assert answer.status == 405
    assert answer.headers["allow"] == allow


def test_servlet_unknown_method_is_501(servlet_router):
    assert routed(servlet_router, "/item/7", "BREW").status == 501


def test_servlet_suffix(servlet_router):
    assert routed(servlet_router, "/item/7/x").status == 404
    assert routed(servlet_router, "/item/7/").status == 404
    assert routed(servlet_router, "/deep/a/b").text == "a/b"


def test_servlet_not_constructed_for_a_missing_method():
    router = Router()
    made = []

    @router.servlet("/x")
    class Counting:
        def __init__(self):
            made.append(1)

        def do_GET(self, request):
            return "ok"

    assert routed(router, "/x", "POST").status == 405
    assert made == []


# -- @service --------------------------------------------------------------------------


@pytest.fixture
def service_router():
    router = Router()

    @router.service("/svc/*/")
    class Service(Servlet):
        def __init__(self, who):
            self.who = who

        def do_GET_hello(self, request):
            return ["hello ", self.who]

        def do_POST_save(self, request):
            return "saved " + request.POST.get("x", "")

        def do_GET_(self, request):
            return "index"

    assert Service.__name__ == "Service"  # @service returns the class
    return router


def test_service_calls_named_methods(service_router):
    assert routed(service_router, "/svc/bo/hello").text == "hello bo"
    saved = routed(service_router, "/svc/bo/save", "POST", data={"x": "1"})
    assert saved.text == "saved 1"
    assert routed(service_router, "/svc/bo/").text == "index"
    head = routed(service_router, "/svc/bo/hello", "HEAD")
    assert head.status == 200 and head.body == b""


def test_service_errors(service_router):
    assert routed(service_router, "/svc/bo/nothing").status == 404
    assert routed(service_router, "/svc/bo/hello/deeper").status == 404
    assert routed(service_router, "/svc/bo/nothing", "POST").status == 404
    wrong = routed(service_router, "/svc/bo/save")
    assert wrong.status == 405 and wrong.headers["allow"] == "POST"
    wrong = routed(service_router, "/svc/bo/hello", "POST")
    assert wrong.status == 405 and wrong.headers["allow"] == "GET, HEAD"
    assert routed(service_router, "/svc/bo/hello", "BREW").status == 501
    answer = routed(service_router, "/svc/bo?z=1")
    assert answer.status == 302 and answer.location == "/svc/bo/?z=1"


def test_service_empty_name_without_method_is_404():
    router = Router()

    @router.service("/s/")
    class Service:
        def do_GET_x(self, request):
            return "x"

    assert routed(router, "/s/").status == 404
    assert routed(router, "/s/x").text == "x"


# -- registration mistakes -------------------------------------------------------------


@pytest.mark.parametrize(
    "register",
    [
        lambda r: r.delegate("x", print),
        lambda r: r.delegate("/a//b", print),
        lambda r: r.delegate("/a/.b", print),
        lambda r: r.delegate("/.", print),
        lambda r: r.delegate(None, print),
        lambda r: r.delegate("/ok", "not callable"),
        lambda r: r.delegate_folder("/no-slash", print),
        lambda r: r.function("nope")(print),
        lambda r: r.servlet("/s")(lambda request: None),
        lambda r: r.service("/no-slash"),
        lambda r: r.service("/s/")(print),
        lambda r: r.delegate("/taken", print),
        lambda r: r.delegate_folder("/taken/", print),
        lambda r: r.function("/taken/")(print),
    ],
)
def test_registration_mistakes_raise_value_error(register):
    router = Router()
    router.delegate("/taken", print)
    with pytest.raises(ValueError):
        register(router)


def test_failed_function_registration_mounts_nothing():
    router = Router()
    router.delegate("/x", print)
    with pytest.raises(ValueError):
        router.function("/x/")(print)
    assert router.find(["x", ""])[0] is print  # "/x/" stayed free...
    router.function("/y/")(lambda: "y")  # ...and a good one works


def test_registration_errors_survive_python_O():
    code = (
        "from kali.routing import Router\n"
        "r = Router(); r.delegate('/x', print)\n"
        "for bad in (lambda: r.delegate('/x', print), lambda: r.delegate('x', print),"
        " lambda: r.service('/s')):\n"
        "    try: bad()\n"
        "    except ValueError: pass\n"
        "    else: raise SystemExit('no ValueError')\n"
    )
    subprocess.run([sys.executable, "-O", "-c", code], check=True, timeout=60)


# -- errors, error pages, cookies, json_handler ----------------------------------------


def test_http_error_from_any_handler():
    router = Router()

    @router.function("/teapot")
    def teapot():
        raise HTTPError(418, "Short & stout", headers={"x-tea": "earl grey"})

    answer = routed(router, "/teapot")
    assert answer.status == 418
    assert answer.headers["x-tea"] == "earl grey"
    assert "Short &amp; stout" in answer.text


def test_custom_error_pages_render_router_errors():
    router = Router()
    router.function("/only-get")(lambda: "ok")
    router.function("/boom")(lambda: 1 / 0)
    seen = []

    def error_page(request, status, message):
        seen.append(status)
        return Response(f"<p>Custom {status}</p>", code=status)

    client = Client(router, error_page=error_page)
    assert client.get("/missing").text == "<p>Custom 404</p>"
    refused = client.post("/only-get")
    assert refused.text == "<p>Custom 405</p>"
    assert refused.headers["allow"] == "GET, HEAD"
    failed = client.get("/boom")
    assert failed.status == 500 and failed.text == "<p>Custom 500</p>"
    assert seen == [404, 405, 500]


def test_default_error_page_leaks_nothing():
    router = Router()

    @router.function("/secret")
    def secret():
        raise RuntimeError("password=hunter2")

    answer = routed(router, "/secret")
    assert answer.status == 500
    assert "hunter2" not in answer.text and "Traceback" not in answer.text
    debug = Client(router, debug=True).get("/secret")
    assert "hunter2" in debug.text


def test_cookies_set_and_read():
    router = Router()

    @router.servlet("/login")
    class Login:
        def do_POST(self, request):
            response = Response.redirect("/me")
            return response.set_cookie("user", request.POST["name"])

    @router.servlet("/me")
    class Me:
        def do_GET(self, request):
            return ["user=", request.cookies.get("user", "nobody")]

    client = Client(router)
    assert client.get("/me").text == "user=nobody"
    login = client.post("/login", data={"name": "ann"})
    assert login.cookies == {"user": "ann"}
    assert "HttpOnly" in login.headers["set-cookie"]
    assert client.get("/me").text == "user=ann"


def test_json_handler_on_servlet_methods_and_functions():
    router = Router()

    @router.servlet("/api/tasks")
    class Tasks:
        @json_handler
        def do_GET(self, request):
            return [{"id": 1, "title": "<b>"}]

        @json_handler
        def do_POST(self, request):
            data = request.json()
            return Response.json({"got": data}, code=201)

    client = Client(router)
    listed = client.get("/api/tasks")
    assert listed.content_type == "application/json"
    assert listed.json() == [{"id": 1, "title": "<b>"}]
    created = client.post("/api/tasks", json={"title": "x"})
    assert created.status == 201 and created.json() == {"got": {"title": "x"}}
    assert (
        client.post("/api/tasks", body=b"{oops", content_type="application/json").status
        == 400
    )
    assert json_handler(lambda: {"a": 1})().body == b'{"a":1}'


def test_known_methods_cover_the_parser():
    assert set(KNOWN_METHODS) == {
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT",
    }  # fmt: skip


def test_head_everywhere_gives_the_gets_headers_without_a_body():
    router = Router()
    router.function("/page")(lambda: "a page")
    router.delegate_folder("/folder/", lambda request: "in the folder")
    router.function("/teapot")(lambda: (_ for _ in ()).throw(HTTPError(418)))
    client = Client(router)
    for path in ("/page", "/folder", "/folder/x", "/missing", "/a//b", "/teapot"):
        get, head = client.get(path), client.head(path)
        assert head.status == get.status, path
        assert head.body == b"", path
        assert head.headers.get("content-length") == get.headers.get("content-length")
        assert head.location == get.location


def test_servlet_stubs_raise_when_called_directly():
    with pytest.raises(NotImplementedError):
        Servlet().do_GET(Request("GET", "/", "HTTP/1.0"))
    with pytest.raises(NotImplementedError):
        Servlet().do_POST(Request("GET", "/", "HTTP/1.0"))
