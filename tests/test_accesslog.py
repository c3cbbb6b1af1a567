"""The access line (kali.accesslog): Combined Log Format, secrets redacted,
one request one line; and the line the real loop writes."""

from __future__ import annotations

import logging
import re
import socket
import threading

from kali.accesslog import access_line, log_time, quoted, redact
from kali.protocol import HeadParser
from kali.server import Server

COMBINED = re.compile(
    r'^(?P<host>\S+) - - \[(?P<time>[^\]]+)\] "(?P<request>(?:[^"\\]|\\.)*)" '
    r'(?P<status>\d{3}) (?P<size>\d+|-) "(?P<referer>(?:[^"\\]|\\.)*)" '
    r'"(?P<agent>(?:[^"\\]|\\.)*)" (?P<ms>\d+\.\d)ms(?P<rest>.*)$'
)


def head_of(raw: bytes):
    parser = HeadParser()
    head = parser.feed(raw)
    assert head is not None
    return head


def test_log_time_is_common_log_format():
    assert re.fullmatch(
        r"\d\d/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:"
        r"\d\d:\d\d:\d\d [+-]\d{4}",
        log_time(0.0),
    )


def test_a_line_has_every_combined_field():
    head = head_of(
        b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\nReferer: http://x/\r\n"
        b"User-Agent: Test/1.0 (X)\r\n\r\n"
    )
    line = access_line(("127.0.0.1", 5000), head, 200, 512, 1.25)
    found = COMBINED.match(line)
    assert found, line
    assert found["host"] == "127.0.0.1"
    assert found["request"] == "GET /a?b=1 HTTP/1.1"
    assert (found["status"], found["size"]) == ("200", "512")
    assert (found["referer"], found["agent"]) == ("http://x/", "Test/1.0 (X)")
    assert found["ms"] == "1.2" or found["ms"] == "1.3"
    assert found["rest"] == ""


def test_missing_fields_are_dashes():
    head = head_of(b"GET / HTTP/1.0\r\n\r\n")
    found = COMBINED.match(access_line(None, head, 404, None, 0.0))
    assert found and found["host"] == "-" and found["size"] == "-"
    assert found["referer"] == "-" and found["agent"] == "-"
    found = COMBINED.match(access_line(("::1", 1, 0, 0), None, 408, 20, 3.0))
    assert found and found["request"] == "-" and found["host"] == "::1"


def test_token_values_are_redacted_in_target_and_referer():
    assert redact("/?kali-token=s3cret&x=1") == "/?kali-token=REDACTED&x=1"
    assert redact("/p?a=1&Token=abc") == "/p?a=1&Token=REDACTED"
    assert redact("/p?csrf%5Ftoken=abc") == "/p?csrf%5Ftoken=REDACTED"
    assert redact("/p?a=token") == "/p?a=token"  # a value, not a name
    assert redact("/token/5?q=1") == "/token/5?q=1"
    head = head_of(
        b"GET /open?kali-token=s3cret HTTP/1.1\r\nHost: x\r\n"
        b"Referer: http://x/?token=s3cret\r\n\r\n"
    )
    line = access_line(("127.0.0.1", 1), head, 302, 0, 0.1)
    assert "s3cret" not in line and line.count("REDACTED") == 2


def test_quotes_and_controls_cannot_forge_a_field_or_a_line():
    assert quoted('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    head = head_of(b'GET /"x HTTP/1.1\r\nHost: x\r\nUser-Agent: a" 200 5 "\x85\r\n\r\n')
    line = access_line(("127.0.0.1", 1), head, 200, 5, 0.1)
    found = COMBINED.match(line)
    assert found and found["request"] == 'GET /\\"x HTTP/1.1'
    assert found["agent"] == 'a\\" 200 5 \\"\\x85' and "\n" not in line


def test_a_truncated_response_says_so_with_what_was_sent():
    head = head_of(b"GET /big HTTP/1.0\r\n\r\n")
    line = access_line(("127.0.0.1", 1), head, 200, 1000, 5.0, truncated=(300, 1000))
    found = COMBINED.match(line)
    assert found and found["size"] == "300" and found["rest"] == " truncated 300/1000"
    line = access_line(("127.0.0.1", 1), head, 200, None, 5.0, truncated=(7, None))
    assert line.endswith(" truncated 7/-")


def test_the_loop_writes_one_combined_line_per_request(caplog):
    server = Server(lambda request: "hello", port=0)
    server.bind()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="kali"):
            with socket.create_connection(("127.0.0.1", server.port), 10) as sock:
                sock.sendall(
                    b"GET /hi?kali-token=s3cret HTTP/1.0\r\nUser-Agent: probe\r\n\r\n"
                )
                while sock.recv(4096):
                    pass
            server.stop()
            thread.join(10)
    finally:
        server.stop()
    lines = [r.getMessage() for r in caplog.records if '"GET /hi' in r.getMessage()]
    assert len(lines) == 1
    found = COMBINED.match(lines[0])
    assert found and found["request"] == "GET /hi?kali-token=REDACTED HTTP/1.0"
    assert (found["status"], found["size"], found["agent"]) == ("200", "5", "probe")
