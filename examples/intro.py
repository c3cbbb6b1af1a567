"""A guided tour: a handler, a Router, templates, a form, and shutting down.

Run it with ``./demo.sh intro`` (or ``demo intro`` on Windows). Your browser
opens at the app; read this file alongside, top to bottom.
"""

import logging

from kali import Response, Router, Template, run_app

# kali logs through the standard ``logging`` module and configures nothing by
# itself. For a demo, it is nice to see each request on the console.
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

# A Template is text with {placeholders}. {name} is HTML-escaped, so whatever
# a user types can never turn into markup. {.name} (with a dot) inserts trusted
# HTML as it is: use it for the output of other templates.
PAGE = Template(
    """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}</style>
</head><body>
<h1>{title}</h1>
{.body}
<hr><p><a href="/">Home</a></p>
</body></html>"""
)

HOME = Template(
    """<p>Welcome to kali! Each link below is a different way to answer a request.</p>
<ul>
<li><a href="/hello/World">/hello/World</a>: a path with a wildcard</li>
<li><a href="/add?a=2&amp;b=40">/add?a=2&amp;b=40</a>: query parameters</li>
<li><a href="/greet">/greet</a>: a form that posts back to the server</li>
<li><a href="/plain">/plain</a>: plain text</li>
<li><a href="/oops">/oops</a>: what happens when a handler fails</li>
<li><a href="/quit">/quit</a>: shut the server down</li>
</ul>"""
)

GREET_FORM = Template(
    """<form method="post">
<label for="name">Your name:</label>
<input id="name" name="name" value="{name}" autofocus>
<button>Greet me</button>
</form>
<p>{greeting}</p>"""
)


def make_app() -> Router:
    """Build the application: a Router that sends each path to a function."""
    app = Router()

    # The simplest route: a function registered for one path. Whatever it
    # returns becomes the body. Strings, bytes and (nested) lists of them are
    # all fine: kali joins them only once, when it sends the response.
    @app.function("/")
    def home():
        return PAGE(title="kali: the intro", body=HOME())

    # A "*" in the path matches one component and is passed in positionally.
    @app.function("/hello/*")
    def hello(name):
        return PAGE(title="Hello, " + name + "!", body="<p>Nice to meet you.</p>")

    # Query parameters arrive as keyword arguments (always as strings). A
    # missing or unexpected parameter is answered with a 400 that names it.
    @app.function("/add")
    def add(a, b):
        total = int(a) + int(b)
        return PAGE(
            title="Adding up",
            body=Template("<p>{a} + {b} = {t}</p>")(a=a, b=b, t=total),
        )

    # To accept a POST, write a servlet: a class with do_GET / do_POST methods.
    # The form posts back to the same URL; request.POST holds the fields.
    @app.servlet("/greet")
    class Greet:
        def do_GET(self, request):
            return PAGE(title="Greetings", body=GREET_FORM(name="", greeting=""))

        def do_POST(self, request):
            name = request.POST.get("name", "").strip()
            greeting = f"Hello, {name}!" if name else "Please type a name."
            return PAGE(
                title="Greetings", body=GREET_FORM(name=name, greeting=greeting)
            )

    @app.function("/plain")
    def plain():
        return Response.plain_text(
            "Just text. <b>Not bold</b>, because it is not HTML."
        )

    # A handler that raises gets a plain 500 page; the traceback goes to the
    # log (and onto the page too if you pass debug=True to serve_http).
    @app.function("/oops")
    def oops():
        raise RuntimeError("This is what a bug looks like.")

    # A response with shut_down=True is sent, and then serve_http returns.
    @app.function("/quit")
    def quit_():
        return Response(
            PAGE(title="Goodbye!", body="<p>The server has stopped.</p>"),
            shut_down=True,
        )

    return app


if __name__ == "__main__":
    # run_app reads --port (0 = any free port) and --no-browser, listens on
    # 127.0.0.1, prints its address, opens your browser, and serves one
    # request at a time until a shut_down response (or Ctrl-C).
    run_app(make_app(), description="A guided tour of kali.")
