"""CORS by invitation (issue 17.2), without sockets: the CorsPolicy value and
the pipeline's use of it through kali.testing.Client and to_wsgi."""

from __future__ import annotations

import io
import wsgiref.util

import pytest

from kali.cors import CorsPolicy, cors_policy, parse_origin
from kali.handling import AppOptions, app_options
from kali.response import Response
from kali.security import SecurityPolicy
from kali.testing import Client
from kali.wsgi import to_wsgi

DEV = "http://localhost:5173"
OTHER = "http://localhost:6000"
OWN_HOST = "127.0.0.1:8080"


def api(request):
    if request.path == ["fail"]:
        return Response.error_page(404, "No such thing.")
    return Response.json(
        {"method": request.command, "origin": request.headers.get("origin")}
    )


def client(*origins, credentials=False, **policy):
    cors = CorsPolicy(origins, credentials=credentials, **policy)
    return Client(api, options=AppOptions(cors=cors))


def preflight(client, origin, method="PUT", headers="content-type, x-token", **extra):
    pairs = [("origin", origin), ("access-control-request-method", method)]
    if headers:
        pairs.append(("access-control-request-headers", headers))
    pairs += list(extra.items())
    return client.options("/api", headers=pairs)


# -- the value ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, kept",
    [
        ("http://localhost:5173", "http://localhost:5173"),
        ("HTTP://LocalHost:5173", "http://localhost:5173"),
        ("http://localhost:80", "http://localhost"),  # browsers omit it
        ("https://app.example:443", "https://app.example"),
        ("https://app.example:8443", "https://app.example:8443"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("chrome-extension://abcdefghijkl", "chrome-extension://abcdefghijkl"),
    ],
)
def test_origins_are_kept_as_browsers_send_them(given, kept):
    assert parse_origin(given) == kept
    assert CorsPolicy([given]).origins == (kept,)


@pytest.mark.parametrize(
    "origin",
    [
        "localhost:5173",  # no scheme
        "http://localhost:5173/",  # a trailing slash
        "http://localhost:5173/app",
        "http://localhost:5173?x",
        "http://user@localhost",
        "http://localhost:0",
        "http://localhost:99999",
        "http://*.example.com",
        "null",
        "",
        "http://",
        "1http://x",
        "http://[zz]:1",
        " http://localhost",
    ],
)
def test_malformed_origins_are_refused_when_made(origin):
    with pytest.raises(ValueError, match="origin"):
        CorsPolicy([origin])


def test_the_trailing_slash_error_says_what_to_do():
    with pytest.raises(ValueError, match="trailing slash"):
        parse_origin("http://localhost:5173/")


def test_construction_errors():
    with pytest.raises(TypeError):
        CorsPolicy(DEV)  # one str, not a list
    with pytest.raises(TypeError):
        CorsPolicy([5173])
    with pytest.raises(ValueError):
        CorsPolicy([])
    with pytest.raises(ValueError, match="credentials"):
        CorsPolicy(["*"], credentials=True)
    with pytest.raises(ValueError, match="alone"):
        CorsPolicy(["*", DEV])
    with pytest.raises(ValueError):
        CorsPolicy([DEV], methods=["GET", "BAD METHOD"])
    with pytest.raises(ValueError):
        CorsPolicy([DEV], allow_headers=["x y"])
    with pytest.raises(ValueError):
        CorsPolicy([DEV], max_age_seconds=-1)
    with pytest.raises(ValueError):
        CorsPolicy([DEV], max_age_seconds=True)
    with pytest.raises(TypeError):
        CorsPolicy([DEV], methods="GET")


def test_cors_policy_helper_for_serve_http():
    assert cors_policy(()) is None and cors_policy(None) is None
    assert cors_policy([DEV]) == CorsPolicy((DEV,))
    assert cors_policy([DEV], credentials=True).credentials
    with pytest.raises(ValueError, match="cors_origins"):
        cors_policy([], credentials=True)
    with pytest.raises(TypeError):
        cors_policy(DEV)


def test_app_options_takes_cors():
    cors = CorsPolicy([DEV])
    assert app_options(cors=cors).cors is cors
    with pytest.raises(TypeError):
        app_options(AppOptions(), cors=cors)


# -- preflights --------------------------------------------------------------------


def test_a_listed_origin_gets_its_preflight_answered():
    answer = preflight(client(DEV), DEV)
    assert answer.status == 204
    headers = answer.headers
    assert headers["access-control-allow-origin"] == DEV
    assert headers["access-control-allow-methods"] == (
        "GET, HEAD, POST, PUT, PATCH, DELETE"
    )
    assert headers["access-control-allow-headers"] == "content-type, x-token"
    assert headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in headers
    assert "origin" in headers["vary"]
    assert answer.body == b""


def test_an_unlisted_origin_gets_a_403_without_cors_headers():
    for origin in (OTHER, "null", "http://localhost:5173.evil.example"):
        answer = preflight(client(DEV), origin)
        assert answer.status == 403
        assert "access-control-allow-origin" not in answer.headers


def test_preflight_options():
    app = client(
        DEV,
        credentials=True,
        methods=["GET", "POST"],
        allow_headers=["Content-Type"],
        max_age_seconds=60,
    )
    answer = preflight(app, DEV, headers="x-anything")
    assert answer.headers["access-control-allow-methods"] == "GET, POST"
    assert answer.headers["access-control-allow-headers"] == "content-type"
    assert answer.headers["access-control-max-age"] == "60"
    assert answer.headers["access-control-allow-credentials"] == "true"


def test_requested_headers_are_echoed_only_as_names():
    answer = preflight(client(DEV), DEV, headers="X-A,  x-b , bad name, ,x-a")
    assert answer.headers["access-control-allow-headers"] == "x-a, x-b"
    bare = preflight(client(DEV), DEV, headers=None)
    assert "access-control-allow-headers" not in bare.headers


def test_private_network_access_is_allowed_for_an_invitee_only():
    asked = {"access-control-request-private-network": "true"}
    answer = preflight(client(DEV), DEV, **asked)
    assert answer.headers["access-control-allow-private-network"] == "true"
    assert preflight(client(DEV), OTHER, **asked).status == 403
    plain = preflight(client(DEV), DEV)
    assert "access-control-allow-private-network" not in plain.headers


def test_a_preflight_still_passes_the_host_check():
    answer = client(DEV).options(
        "/api",
        headers={
            "host": "evil.example",
            "origin": DEV,
            "access-control-request-method": "PUT",
        },
    )
    assert answer.status == 403
    assert "access-control-allow-origin" not in answer.headers


def test_a_plain_options_request_reaches_the_app():
    answer = client(DEV).options("/api", headers={"origin": DEV})
    assert answer.status == 200 and answer.json()["method"] == "OPTIONS"


# -- actual requests -----------------------------------------------------------------


def test_a_listed_origin_may_post_and_read_the_answer():
    answer = client(DEV).post(
        "/api", json={"a": 1}, headers={"origin": DEV, "sec-fetch-site": "same-site"}
    )
    assert answer.status == 200
    assert answer.json() == {"method": "POST", "origin": DEV}  # the app sees Origin
    assert answer.headers["access-control-allow-origin"] == DEV
    assert answer.headers["vary"] == "origin"
    assert "access-control-allow-credentials" not in answer.headers


def test_an_unlisted_origin_is_refused_as_before():
    app = client(DEV)
    refused = app.post("/api", json={}, headers={"origin": OTHER})
    assert refused.status == 403
    assert "access-control-allow-origin" not in refused.headers
    read = app.get("/api", headers={"origin": OTHER})  # a GET runs, unreadable
    assert read.status == 200
    assert "access-control-allow-origin" not in read.headers
    assert read.headers["vary"] == "origin"


def test_same_origin_requests_are_unchanged():
    app = client(DEV)
    own = app.post("/api", json={}, headers={"origin": f"http://{OWN_HOST}"})
    assert own.status == 200
    assert "access-control-allow-origin" not in own.headers
    assert app.post("/api", json={}).status == 200  # no Origin at all


def test_error_pages_carry_the_headers_too():
    answer = client(DEV).get("/fail", headers={"origin": DEV})
    assert answer.status == 404
    assert answer.headers["access-control-allow-origin"] == DEV


def test_credentials_only_when_asked():
    answer = client(DEV, credentials=True).get("/api", headers={"origin": DEV})
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert answer.headers["access-control-allow-origin"] == DEV


def test_expose_headers():
    answer = client(DEV, expose_headers=["X-Total"]).get(
        "/api", headers={"origin": DEV}
    )
    assert answer.headers["access-control-expose-headers"] == "x-total"


def test_star_only_when_asked_and_never_with_credentials():
    app = client("*")
    for origin in (DEV, OTHER, "https://anywhere.example"):
        answer = app.post("/api", json={}, headers={"origin": origin})
        assert answer.status == 200
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in answer.headers
        assert "vary" not in answer.headers
    flight = preflight(app, OTHER)
    assert flight.status == 204
    assert flight.headers["access-control-allow-origin"] == "*"
    listed = client(DEV).get("/api", headers={"origin": DEV})
    assert listed.headers["access-control-allow-origin"] != "*"


def test_an_apps_own_vary_is_kept():
    def varied(request):
        return Response("x", headers={"vary": "Accept-Encoding"})

    app = Client(varied, options=AppOptions(cors=CorsPolicy([DEV])))
    answer = app.get("/", headers={"origin": DEV})
    assert answer.headers.get_list("vary") == ["Accept-Encoding", "origin"]

    def already(request):
        return Response("x", headers={"vary": "Origin, Cookie"})

    app = Client(already, options=AppOptions(cors=CorsPolicy([DEV])))
    assert app.get("/", headers={"origin": DEV}).headers.get_list("vary") == [
        "Origin, Cookie"
    ]


def test_without_cors_nothing_changes():
    plain = Client(api)
    assert plain.post("/api", json={}, headers={"origin": DEV}).status == 403
    answer = plain.get("/api", headers={"origin": DEV})
    assert "access-control-allow-origin" not in answer.headers
    assert "vary" not in answer.headers


def test_the_token_still_applies_to_an_invited_origin():
    policy = SecurityPolicy.for_server("127.0.0.1", 8080, token="sesame")
    app = Client(api, options=AppOptions(cors=CorsPolicy([DEV])))
    app.policy = policy
    assert app.get("/api", headers={"origin": DEV}).status == 403
    # A preflight carries no cookie, ever: it is answered after the Host check.
    assert preflight(app, DEV).status == 204


# -- to_wsgi --------------------------------------------------------------------------


def wsgi_call(application, method, headers):
    environ = {"REQUEST_METHOD": method, "wsgi.input": io.BytesIO(b"")}
    environ.update(headers)
    wsgiref.util.setup_testing_defaults(environ)
    seen = {}

    def start_response(status, pairs, exc_info=None):
        seen["status"], seen["headers"] = status, dict(pairs)

    result = application(environ, start_response)
    try:
        b"".join(result)
    finally:
        result.close()
    return seen["status"], seen["headers"]


def test_to_wsgi_with_cors_options():
    application = to_wsgi(api, options=AppOptions(cors=CorsPolicy([DEV])))
    status, headers = wsgi_call(
        application,
        "OPTIONS",
        {"HTTP_ORIGIN": DEV, "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "DELETE"},
    )
    assert status.startswith("204")
    assert headers["access-control-allow-origin"] == DEV
    status, headers = wsgi_call(application, "DELETE", {"HTTP_ORIGIN": DEV})
    assert status.startswith("200")
    assert headers["access-control-allow-origin"] == DEV
    status, _ = wsgi_call(application, "DELETE", {"HTTP_ORIGIN": OTHER})
    assert status.startswith("403")


def test_to_wsgi_takes_cors_origins_keywords():
    application = to_wsgi(api, cors_origins=[DEV], debug=True)
    status, headers = wsgi_call(
        application,
        "OPTIONS",
        {"HTTP_ORIGIN": DEV, "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "DELETE"},
    )
    assert status.startswith("204") and headers["access-control-allow-origin"] == DEV
    status, _ = wsgi_call(application, "DELETE", {"HTTP_ORIGIN": OTHER})
    assert status.startswith("403")
    with pytest.raises(ValueError):
        to_wsgi(api, cors_origins=["not an origin"])


def test_serve_http_takes_cors_origins_over_a_real_socket():
    import http.client
    import threading

    from kali import serve_http

    ready: list = []
    started = threading.Event()

    def on_ready(server):
        ready.append(server)
        started.set()

    def app(request):
        return Response.json({"ok": True})

    thread = threading.Thread(
        target=serve_http,
        args=(app,),
        kwargs={
            "port": 0,
            "start": None,
            "on_ready": on_ready,
            "cors_origins": ["http://127.0.0.1:5173"],
        },
        daemon=True,
    )
    thread.start()
    assert started.wait(10)
    server = ready[0]
    try:
        answers = {}
        for origin in ("http://127.0.0.1:5173", "http://127.0.0.1:6000"):
            connection = http.client.HTTPConnection(
                "127.0.0.1", server.port, timeout=10
            )
            connection.request(
                "OPTIONS",
                "/data",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "PUT",
                    "Host": f"127.0.0.1:{server.port}",
                },
            )
            reply = connection.getresponse()
            reply.read()
            answers[origin] = (
                reply.status,
                reply.getheader("access-control-allow-origin"),
            )
            connection.close()
        assert answers["http://127.0.0.1:5173"] == (204, "http://127.0.0.1:5173")
        assert answers["http://127.0.0.1:6000"][1] is None
        with pytest.raises(ValueError):
            serve_http(app, port=0, start=None, cors_origins=["not an origin"])
    finally:
        server.stop()
        thread.join(10)
