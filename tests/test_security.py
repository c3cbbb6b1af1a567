import pytest

from kali.security import SecurityPolicy, is_loopback, split_host


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
