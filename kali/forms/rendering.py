"""The default form renderer: a whole ``<form>`` in one call, accessible.

Writing each field into a template by hand is the right thing for a form
that needs a particular look; for all the others :func:`render_form` writes
the lot::

    html = render_form(elements, intermediate, errors, submit="Save",
                       hidden=guard.render(token))

gives, for every field in order, a ``<div class="field">`` with its
``<label for=...>``, its control, and its error message beside it; then any
hidden inputs, and the submit button, inside ``<form method="post">``
(``enctype="multipart/form-data"`` added when a field uploads a file).

For assistive technology: every label is tied to its control; a field with
an error gets ``aria-invalid="true"`` and ``aria-describedby`` pointing at
the message; a field whose lens refuses blank input gets ``required``;
errors that belong to no visible field (a :class:`SubmitGuard` that expired,
a :class:`SaveError` about the record) are listed first, with
``role="alert"``. Every value, label and message is escaped.

Three hooks change the output, from small to large:

* ``fields={"notes": fn}``: ``fn(field)`` writes one field's block, given a
  :class:`FieldView` (its name, element, value, message, and the default
  ``label``, ``control`` and ``error`` HTML to rearrange);
* ``render_field=fn``: the same, for every field (default :func:`render_field`);
* ``layout=fn``: ``fn(form)`` writes the whole form from a :class:`FormView`
  (default :func:`render_layout`); a kali Template fits with
  ``layout=lambda form: TEMPLATE(**form.as_dict(), **form.blocks)``.

This module knows nothing of HTTP: it takes elements, values and messages
and returns trusted HTML (a :class:`~kali.iolist.Fragment`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from ..iolist import Fragment, Markup
from .elements import FormElement
from .widgets import escape_text, render_errors

__all__ = [
    "FieldView",
    "FormView",
    "render_field",
    "render_form",
    "render_layout",
    "view_field",
]


class FieldView(NamedTuple):
    """One field, ready to be laid out: its data and its default HTML parts.

    ``value`` is the intermediate value shown; ``message`` the error, or
    None. ``label``, ``control`` and ``error`` are trusted HTML (``label``
    is empty for elements that place their own, such as a checkbox or a
    radio group; ``error`` is empty without a message). ``error_id`` is the
    ``id`` of the error, which ``aria-describedby`` points at.

    An element that writes its own HTML (see
    :meth:`~kali.forms.elements.FormElement.renders_whole`) has no separate
    label, gets no extra attributes, and is laid out as a visible field.
    """

    name: str
    element: FormElement
    value: Any
    message: str | None
    label: Any
    control: Any
    error: Markup
    error_id: str
    #: Whether the field is laid out as an invisible ``<input type="hidden">``.
    is_hidden: bool


class FormView(NamedTuple):
    """A whole form, ready to be laid out: trusted HTML in pieces.

    ``start`` and ``end`` are the ``<form ...>`` and ``</form>`` tags;
    ``summary`` lists the errors that belong to no visible field (empty when
    there are none); ``fields`` is every field's block in order, and
    ``blocks`` the same keyed by field name; ``hidden`` holds the extra
    hidden inputs (the submit guard's token); ``submit`` the button.
    ``views`` keeps the :class:`FieldView` of every field.
    """

    start: Markup
    end: Markup
    summary: Markup
    fields: list[Any]
    blocks: dict[str, Any]
    hidden: Any
    submit: Any
    views: dict[str, FieldView]

    def as_dict(self) -> dict[str, Any]:
        """The pieces as template parameters: ``start``, ``summary``,
        ``fields``, ``hidden``, ``submit`` and ``end``."""
        return {
            "start": self.start,
            "summary": self.summary,
            "fields": self.fields,
            "hidden": self.hidden,
            "submit": self.submit,
            "end": self.end,
        }


FieldRenderer = Callable[[FieldView], Any]
Layout = Callable[[FormView], Any]


def view_field(
    element: FormElement, name: str, value: Any, message: Any = None
) -> FieldView:
    """Render one field's parts, marked up for its error (if ``message``)."""
    error_id = f"{element.element_id(name)}-error"
    whole = element.renders_whole()
    # A hidden input is neither required nor described: nobody can see it,
    # and its message goes into the form's error summary instead.
    visible = whole or not element.is_hidden()
    extra: dict[str, str | None] = {}
    if visible and element.is_required():
        extra["required"] = None
    error = Markup()
    text = None
    if message is not None:
        text = str(message)
        if visible:
            extra["aria-invalid"] = "true"
            extra["aria-describedby"] = error_id
        error = Markup(
            f'<span class="error" id="{escape_text(error_id)}">'
            f"{escape_text(text)}</span>"
        )
    if whole:
        label, control = Fragment(), element.render(name, value)
    else:
        label, control = element.render_parts(name, value, extra)
    return FieldView(
        name, element, value, text, label, control, error, error_id, not visible
    )


def render_field(field: FieldView) -> Fragment:
    """The default block of one field.

    ``<div class="field">label control error</div>``, with the class
    ``invalid`` added when it has an error; a hidden field is its bare input.
    """
    if field.is_hidden:
        return Fragment([field.control, "\n"])
    css = "field invalid" if field.message is not None else "field"
    out = Fragment([f'<div class="{css}">'])
    if field.label:
        out.extend((field.label, " "))
    out.append(field.control)
    if field.error:
        out.extend((" ", field.error))
    out.append("</div>\n")
    return out


def render_layout(form: FormView) -> Fragment:
    """The default layout: the error summary, the fields, the hidden inputs
    and the button, in that order, between the form tags."""
    return Fragment(
        [
            form.start,
            "\n",
            form.summary,
            "\n" if form.summary else "",
            *form.fields,
            form.hidden,
            form.submit,
            form.end,
        ]
    )


def render_form(
    elements: Mapping[str, FormElement],
    intermediate: Mapping[str, Any],
    errors: Mapping[str, Any] | None = None,
    *,
    submit: str | None = "Save",
    hidden: Any = None,
    action: str = "",
    method: str = "post",
    enctype: str | None = None,
    fields: Mapping[str, FieldRenderer] | None = None,
    render_field: FieldRenderer = render_field,
    layout: Layout = render_layout,
) -> Any:
    """Render a whole form as trusted HTML.

    ``elements`` maps field names to elements and ``intermediate`` names to
    the values to show (``Form.from_native`` or ``Form.parse`` gives them;
    a missing name shows as blank). ``errors`` maps field names to messages.
    ``submit`` is the button's text (None: no button). ``hidden`` is extra
    trusted HTML put inside the form, such as ``guard.render(token)``.
    ``action`` (omitted when blank, so the form posts to its own page),
    ``method`` and ``enctype`` are the form's attributes; ``enctype`` defaults
    to ``multipart/form-data`` when an element needs it. ``fields``,
    ``render_field`` and ``layout`` are the hooks described in the module
    documentation. Returns what ``layout`` returns (by default a Fragment).

    Raises ValueError when ``fields`` names a field that is not in
    ``elements``.
    """
    overrides = dict(fields or {})
    unknown = set(overrides) - set(elements)
    if unknown:
        raise ValueError(f"fields names no such field: {', '.join(sorted(unknown))}")
    messages = dict(errors or {})
    views: dict[str, FieldView] = {}
    blocks: dict[str, Any] = {}
    for name, element in elements.items():
        value = intermediate.get(name)
        if value is None:
            value = element.to_text(None)
        field = views[name] = view_field(element, name, value, messages.get(name))
        blocks[name] = overrides.get(name, render_field)(field)
    # Errors the fields do not show: under other names, or on hidden fields.
    shown = {name for name, field in views.items() if not field.is_hidden}
    others = {key: value for key, value in messages.items() if key not in shown}
    attributes = {"method": method}
    if action:
        attributes["action"] = action
    if enctype is None and any(e.needs_multipart for e in elements.values()):
        enctype = "multipart/form-data"
    if enctype:
        attributes["enctype"] = enctype
    start = "".join(f' {key}="{escape_text(v)}"' for key, v in attributes.items())
    button = Markup()
    if submit is not None:
        button = Markup(
            f'<p class="actions"><button type="submit">{escape_text(submit)}'
            "</button></p>\n"
        )
    # An error under a name that is no field (the submit guard's, or one a
    # SaveError made up) is about the whole form: shown without a prefix.
    labels = {key: "" for key in others if key not in elements}
    for name, element in elements.items():
        labels[name] = element.label or name
    form = FormView(
        start=Markup(f"<form{start}>"),
        end=Markup("</form>\n"),
        summary=render_errors(others, labels),
        fields=list(blocks.values()),
        blocks=blocks,
        hidden=Fragment() if hidden is None else Fragment([hidden, "\n"]),
        submit=button,
        views=views,
    )
    return layout(form)
