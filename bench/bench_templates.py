"""Template benchmarks: the classic bigtable against Jinja2, and a nested page.

Run from a checkout: ``python3 bench/bench_templates.py``.

* bigtable: 1000 rows of 10 integer columns into an HTML table, autoescaping
  on.  kali's output must be byte-identical to Jinja2's, and kali must take at
  most half Jinja2's time (both measured here, best of several runs).  kali is
  timed to *bytes* (``flatten(template.sub(...))``), Jinja2 to a ``str``
  (``template.render(...)``, without encoding), which favours Jinja2.
* conditionals: 1000 rows of mappings, each with a ``{?name}…{:else}…{/name}``
  and a ``{!name}…{:else}…{/name}`` section, against Jinja2's ``{% if %}``
  (reported, not a pass/fail target).
* nested page: a page extending a base (``<extend>`` files in a
  TemplateFolder) with a 100-row loop, rendered and flattened, in µs.

Jinja2 is only needed here, never by kali; without it the comparison is
skipped.  Exit status 1 means kali missed the bigtable target.
"""

from __future__ import annotations

import importlib.metadata
import pathlib
import sys
import tempfile
import timeit
from collections.abc import Callable
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from kali.iolist import flatten  # noqa: E402
from kali.templates import Template, TemplateFolder  # noqa: E402

TARGET_RATIO = 0.5  # kali's time over Jinja2's, at most
ROUNDS = 7  # best of this many timings; kali and Jinja2 alternate

TABLE = [dict(a=1, b=2, c=3, d=4, e=5, f=6, g=7, h=8, i=9, j=10) for _ in range(1000)]

KALI_BIGTABLE = (
    "<table>{@table:row}\n"
    "<tr>{@row:column}<td>{column}</td>{/row}</tr>{/table}\n"
    "</table>"
)
JINJA_BIGTABLE = """<table>
{%- for row in table %}
<tr>{% for column in row.values() %}<td>{{ column }}</td>{% endfor %}</tr>
{%- endfor %}
</table>"""

CONDITIONAL_ROWS = [
    {"id": n, "paid": n % 2 == 0, "note": f"<{n}>" if n % 3 == 0 else ""}
    for n in range(1000)
]
KALI_CONDITIONAL = (
    "<table>{@rows}\n<tr>{?paid}<td class=paid>{id}</td>{:else}<td>{id}</td>"
    "{/paid}{!note}<td>-</td>{:else}<td>{note}</td>{/note}</tr>{/rows}\n</table>"
)
JINJA_CONDITIONAL = """<table>
{%- for row in rows %}
<tr>{% if row.paid %}<td class=paid>{{ row.id }}</td>{% else %}<td>{{ row.id }}\
</td>{% endif %}{% if not row.note %}<td>-</td>{% else %}<td>{{ row.note }}</td>\
{% endif %}</tr>
{%- endfor %}
</table>"""

KALI_FILES = {
    "base.tpl": (
        "<!DOCTYPE html>\n"
        "<html><head><title>{title}</title></head>\n"
        "<body><h1>{title}</h1>\n{.body}\n<footer>{footer}</footer></body></html>"
    ),
    "page.tpl": (
        "<extend>base\n"
        "<?title?>Orders of {user}\n"
        "<?body?>\n"
        "<table>{@orders}\n"
        "<tr><td>{id}</td><td>{item}</td><td>{price:cents}</td></tr>"
        "{^orders}<tr><td>No orders.</td></tr>{/orders}\n"
        "</table>\n"
        "</extend>\n"
    ),
}
JINJA_FILES = {
    "base.html": (
        "<!DOCTYPE html>\n"
        "<html><head><title>{% block title %}{% endblock %}</title></head>\n"
        "<body><h1>{{ self.title() }}</h1>\n{% block body %}{% endblock %}\n"
        "<footer>{{ footer }}</footer></body></html>"
    ),
    "page.html": (
        '{% extends "base.html" %}'
        "{% block title %}Orders of {{ user }}{% endblock %}"
        "{% block body %}<table>{% for o in orders %}\n"
        "<tr><td>{{ o.id }}</td><td>{{ o.item }}</td>"
        "<td>{{ '{:,.2f}'.format(o.price) }}</td></tr>"
        "{% else %}<tr><td>No orders.</td></tr>{% endfor %}\n"
        "</table>{% endblock %}"
    ),
}
PAGE_PARAMS: dict[str, Any] = {
    "user": "Ann <ann@example.com>",
    "footer": "Kali & friends",
    "orders": [
        {"id": n, "item": f"Widget <{n}> & co", "price": n * 12.5} for n in range(100)
    ],
}


def best_microseconds(function: Callable[[], object], number: int) -> float:
    """The best of ROUNDS timings of ``number`` calls, per call, in µs."""
    return min(timeit.repeat(function, number=number, repeat=ROUNDS)) / number * 1e6


def main() -> int:
    kali_template = Template(KALI_BIGTABLE)
    params = {"table": TABLE}

    def kali_bigtable() -> bytes:
        return flatten(kali_template.sub(params))

    expected = kali_bigtable()
    try:
        import jinja2
    except ImportError:
        jinja2 = None  # type: ignore[assignment]
        print("Jinja2 is not installed: the comparison is skipped.")

    print(f"bigtable ({len(TABLE)} rows x 10 columns, autoescaping), best of {ROUNDS}:")
    kali_us = best_microseconds(kali_bigtable, 20)
    sub_us = best_microseconds(lambda: kali_template.sub(params), 20)
    print(f"  kali   sub + flatten to bytes  {kali_us:9,.0f} µs")
    print(f"  kali   sub only (a Fragment)   {sub_us:9,.0f} µs")
    status = 0
    if jinja2 is not None:
        environment = jinja2.Environment(autoescape=True)
        jinja_template = environment.from_string(JINJA_BIGTABLE)
        produced = jinja_template.render(table=TABLE).encode()
        assert produced == expected, "kali and Jinja2 disagree on bigtable"
        jinja_us = best_microseconds(lambda: jinja_template.render(table=TABLE), 20)
        kali_us = min(kali_us, best_microseconds(kali_bigtable, 20))  # same drift
        ratio = kali_us / jinja_us
        verdict = "OK" if ratio <= TARGET_RATIO else "TOO SLOW"
        version = importlib.metadata.version("jinja2")
        print(f"  Jinja2 {version:6} render (a str)  {jinja_us:9,.0f} µs")
        print(
            f"  ratio kali / Jinja2: {ratio:.2f} (target <= {TARGET_RATIO}): {verdict}"
        )
        print(f"  output: {len(expected):,} bytes, byte-identical")
        status = 0 if ratio <= TARGET_RATIO else 1

    conditional = Template(KALI_CONDITIONAL)
    conditional_params = {"rows": CONDITIONAL_ROWS}
    conditional_bytes = flatten(conditional.sub(conditional_params))
    conditional_us = best_microseconds(
        lambda: flatten(conditional.sub(conditional_params)), 20
    )
    print(f"conditionals ({len(CONDITIONAL_ROWS)} rows, two sections each)")
    print(f"  kali   sub + flatten to bytes  {conditional_us:9,.0f} µs")
    if jinja2 is not None:
        environment = jinja2.Environment(autoescape=True)
        jinja_conditional = environment.from_string(JINJA_CONDITIONAL)
        produced = jinja_conditional.render(rows=CONDITIONAL_ROWS).encode()
        assert produced == conditional_bytes, "kali and Jinja2 disagree on sections"
        jinja_conditional_us = best_microseconds(
            lambda: jinja_conditional.render(rows=CONDITIONAL_ROWS), 20
        )
        print(f"  Jinja2 render (a str)          {jinja_conditional_us:9,.0f} µs")
        print(f"  ratio kali / Jinja2: {conditional_us / jinja_conditional_us:.2f}")

    with tempfile.TemporaryDirectory() as directory:
        root = pathlib.Path(directory)
        for name, text in KALI_FILES.items():
            (root / name).write_text(text, encoding="utf-8")
        page = TemplateFolder(root)("page")
        page_bytes = flatten(page.sub(PAGE_PARAMS))
        page_us = best_microseconds(lambda: flatten(page.sub(PAGE_PARAMS)), 500)
    print("nested page (page <extend>s base, 100-row loop), best of", ROUNDS)
    print(f"  kali   sub + flatten to bytes  {page_us:9,.1f} µs")
    if jinja2 is not None:
        loader = jinja2.DictLoader(JINJA_FILES)
        environment = jinja2.Environment(loader=loader, autoescape=True)
        jinja_page = environment.get_template("page.html")
        produced = jinja_page.render(**PAGE_PARAMS).encode()
        assert produced == page_bytes, "kali and Jinja2 disagree on the page"
        jinja_page_us = best_microseconds(lambda: jinja_page.render(**PAGE_PARAMS), 500)
        print(f"  Jinja2 render (a str)          {jinja_page_us:9,.1f} µs")
        print(f"  output: {len(page_bytes):,} bytes, byte-identical")
    return status


if __name__ == "__main__":
    sys.exit(main())
