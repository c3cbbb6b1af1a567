"""kali's template engine: text with placeholders, compiled once, rendered to iolists.

The language (compatible with kali 0.0.8, plus loops and conditionals)::

    {name}          params['name'], HTML-escaped; a missing name stays "{name}"
                    (or raises MissingNameError in strict mode)
    {.name}         params['name'] unescaped (MissingNameError if missing)
    {name:fmt}      the formatter :fmt applied to params['name'], escaped
                    (MissingNameError if missing); formatters are the
                    folder's own, then Template.REGISTRY (:num, :cents, :url,
                    :date built in).  An unknown :fmt leaves the text literal
                    in a Template, and is a syntax error in a folder's files
    {.name:fmt}     unescaped; the formatter is ignored

    {@rows:row} ... {/rows}
                    the text between, once per item of params['rows'], with
                    {row} standing for the item (a mapping's items are its
                    values, as a sqlite3.Row's are); None means no items
    {@rows} ... {/rows}
                    the same, for items that are mappings (dicts, sqlite3.Rows):
                    their keys are names inside the loop
    {@rows...} ... {^rows} ... {/rows}
                    what follows {^rows} is rendered instead when there are
                    no items

    {?name} ... {/name}
                    the text between when the value is true (Python's truth:
                    None, False, 0, "" and empty lists are false; a missing
                    name is false, or MissingNameError in strict mode)
    {?name} ... {:else} ... {/name}
                    with what to show otherwise
    {!name} ... {/name}
                    the text between when the value is false

Names are looked up as for {name}: inside loops, in the items first.  All
other text is literal, including every ``{`` that does not start one of
these exactly (CSS and JavaScript pass through); outside a section,
``{^x}``, ``{:else}`` and ``{/x}`` are literal too.  A table of rows of cells
needs no Python::

    <table>{@rows:row}<tr>{@row:cell}<td>{cell}</td>{/row}</tr>{/rows}</table>

Values follow the value rule (:mod:`kali.templates.values`): ``str`` is
escaped at any depth, template output, ``bytes`` and ``Markup`` are inserted
as they are, and ``None`` is nothing.  Files: :class:`TemplateFolder`, whose
templates are strict under pytest and ``serve_http(debug=True)``.

This package produces iolists only: it must not import kali's request,
response, routing or server modules.
"""

from __future__ import annotations

from kali.iolist import Fragment, Markup

from .exceptions import MissingNameError, TemplateSyntaxError
from .loader import TemplateFolder
from .template import AbstractTemplate, SubAssembly, Template, TemplateLoop

__all__ = [
    "AbstractTemplate",
    "Fragment",
    "Markup",
    "MissingNameError",
    "SubAssembly",
    "Template",
    "TemplateFolder",
    "TemplateLoop",
    "TemplateSyntaxError",
]
