"""A guided tour of kali: handlers, routes, templates, forms, errors, quitting.

Run it with ``./demo.sh intro`` (or ``demo intro`` on Windows). Your browser
opens at the tour. Each step shows a few lines of this file beside what they
do, running live in this very server, and ends with a link to the next step.
Read the file alongside, top to bottom: ``make_app`` is the app the tour is
about, one block per step; after it come the tour's own pages.

``--port 0`` picks any free port and ``--no-browser`` only prints the address.
The server stops when you press Quit (a button, which sends a POST: a plain
link, or an image on some other page, cannot stop it) or Ctrl-C.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import NamedTuple

from kali import HTTPError, Response, Router, Template, run_app
from kali.forms import Entry, Form, IntegerLens, Required


def make_app() -> Router:
    """Build the application: a Router that sends each path to a function.

    Each block starting with a "# -- Step" line is what that page of the tour
    shows, to the next "# --" line.
    """
    app = Router()

    # -- Step 1: a handler is a function --------------------------------
    # The Router calls the function registered for the path. What it
    # returns is the answer: here plain text, so <b> is shown, not obeyed.
    @app.function("/plain")
    def plain():
        return Response.plain_text("Just text. <b>Not bold</b>: not HTML.")

    # -- Step 2: a wildcard, and a template -----------------------------
    # A "*" in the path matches one segment and arrives as an argument.
    # In a Template, {name} is HTML-escaped: whatever is typed into the
    # address bar shows as text and never turns into markup.
    hello_page = Template("<h1>Hello, {name}!</h1><p>Nice to meet you.</p>")

    @app.function("/hello/*")
    def hello(name):
        return hello_page(name=name)

    # -- Step 3: reading a form -----------------------------------------
    # A servlet is a class with one method per HTTP method. The form
    # posts back to the same address; request.POST holds its fields.
    greet_page = Template(
        '<form method="post"><label>Your name: '
        '<input name="name" value="{name}"></label> '
        "<button>Greet me</button></form><p>{greeting}</p>"
    )

    @app.servlet("/greet")
    class Greet:
        def do_GET(self, request):
            return greet_page(name="", greeting="")

        def do_POST(self, request):
            name = request.POST.get("name", "").strip()
            greeting = f"Hello, {name}!" if name else "Please type a name."
            return greet_page(name=name, greeting=greeting)

    # -- Step 4: checking input -----------------------------------------
    # Query parameters arrive as text. A Form converts and checks each
    # field. Wrong input gets the form back as typed, a message beside
    # each wrong field, and the status 400 (Bad Request): never a crash.
    whole_number = Required(IntegerLens())
    numbers = Form(
        {
            "a": Entry(label="a", lens=whole_number, size=8),
            "b": Entry(label="b", lens=whole_number, size=8),
        }
    )
    sum_line = Template("<p>{a} + {b} = <strong>{total}</strong></p>")

    @app.servlet("/add")
    class Add:
        def do_GET(self, request):
            if not request.GET:  # nothing asked yet: an empty form
                return numbers.render_form({}, method="get", submit="Add")
            given = numbers.parse(request.GET)
            form = numbers.render_form(
                given.intermediate, given.errors, method="get", submit="Add"
            )
            if given.errors:
                return Response(form, code=400)
            a, b = given.native["a"], given.native["b"]
            return [form, sum_line(a=a, b=b, total=a + b)]

    # -- Step 5: when something goes wrong ------------------------------
    # A handler that raises gets a plain 500 page, and its traceback goes
    # to the terminal. HTTPError answers with the status you choose. A
    # wildcard's type is checked first: with "number: int", /book/abc is
    # a 404 before the function runs.
    @app.function("/oops")
    def oops():
        raise RuntimeError("This is what a bug looks like.")

    @app.function("/book/*")
    def book(number: int):
        raise HTTPError(404, f"There is no book number {number} here.")

    # -- Step 6: stopping the server ------------------------------------
    # A response with shut_down=True is sent, then the server stops.
    # Only a POST may do that: GET /quit gets 405 (Method Not Allowed),
    # so a link, or an <img> on some other page, cannot stop your app.
    @app.servlet("/quit")
    class Quit:
        def do_POST(self, request):
            return Response(goodbye_page(), shut_down=True)

    # -- The tour's own pages (not a step) -----------------------------
    add_tour(app, read_steps(Path(__file__).read_text(encoding="utf-8")))
    return app


# == The tour ======================================================================
# Everything below makes the pages you are reading. It uses nothing the steps
# have not shown: a Router, Templates, a wildcard typed "int", HTTPError.


class Step(NamedTuple):
    """One page of the tour. Its code is read from make_app (see read_steps)."""

    title: str
    #: What to notice, as trusted HTML (written here, never taken from a user).
    text: str
    #: Addresses that run the step's code; the first is shown when the page opens.
    paths: tuple[str, ...]
    #: Where the README explains it, section by section.
    readme: tuple[str, ...]


STEPS = (
    Step(
        "A handler is a function",
        "kali serves one request at a time. The <code>Router</code> finds the"
        " function registered for the path and calls it; what it returns is"
        " the answer. <code>Response.plain_text</code> sends text, so the"
        " <code>&lt;b&gt;</code> shows as it is.",
        ("/plain",),
        ("Tutorial", "1. A handler is a function"),
    ),
    Step(
        "A wildcard, and a template",
        "The <code>*</code> in <code>/hello/*</code> matches one part of the"
        " path, which arrives as the function's argument. The template escapes"
        " it: try the last link, whose name is an HTML tag.",
        ("/hello/World", "/hello/Ada%20Lovelace", "/hello/%3Cscript%3E"),
        ("Tutorial", "2. Routes"),
    ),
    Step(
        "Reading a form",
        "A servlet answers several methods: <code>do_GET</code> shows the"
        " form, <code>do_POST</code> reads <code>request.POST</code>. Type a"
        " name in the frame and press the button.",
        ("/greet",),
        ("Tutorial", "4. Reading the request"),
    ),
    Step(
        "Checking input",
        "Everything from the address bar is text. The <code>Form</code> turns"
        " it into numbers, or answers 400 with a message beside each field"
        " that is wrong, keeping what was typed. Try the second link, or type"
        " letters into the frame.",
        ("/add?a=2&b=40", "/add?a=x&b=40", "/add"),
        ("Tutorial", "6. Forms that keep what the user typed"),
    ),
    Step(
        "When something goes wrong",
        "A bug is a plain 500 page: look at the terminal for the traceback."
        " <code>HTTPError</code> chooses the status and the message. A path"
        " nobody serves, or a wildcard that does not convert, is a 404.",
        ("/oops", "/book/7", "/book/abc", "/no/such/page"),
        ("Tutorial", "5. When something goes wrong"),
    ),
    Step(
        "Stopping the server",
        "Asking with a GET is refused, as the frame shows. The button below"
        " sends a POST: the server answers with a goodbye page and stops."
        " Where next? The README's second tutorial builds a whole app on"
        " SQLite, and <code>./demo.sh datebook</code> runs a big one.",
        ("/quit",),
        ("Reference", "serve_http"),
    ),
)

#: The line that starts a step's code in make_app: "# -- Step 3: ...".
STEP_LINE = re.compile(r"\s*# -- Step (\d+):")


def read_steps(source: str) -> dict[int, str]:
    """The code of each step in ``source`` (this file): the lines after its
    "# -- Step N:" line up to the next "# --" line, dedented."""
    code: dict[int, list[str]] = {}
    current: list[str] | None = None
    for line in source.splitlines():
        if line.lstrip().startswith("# -- "):
            match = STEP_LINE.match(line)
            current = code.setdefault(int(match.group(1)), []) if match else None
        elif current is not None:
            current.append(line)
    return {n: textwrap.dedent("\n".join(lines)).strip() for n, lines in code.items()}


def code_lines(code: str) -> list[dict[str, str]]:
    """The lines of ``code``, each split into its code and its comment (a
    whole-line comment, or one after code with no quotes in it), for colour."""
    lines = []
    for line in code.splitlines():
        if line.lstrip().startswith("#"):
            text, comment = "", line
        else:
            text, mark, comment = line.partition("  # ")
            if not mark or '"' in text or "'" in text:
                text, comment = line, ""
            else:
                text, comment = text + "  ", "# " + comment
        lines.append({"code": text, "comment": comment})
    return lines


def add_tour(app: Router, code: dict[int, str]) -> None:
    """Mount the tour's pages on ``app``: "/" and "/step/1" to "/step/6"."""

    @app.function("/")
    def welcome():
        steps = [
            {"href": f"/step/{n}", "title": step.title, "path": step.paths[0]}
            for n, step in enumerate(STEPS, 1)
        ]
        return tour_page("Welcome to kali", WELCOME(steps=steps), current=0)

    @app.function("/step/*")
    def step(number: int):
        if not 1 <= number <= len(STEPS):
            raise HTTPError(404, f"The tour has {len(STEPS)} steps.")
        shown = STEPS[number - 1]
        if number < len(STEPS):
            next_href = f"/step/{number + 1}"
            next_label = f"Next: {STEPS[number].title} →"
        else:
            next_href, next_label = "/", "Back to the start"
        content = STEP_PAGE(
            number=number,
            count=len(STEPS),
            text=shown.text,
            lines=code_lines(code[number]),
            first=shown.paths[0],
            paths=[{"path": path} for path in shown.paths],
            is_last=number == len(STEPS),
            readme=" → ".join(("README", *shown.readme)),
            back=f"/step/{number - 1}" if number > 1 else "/",
            next_href=next_href,
            next_label=next_label,
        )
        return tour_page(shown.title, content, current=number)


def tour_page(title: str, content: object, current: int) -> object:
    """A whole page of the tour: the bar with the steps, then ``content``."""
    nav = [
        {
            "href": f"/step/{n}",
            "label": str(n),
            "title": step.title,
            "current": "current" if n == current else "",
        }
        for n, step in enumerate(STEPS, 1)
    ]
    return LAYOUT(title=title, css=CSS, nav=nav, content=content)


def goodbye_page() -> object:
    """What the Quit button answers: the last page this server sends."""
    return LAYOUT(title="Goodbye", css=CSS, nav=[], content=GOODBYE())


LAYOUT = Template(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · kali tour</title><link rel="icon" href="data:,">
<style>{.css}</style>
</head>
<body>
<header class="top">
  <a class="brand" href="/">kali tour</a>
  <nav>{@nav}<a class="{current}" href="{href}" title="{title}">{label}</a>{/nav}</nav>
  {?nav}<form method="post" action="/quit">
    <button class="quit">Quit</button></form>{/nav}
</header>
<main><h1>{title}</h1>
{content}
</main>
</body></html>"""
)

WELCOME = Template(
    """<p class="lead">kali serves a small web app to your own browser: one thread,
one request at a time, the standard library only. It is made for local
data-entry apps on SQLite. This tour is such an app: each step shows a few
lines of <code>examples/intro.py</code> beside what they do, running live in
this very server. The terminal shows a line for every request.</p>
<section class="panel"><h2>Six steps</h2><ol class="steps">
{@steps}<li><a href="{href}">{title}</a> <code>{path}</code></li>
{/steps}</ol></section>
<div class="actions">
  <a class="button primary" rel="next" href="/step/1">Start the tour →</a></div>
<p class="muted">Quit (at the top right) stops the server; so does Ctrl-C in the
terminal.</p>"""
)

STEP_PAGE = Template(
    """<p class="muted">Step {number} of {count}</p>
<p class="lead">{.text}</p>
<div class="columns tour">
  <section class="panel"><h2>The code</h2>
    <pre class="code"><code>{@lines}{code}{?comment}<span
      class="comment">{comment}</span>{/comment}
{/lines}</code></pre>
    <p class="muted">from <code>make_app()</code> in <code>examples/intro.py</code></p>
  </section>
  <section class="panel"><h2>What it does</h2>
    <iframe name="result" src="{first}" title="What the app answers"></iframe>
    <p class="try">Try, in the frame:
      {@paths}<a href="{path}" target="result">{path}</a> {/paths}</p>
    {?is_last}<form method="post" action="/quit">
      <button class="danger">Quit: stop the server</button></form>{/is_last}
  </section>
</div>
<p class="readme">Read more: <strong>{readme}</strong></p>
<nav class="actions"><a class="button" href="{back}">← Back</a>
  <span class="grow"></span>
  <a class="button primary" rel="next" href="{next_href}">{next_label}</a></nav>"""
)

GOODBYE = Template(
    """<section class="panel"><p>The server has stopped: you can close this tab.</p>
<p>To read on, open the README at <strong>README → Tutorial: an SQLite app, step
by step</strong>, or run a whole app: <code>./demo.sh datebook</code>.</p>
</section>"""
)

# The datebook's look (examples/datebook/static/style.css), cut down to what
# these pages use, with the code and the frame added. Inline, so that the tour
# needs no other file and no network.
CSS = """
:root { --ink: #1f2430; --muted: #5f6675; --line: #dde1e8; --paper: #fff;
  --desk: #f3f4f7; --accent: #3d5afe; --accent-dark: #2a3eb1;
  --accent-soft: #e8ecff; --danger: #c62828; --radius: 8px; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--desk); color: var(--ink); line-height: 1.45;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans",
    "Helvetica Neue", Arial, sans-serif; }
a { color: var(--accent-dark); }
header.top { display: flex; align-items: center; gap: 1.5rem;
  padding: .6rem 1.5rem; background: var(--ink); color: #fff; }
header.top .brand { color: #fff; font-weight: 700; font-size: 1.15rem;
  text-decoration: none; letter-spacing: .02em; }
header.top .brand::before { content: ""; display: inline-block; width: .85em;
  height: .85em; margin-right: .7em; border-radius: 3px;
  background: var(--accent); box-shadow: .25em .25em 0 #00a389;
  vertical-align: -.05em; }
header.top nav { display: flex; gap: .25rem; flex: 1; }
header.top nav a { color: #c9cfdb; text-decoration: none; padding: .35rem .7rem;
  border-radius: var(--radius); }
header.top nav a:hover { background: rgba(255, 255, 255, .08); color: #fff; }
header.top nav a.current { background: var(--accent); color: #fff; }
header.top form { margin: 0; }
main { max-width: 80rem; margin: 1.5rem auto 3rem; padding: 0 1.5rem; }
h1 { font-size: 1.6rem; margin: .2rem 0 1rem; }
h2 { font-size: 1.15rem; margin: 0 0 .6rem; }
main > .muted:first-of-type { margin: -.8rem 0 .4rem; }
.lead { font-size: 1.05rem; max-width: 48rem; }
.muted { color: var(--muted); }
.panel { background: var(--paper); border: 1px solid var(--line);
  border-radius: var(--radius); padding: 1rem 1.25rem; margin-bottom: 1.25rem; }
.panel > :last-child { margin-bottom: 0; }
.columns { display: grid; gap: 1.25rem; margin-bottom: 1.25rem;
  grid-template-columns: repeat(auto-fit, minmax(22rem, 1fr)); }
.columns > .panel { margin-bottom: 0; min-width: 0; }
.columns.tour { grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); }
code { font-family: ui-monospace, "Cascadia Mono", Menlo, Consolas,
  "DejaVu Sans Mono", monospace; font-size: .9em; }
pre.code { margin: 0 0 .6rem; padding: .9rem 1rem; overflow-x: auto;
  border-radius: 6px; background: var(--ink); color: #e8ebf2; line-height: 1.5;
  font-size: .85rem; }
pre.code .comment { color: #9aa5bd; font-style: italic; }
iframe { width: 100%; height: 15rem; border: 1px solid #c5cbd6;
  border-radius: 6px; background: #fff; }
.try a { margin-right: .6rem; }
.readme { padding: .6rem 1rem; border-radius: var(--radius);
  background: var(--accent-soft); color: var(--accent-dark); }
ol.steps { margin: 0; padding-left: 1.4rem; }
ol.steps li { padding: .35rem 0; border-bottom: 1px solid var(--line); }
ol.steps li:last-child { border-bottom: 0; }
ol.steps code { margin-left: .5rem; color: var(--muted); }
.actions { display: flex; gap: .6rem; margin-top: 1.25rem; }
.grow { flex: 1; }
button, .button { display: inline-block; padding: .45rem 1rem;
  border: 1px solid var(--line); border-radius: var(--radius);
  background: var(--paper); color: var(--ink); font: inherit;
  text-decoration: none; cursor: pointer; line-height: 1.3; }
button:hover, .button:hover { border-color: #b8bfcc; }
.button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
.button.primary:hover { background: var(--accent-dark); }
button.danger { background: var(--danger); border-color: var(--danger); color: #fff; }
button.quit { padding: .25rem .8rem; background: transparent; color: #c9cfdb;
  border-color: #4a5263; }
button.quit:hover { color: #fff; border-color: #c9cfdb; }
@media (max-width: 60rem) { .columns.tour { grid-template-columns: 1fr; } }
@media (max-width: 40rem) { header.top { flex-wrap: wrap; } }
"""


if __name__ == "__main__":
    # run_app reads --port (0 = any free port) and --no-browser, listens on
    # 127.0.0.1, prints its address, opens your browser, and serves one
    # request at a time until a shut_down response (or Ctrl-C).
    run_app(make_app(), description="A guided tour of kali.")
