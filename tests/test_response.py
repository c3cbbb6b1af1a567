import io
import logging
from http import HTTPStatus

import pytest

import kali
from kali.multidict import Bag
from kali.request import Request
from kali.response import Response


def test_defaults():
    response = Response("héllo")
    assert response.code == 200 and response.shut_down is False
    assert response.head.startswith(b"HTTP/1.0 200 OK\r\n")
    assert response.get_header("content-type") == "text/html; charset=utf-8"
    assert response.get_header("content-length") == str(len("héllo".encode()))
    assert response.get_header("x-content-type-options") == "nosniff"
    assert response.get_header("x-frame-options") == "SAMEORIGIN"
    assert response.body == "héllo".encode()
    assert response.content == response.head + response.body
    assert response.content.endswith(b"\r\n\r\nh\xc3\xa9llo")
    assert repr(response) == "<Response 200 OK>"


@pytest.mark.parametrize(
    "code, phrase",
    [
        (303, b"See Other"),
        (307, b"Temporary Redirect"),
        (405, b"Method Not Allowed"),
        (413, HTTPStatus(413).phrase.encode()),
        (418, HTTPStatus(418).phrase.encode()),
        (302, b"Moved Temporarily"),
        (599, b"Unknown"),
    ],
)
def test_reason_phrases(code, phrase):
    head = Response("", code=code).head
    assert head.startswith(b"HTTP/1.0 %d %s\r\n" % (code, phrase))


def test_reason_table_is_bytes_for_every_status():
    assert all(isinstance(v, bytes) for v in Response.REASON.values())
    assert set(Response.REASON) >= {s.value for s in HTTPStatus}


@pytest.mark.parametrize("code", [99, 600, "200", 200.0, True, None])
def test_bad_codes(code):
    with pytest.raises(ValueError):
        Response("", code=code)


def test_header_pairs_repeat_and_app_values_win():
    response = Response(
        "x",
        headers=[
            ("Set-Cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("Content-Type", "text/plain"),
            ("Content-Length", "999"),
            ("X-Frame-Options", "DENY"),
        ],
    )
    cookies = [v for k, v in response.headers if k == "set-cookie"]
    assert cookies == ["a=1", "b=2"]
    assert response.get_header("content-type") == "text/plain"
    assert response.get_header("content-length") == "1"
    assert response.get_header("x-frame-options") == "DENY"
    assert b"content-type: text/html" not in response.head


@pytest.mark.parametrize(
    "headers",
    [
        {"x-a": "a\r\nb"},
        {"x-a": "a\nb"},
        {"x-a": "a\x00b"},
        {"bad name": "v"},
        {"": "v"},
        {"x:y": "v"},
    ],
)
def test_header_injection_is_refused(headers):
    with pytest.raises(ValueError):
        Response("", headers=headers)


@pytest.mark.parametrize("code", [204, 304, 100])
def test_no_body_statuses(code):
    response = Response("ignored", code=code)
    assert response.body == b""
    assert response.get_header("content-length") is None
    assert response.get_header("content-type") is None


def test_redirect():
    response = Response.redirect("/x?y=1")
    assert response.code == 302 and response.body == b""
    assert response.get_header("location") == "/x?y=1"
    assert response.get_header("content-length") == "0"
    for bad in ("/x\r\nSet-Cookie: a=1", "/x\n"):
        with pytest.raises(ValueError):
            Response.redirect(bad)


def test_plain_text_and_json():
    text = Response.plain_text(["a", [b"b"]])
    assert text.get_header("content-type") == "text/plain; charset=utf-8"
    assert text.body == b"ab"
    data = Response.json({"é": [1, None]}, code=201, headers={"x-a": "1"})
    assert data.code == 201 and data.get_header("x-a") == "1"
    assert data.get_header("content-type") == "application/json"
    assert data.body == '{"é":[1,null]}'.encode()
    with pytest.raises(TypeError):
        Response.json({"x": object()})


def test_generic_page():
    page = Response.generic("<p>raw body</p>", title="<T>", code=404).body.decode()
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>&lt;T&gt;</title>" in page and "<h1>&lt;T&gt;</h1>" in page
    assert "<p>raw body</p>" in page
    assert "Python" not in page and kali.__version__ not in page
    default = Response.generic(code=404).body.decode()
    assert "<title>Not Found</title>" in default
    assert "There is no page at this address." in default
    assert "No further information." in Response.generic(code=200).body.decode()


def test_error_page_says_its_title_once_then_a_sentence():
    page = Response.error_page(404, "Not Found").body.decode()
    assert page.count("Not Found") == 2  # <title> and <h1>, not the body
    assert "There is no page at this address." in page
    own_words = Response.error_page(404, "No such book.").body.decode()
    assert "<p>No such book.</p>" in own_words
    teapot = Response.error_page(418).body.decode()
    assert "The request could not be completed." in teapot
    assert "the details are in its log" in Response.error_page(599).body.decode()


def test_page_style_is_literal_not_placeholders():
    from kali.response import PAGE_STYLE

    page = Response.generic("x", title="t").body.decode()
    assert f"<style>{PAGE_STYLE}</style>" in page
    assert "http" not in PAGE_STYLE and "url(" not in PAGE_STYLE  # nothing to fetch


def test_old_code_may_still_fill_and_replace_the_templates(monkeypatch):
    old = Response.TEMPLATE_GENERIC(
        title="T", body="<b>b</b>", python_version="3", kali_version="0"
    )
    assert "<b>b</b>" in str(old) and "<h1>T</h1>" in str(old)
    from kali.templates import Template

    monkeypatch.setattr(Response, "TEMPLATE_GENERIC", Template("[{title}|{.body}]"))
    assert Response.generic("x", title="y").body == b"[y|x]"


def test_generic_positional_trap_is_kept():
    trap = Response.generic(501)
    assert trap.code == 200 and "501" in trap.body.decode()


def test_error_page_escapes_its_message():
    page = Response.error_page(400, "<script>")
    assert page.code == 400 and b"&lt;script&gt;" in page.body


def request(debug=False):
    return Request("POST", "/x?a=<b>", "HTTP/1.0", Bag(), debug=debug)


def test_swear():
    pages = [Response.swear(request(), "<em>detail</em>", code=503) for _ in range(5)]
    text = pages[0].body.decode()
    assert pages[0].code == 503
    assert all(page.body == pages[0].body for page in pages)  # no random title
    assert "<title>Something went wrong</title>" in text
    assert "Something went wrong during: POST" in text
    assert '<a href="/x?a=&lt;b&gt;">' in text
    assert "<em>detail</em>" in text
    assert "Dag Blammit" in Response.MINCED_OATHS  # kept for old code


def test_from_exception_hides_the_trace_unless_debug(caplog):
    try:
        raise RuntimeError("secret-detail")
    except RuntimeError:
        with caplog.at_level(logging.ERROR, logger="kali"):
            quiet = Response.from_exception(request())
        loud = Response.from_exception(request(debug=True))
    assert quiet.code == 500 and b"secret-detail" not in quiet.body
    assert "secret-detail" in caplog.text
    assert loud.code == 500 and b"secret-detail" in loud.body
    assert b"responsible party" in loud.body


def test_file_response(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"0123456789")
    whole = Response.file(path, content_type="application/x-test")
    assert whole.get_header("content-length") == "10"
    assert whole.get_header("content-type") == "application/x-test"
    assert whole.file_span is not None and whole.file_span[1:] == (0, 10)
    assert whole.body == b"0123456789"
    whole.close()
    part = Response.file(
        str(path), offset=3, length=4, code=206, download_name="ré.bin"
    )
    assert part.body == b"3456" and part.code == 206
    assert part.get_header("content-disposition") == (
        "attachment; filename=\"re.bin\"; filename*=UTF-8''r%C3%A9.bin"
    )
    part.close()
    memory = Response.file(io.BytesIO(b"abc"))
    assert memory.get_header("content-length") == "3" and memory.body == b"abc"


def test_stream_response_has_no_length():
    response = Response.stream(["a", (b"b" for _ in range(2))], content_type="text/csv")
    assert response.get_header("content-length") is None
    assert response.content_length is None and response.file_span is None
    assert response.body == b"abb"


def test_cookies_and_header_changes():
    response = Response("x").set_cookie("sid", "abc", max_age=60)
    response.set_cookie("pref", "1", same_site="Strict", http_only=False, secure=True)
    cookies = [v for k, v in response.headers if k == "set-cookie"]
    assert cookies == [
        "sid=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Lax",
        "pref=1; Path=/; SameSite=Strict; Secure",
    ]
    response.delete_cookie("sid")
    assert response.headers[-3] == (
        "set-cookie",
        "sid=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax",
    ) or any(v.startswith("sid=; Path=/; Max-Age=0") for k, v in response.headers)
    response.set_header("X-Thing", "1").set_header("x-thing", "2")
    assert [v for k, v in response.headers if k == "x-thing"] == ["2"]
    assert b"x-thing: 2\r\n" in response.head
    for bad in (
        lambda: response.set_cookie("a b", "1"),
        lambda: response.set_cookie("a", "x;y"),
        lambda: response.set_cookie("a", "1", same_site="Bogus"),
        lambda: response.set_header("content-length", "1"),
        lambda: response.add_header("content-length", "1"),
    ):
        with pytest.raises(ValueError):
            bad()


def test_http_status_members_are_codes():
    response = Response("gone", code=HTTPStatus.GONE)
    assert response.code == 410 and type(response.code) is int
    assert response.head.startswith(b"HTTP/1.0 410 Gone\r\n")


@pytest.mark.parametrize("code", [200, 201, 299, 404, 500, 599])
@pytest.mark.parametrize("content", ["", "héllo", b"\x00bytes", ["a", [b"b"]]])
def test_head_is_the_status_line_and_the_headers_sent(code, content):
    response = Response(content, code=code)
    reason = Response.REASON.get(code, b"Unknown").decode()
    lines = [f"HTTP/1.0 {code} {reason}"]
    lines += [f"{name}: {value}" for name, value in response.headers]
    assert response.head == ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    assert response.get_header("content-length") == str(len(response.body))
    assert response.content == response.head + response.body
