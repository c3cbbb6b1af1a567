import pytest

from kali.response import Response
from kali.security import (
    SecurityPolicy,
    is_loopback,
    parse_host_entry,
    split_host,
)


def policy(**options):
    return SecurityPolicy.for_server("127.0.0.1", 8080, **options)


@pytest.mark.parametrize(
    "host, ok",
    [
        (None, True),
        ("localhost", True),
        ("localhost:8080", True),
        ("127.0.0.1:8080", True),
        ("[::1]:8080", True),
        ("LOCALHOST:8080", True),
        ("localhost:8081", False),
        ("evil.example", False),
        ("evil.example:8080", False),
        ("localhost.:8080", False),
        ("127.0.0.1:80x", False),
        ("[::1", False),
        ("", False),
    ],
)
def test_host_allowlist(host, ok):
    headers = [] if host is None else [("host", host)]
    refusal = policy().check("GET", "/", headers)
    assert (refusal is None) == ok
    if not ok:
        assert refusal.code == 403


def test_absolute_form_authority_is_checked():
    assert (
        policy().check("GET", "http://evil.example/x", [("host", "localhost")]).code
        == 403
    )
    assert policy().check("GET", "http://localhost:8080/x", []) is None


def test_allowed_hosts_extend_the_list():
    assert (
        policy(allowed_hosts=["myapp.test"]).check(
            "GET", "/", [("host", "myapp.test:8080")]
        )
        is None
    )


def test_host_check_off_on_lan_bind_unless_configured():
    lan = SecurityPolicy.for_server("0.0.0.0", 8080)
    assert lan.check("GET", "/", [("host", "anything.example")]) is None
    pinned = SecurityPolicy.for_server("0.0.0.0", 8080, allowed_hosts=["box.lan"])
    assert pinned.check("GET", "/", [("host", "other.example")]).code == 403
    assert pinned.check("GET", "/", [("host", "box.lan:8080")]) is None


@pytest.mark.parametrize(
    "method, headers, ok",
    [
        ("POST", [], True),
        ("POST", [("origin", "http://localhost:8080")], True),
        ("POST", [("origin", "http://127.0.0.1:8080")], True),
        ("POST", [("origin", "http://evil.example")], False),
        ("POST", [("origin", "null")], False),
        ("POST", [("origin", "http://localhost:9999")], False),
        ("DELETE", [("origin", "http://evil.example")], False),
        ("GET", [("origin", "http://evil.example")], True),
        ("HEAD", [("sec-fetch-site", "cross-site")], True),
        ("POST", [("sec-fetch-site", "cross-site")], False),
        ("POST", [("sec-fetch-site", "same-site")], False),
        ("POST", [("sec-fetch-site", "same-origin")], True),
        ("POST", [("sec-fetch-site", "none")], True),
        ("POST", [("referer", "http://evil.example/page")], False),
        ("POST", [("referer", "http://localhost:8080/form")], True),
        (
            "POST",
            [("origin", "http://localhost:8080"), ("sec-fetch-site", "same-origin")],
            True,
        ),
    ],
)
def test_cross_site_requests(method, headers, ok):
    refusal = policy().check(method, "/", [("host", "localhost:8080"), *headers])
    assert (refusal is None) == ok


def test_token_flow():
    guarded = policy(token=True)
    assert guarded.token and len(guarded.token) > 30
    target = guarded.launch_target("/start?x=1")
    assert target.startswith("/start?x=1&kali-token=")
    assert guarded.check("GET", "/", []).code == 403
    redirect = guarded.check("GET", target, [])
    assert redirect.code == 302
    assert redirect.get_header("location") == "/start?x=1"
    cookie = redirect.get_header("set-cookie")
    assert cookie.startswith(f"kali-token-8080={guarded.token}")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    good = [("cookie", f"other=1; kali-token-8080={guarded.token}")]
    assert guarded.check("GET", "/", good) is None
    bad = [("cookie", "kali-token-8080=nope")]
    assert guarded.check("GET", "/", bad).code == 403
    assert guarded.check("GET", "/?kali-token=wrong", []).code == 403
    assert (
        guarded.check(
            "GET", f"//evil.example?kali-token={guarded.token}", []
        ).get_header("location")
        == "/evil.example"
    )


def test_helpers():
    assert is_loopback("localhost") and is_loopback("127.0.0.2") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")
    assert split_host("[::1]:80") == ("[::1]", 80)
    assert split_host("a:1:2") is None
    assert split_host(":80") is None


# -- Origin: null from a no-referrer page (issue 16.6) ----------------------------


@pytest.mark.parametrize(
    "fetch_site, ok",
    [
        ("same-origin", True),  # Chromium: a same-origin POST, no-referrer page
        ("Same-Origin", True),
        ("cross-site", False),
        ("same-site", False),
        ("none", False),
        (None, False),  # null without the browser's word for it
    ],
)
def test_null_origin_passes_only_when_the_browser_says_same_origin(fetch_site, ok):
    headers = [("host", "localhost:8080"), ("origin", "null")]
    if fetch_site is not None:
        headers.append(("sec-fetch-site", fetch_site))
    refusal = policy().check("POST", "/", headers)
    assert (refusal is None) == ok
    if not ok:
        assert refusal.code == 403


def test_null_origin_still_needs_an_allowed_host():
    headers = [
        ("host", "evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "same-origin"),
    ]
    assert policy().check("POST", "/", headers).code == 403


# -- allowed_hosts with ports: forwarded access (issue 16.6) ----------------------


@pytest.mark.parametrize(
    "host, ok",
    [
        ("localhost:19000", True),  # ssh -L 19000:localhost:8080
        ("LOCALHOST:19000", True),
        ("localhost:8080", True),  # the server's own port still works
        ("localhost:19001", False),
        ("127.0.0.1:19000", False),  # only the pair named
        ("box.test:2222", True),
        ("box.test", False),  # the pair names a port; no port means 80
        ("box.test:8080", False),
        ("[::1]:19000", True),
    ],
)
def test_allowed_hosts_may_name_a_port(host, ok):
    forwarded = policy(
        allowed_hosts=["localhost:19000", "box.test:2222", "[::1]:19000"]
    )
    assert (forwarded.check("GET", "/", [("host", host)]) is None) == ok


def test_a_forwarded_port_is_a_same_origin_for_posts():
    forwarded = policy(allowed_hosts=["localhost:19000"])
    same = [("host", "localhost:19000"), ("origin", "http://localhost:19000")]
    assert forwarded.check("POST", "/", same) is None
    other = [("host", "localhost:19000"), ("origin", "http://localhost:19001")]
    assert forwarded.check("POST", "/", other).code == 403
    assert "http://localhost:19000" in forwarded.allowed_origins
    assert "http://[localhost:19000]:8080" not in forwarded.allowed_origins


def test_a_host_pair_on_the_default_port_matches_a_host_without_port():
    default = policy(allowed_hosts=["app.test:80"])
    assert default.check("GET", "/", [("host", "app.test")]) is None
    assert default.check("GET", "/", [("host", "app.test:80")]) is None
    post = [("host", "app.test"), ("origin", "http://app.test")]
    assert default.check("POST", "/", post) is None


def test_a_lan_bind_with_a_forwarded_pair_turns_the_host_check_on():
    container = SecurityPolicy.for_server(
        "0.0.0.0", 8080, allowed_hosts=["localhost:19000"]
    )
    assert container.check("GET", "/", [("host", "localhost:19000")]) is None
    assert container.check("GET", "/", [("host", "evil.example:19000")]).code == 403


@pytest.mark.parametrize(
    "entry",
    [
        "localhost:abc",
        "localhost:",
        "localhost:0",
        "localhost:70000",
        "http://localhost:19000",
        "localhost/x",
        "*.example.com",
        "a b",
        " localhost",
        "",
        "[zz]:80",
        "[::1",
        "-bad-.example",
        "host:1:2:x",
        "a..b",
    ],
)
def test_malformed_allowed_hosts_are_refused_when_made(entry):
    with pytest.raises(ValueError, match="allowed host"):
        policy(allowed_hosts=[entry])


def test_allowed_hosts_must_be_a_list():
    with pytest.raises(TypeError):
        policy(allowed_hosts="localhost:19000")
    with pytest.raises(TypeError):
        policy(allowed_hosts=[19000])


def test_parse_host_entry():
    assert parse_host_entry("LocalHost:19000") == ("localhost", 19000)
    assert parse_host_entry("myapp.test") == ("myapp.test", None)
    assert parse_host_entry("::1") == ("[::1]", None)
    assert parse_host_entry("[::1]:9") == ("[::1]", 9)
    assert parse_host_entry("10.0.0.5:8000") == ("10.0.0.5", 8000)


def test_check_host_is_the_host_check_alone():
    guarded = policy(token=True)
    assert guarded.check_host("/", [("host", "localhost:8080")]) is None
    assert guarded.check_host("/", [("host", "evil.example")]).code == 403
    assert guarded.check("OPTIONS", "/", [("host", "localhost:8080")]).code == 403


@pytest.mark.browser
def test_a_no_referrer_pages_form_post_passes_in_chromium(page, kali_server):
    """Chromium sends a same-origin form POST from a no-referrer page with
    ``Origin: null``; its ``Sec-Fetch-Site: same-origin`` lets it through."""
    seen = []

    def app(request):
        if request.command == "POST":
            seen.append(
                (request.headers.get("origin"), request.headers.get("sec-fetch-site"))
            )
            return Response(f"<p id=saved>{request.POST['name']}</p>")
        return Response(
            '<form method="post" action="/save"><input name="name" value="Zoë">'
            "</form>",
            headers={"referrer-policy": "no-referrer"},
        )

    server = kali_server(app)
    page.goto(server.url)
    page.submit("form")
    assert page.text("#saved") == "Zoë"
    assert seen == [("null", "same-origin")]
