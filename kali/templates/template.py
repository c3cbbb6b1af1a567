"""The template objects apps use: Template, SubAssembly, TemplateLoop.

:class:`Template` runs the pipeline once, at construction (text → tokens →
tree → Python function; see :meth:`Template.__init__`), and every call renders
by running that function.  Rendering produces template output, a trusted
:class:`~kali.iolist.Fragment`; nothing here joins, flattens or sends it.

This module must not read files (that is :mod:`kali.templates.loader`) and
must not import the HTTP layers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

from kali.iolist import Fragment

from .compiler import RenderFunction, compile_template
from .formatters import BUILTIN_FORMATTERS, check_formatters
from .lexer import PLACEHOLDER_PATTERN
from .parser import parse


class AbstractTemplate:
    """Anything that acts like a template: keyword parameters in, output out.

    Subclasses implement :meth:`sub`.  ``t(**params)`` is ``t.sub(params)``
    (any name may be a parameter, ``self`` included).
    """

    def __call__(self, /, **params: Any) -> Fragment:
        return self.sub(params)

    def sub(self, params: Mapping[str, Any]) -> Fragment:
        """Render with ``params`` (a dict, a ``sqlite3.Row``, any mapping)."""
        raise NotImplementedError(type(self))

    def assembly(self, /, **bindings: Any) -> SubAssembly:
        """A template that fills some of this one's placeholders with templates.

        ``page.assembly(title="Hello, {user}", body=other_template)`` takes
        the parameters of ``page`` and of each binding (strs become
        Templates).  Each binding is rendered with the caller's parameters,
        so a binding may use the caller's value of its own name, and its
        output stays trusted in ``page``'s ``{title}``.  Assemblies nest.
        """
        return SubAssembly(self, bindings)


class Template(AbstractTemplate):
    """A template made from text with ``{placeholders}``, compiled once.

    ``{name}`` inserts ``params['name']`` escaped (a missing name leaves
    ``{name}`` as it is); ``{.name}`` inserts it unescaped; ``{name:fmt}``
    applies ``Template.REGISTRY[':fmt']`` first (a formatter that is not
    registered leaves the text as it is); ``{@rows:row} … {^rows} … {/rows}``
    repeats its body for each item; ``{?name} … {:else} … {/name}`` shows
    its body when the value is true.  See ``kali/templates/__init__.py``.

    ``name`` (the file name, if any), ``lineno`` and ``column`` (where
    ``text`` starts in that file) are only used in error messages.

    ``strict``: False (the default, as in kali 0.0.8) leaves a missing
    ``{name}`` literal and makes a missing ``{?name}`` false; True raises
    :class:`~kali.templates.MissingNameError` for them instead; None decides
    when a name is missing: strict under pytest or with ``KALI_DEBUG=1``.

    ``formatters`` (``{'money': function}``) are looked up before
    ``REGISTRY``; when they are given, even empty, a ``{name:fmt}`` whose
    formatter is unknown is a syntax error instead of literal text.

    Raises :class:`~kali.templates.TemplateSyntaxError` for a malformed
    section (or an unknown formatter, see above), TypeError for text that is
    not a str or a formatter that is not callable, and ValueError for a
    formatter name that ``{x:name}`` could not use.
    """

    #: The 0.0.8 placeholder pattern (``{.name:fmt}``), kept for apps.
    PATTERN = PLACEHOLDER_PATTERN

    #: ``':name'`` → formatter.  Register before constructing the templates
    #: that use it: formatters are looked up when a template is compiled.
    #: (A class attribute, as in kali 0.0.8, so apps share one registry.)
    #: The built-ins are ``:num``, ``:cents``, ``:url`` and ``:date``
    #: (:mod:`kali.templates.formatters`).
    REGISTRY: ClassVar[dict[str, Callable[[Any], Any]]] = dict(BUILTIN_FORMATTERS)

    def __init__(
        self,
        text: str,
        *,
        name: str = "<template>",
        lineno: int = 1,
        column: int = 1,
        strict: bool | None = False,
        formatters: Mapping[str, Callable[[Any], Any]] | None = None,
    ) -> None:
        if not isinstance(text, str):
            raise TypeError(f"Template text must be a str, not {type(text).__name__}")
        if strict is not None and not isinstance(strict, bool):
            raise TypeError(f"strict must be True, False or None, not {strict!r}")
        self.text = text
        self.name = name
        self.strict = strict
        known: Mapping[str, Callable[[Any], Any]] = self.REGISTRY
        if formatters is not None:
            known = {**self.REGISTRY, **check_formatters(formatters)}
        tree = parse(
            text,
            name,
            known,
            lineno,
            column,
            unknown_formatter_is_error=formatters is not None,
        )
        self._render: RenderFunction
        self._render, self.python_source = compile_template(tree, known, strict)

    def sub(self, params: Mapping[str, Any]) -> Fragment:
        return self._render(params)

    def __repr__(self) -> str:
        text = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        return f"<Template {self.name} {text!r}>"


class SubAssembly(AbstractTemplate):
    """``base`` with some parameters bound to templates (see ``assembly``)."""

    def __init__(self, base: AbstractTemplate, bindings: Mapping[str, Any]) -> None:
        self.base = base
        self.bindings: dict[str, AbstractTemplate] = {
            key: Template(value) if isinstance(value, str) else value
            for key, value in bindings.items()
        }

    def sub(self, params: Mapping[str, Any]) -> Fragment:
        rendered = {key: binding.sub(params) for key, binding in self.bindings.items()}
        return self.base.sub(dict(params, **rendered))


def _as_template(part: Any) -> Any:
    if isinstance(part, str):
        return Template(part)
    if callable(part) and hasattr(part, "sub"):
        return part
    raise TypeError(f"expected a str or a template, not {type(part).__name__}")


class TemplateLoop:
    """A list with a preamble and an epilogue, or something else when empty.

    ``preamble``, ``body``, ``epilogue`` and ``otherwise`` are templates, or
    strs that become Templates; an empty or missing ``otherwise`` means
    "nothing".  See :meth:`loop`.
    """

    def __init__(
        self, preamble: Any, body: Any, epilogue: Any, otherwise: Any = None
    ) -> None:
        self.preamble = _as_template(preamble)
        self.body = _as_template(body)
        self.epilogue = _as_template(epilogue)
        self.otherwise = _as_template(otherwise) if otherwise else None

    def loop(
        self, items: Iterable[Any], context: Mapping[str, Any] | None = None
    ) -> Fragment | tuple[()]:
        """Render ``body`` once per item, between ``preamble`` and ``epilogue``.

        Each item is a mapping (or ``sqlite3.Row``) used as the body's
        parameters; given a ``context``, the body gets ``dict(context)``
        updated with the item, and the other parts get ``context``.  With
        no items the result is ``otherwise`` rendered with the context, or
        ``()`` when there is no otherwise.
        """
        ctx = context or {}
        each = iter(items)
        first = next(each, _END)
        if first is _END:
            return self.otherwise.sub(ctx) if self.otherwise is not None else ()
        body = self.body.sub
        if context is None:
            rows = [body(first)]
            rows.extend(map(body, each))
        else:
            rows = [body(_merged(context, first))]
            rows.extend(body(_merged(context, item)) for item in each)
        return Fragment((self.preamble.sub(ctx), *rows, self.epilogue.sub(ctx)))


_END: Any = object()


def _merged(context: Mapping[str, Any], item: Any) -> dict[str, Any]:
    local = dict(context)
    local.update(item)
    return local
