"""kali's template engine: text with placeholders, compiled once, rendered to iolists.

The language (compatible with kali 0.0.8, plus loops)::

    {name}          params['name'], HTML-escaped; a missing name stays "{name}"
    {.name}         params['name'] unescaped (KeyError if missing)
    {name:fmt}      Template.REGISTRY[':fmt'](value), escaped (KeyError if
                    missing); an unregistered :fmt leaves the text literal
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

All other text is literal, including every ``{`` that does not start one of
these exactly (CSS and JavaScript pass through); outside a loop, ``{^x}`` and
``{/x}`` are literal too.  A table of rows of cells needs no Python::

    <table>{@rows:row}<tr>{@row:cell}<td>{cell}</td>{/row}</tr>{/rows}</table>

Values follow the value rule (:mod:`kali.templates.values`): ``str`` is
escaped at any depth, template output, ``bytes`` and ``Markup`` are inserted
as they are, and ``None`` is nothing.  Files: :class:`TemplateFolder`.

This package produces iolists only: it must not import kali's request,
response, routing or server modules.
"""

from __future__ import annotations

from kali.iolist import Fragment, Markup

from .exceptions import TemplateSyntaxError
from .loader import TemplateFolder
from .template import AbstractTemplate, SubAssembly, Template, TemplateLoop

__all__ = [
    "AbstractTemplate",
    "Fragment",
    "Markup",
    "SubAssembly",
    "Template",
    "TemplateFolder",
    "TemplateLoop",
    "TemplateSyntaxError",
]
