"""Writing form HTML: tags, options, labels and error lists, always escaped.

Every function here returns *trusted* output (a :class:`~kali.iolist.Fragment`
or :class:`~kali.iolist.Markup`), so a template inserts it as it is. The
price of that trust is paid here: every attribute value, label and message is
HTML-escaped, quotes included, whatever its type. The one exception is the
``content`` of :func:`tag`, which is inserted raw, as in kali 0.0.8: give it
other trusted output, or escape it first.

This module knows nothing of HTTP: it imports only ``kali.iolist``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from ..iolist import Fragment, Markup

__all__ = [
    "escape_text",
    "option",
    "render_error",
    "render_errors",
    "render_label",
    "tag",
]


def escape_text(value: Any) -> str:
    """HTML-escape ``str(value)``, quotes included, even if it is Markup.

    Form HTML escapes everything it did not write itself: a trusted HTML
    *text* may still hold a quote that would end an attribute value early.
    """
    return html.escape(str(value), quote=True)


def tag(kind: str, attributes: Mapping[str, Any], content: Any) -> Fragment:
    """Write one HTML element as a trusted iolist.

    Attributes are written in order as `` key="value"`` with the value escaped,
    or as a bare `` key`` when the value is ``None``. With ``content`` None the
    element is self-closing (``<input .../>``); otherwise ``content`` goes in
    **raw** between the opening and closing tags.
    """
    out = Fragment(["<", kind])
    for key, value in attributes.items():
        if value is None:
            out.append(f" {escape_text(key)}")
        else:
            out.append(f' {escape_text(key)}="{escape_text(value)}"')
    if content is None:
        out.append("/>")
    else:
        out.extend((">", content, f"</{kind}>"))
    return out


def option(value: str, label: str, selected: bool) -> Fragment:
    """Write ``<option value="...">label</option>``, with ``selected`` when asked."""
    first = '<option selected value="' if selected else '<option value="'
    return Fragment([first, escape_text(value), '">', escape_text(label), "</option>"])


def render_label(field_id: str, text: str, **attributes: Any) -> Fragment:
    """Write ``<label for="field_id">text</label>``: clicking it focuses the field."""
    return tag("label", {"for": field_id, **attributes}, escape_text(text))


def render_errors(
    errors: Mapping[str, Any] | None,
    labels: Mapping[str, str] | None = None,
    *,
    css_class: str = "errors",
) -> Markup:
    """Render a form's errors as an escaped ``<ul>``, one item per message.

    Each item reads "Label: message", where the label comes from ``labels``
    (field name -> human name) or is the field name itself; an error under a
    blank key, or with a blank label, is shown without a prefix. The list
    carries ``role="alert"`` so that screen readers announce it. No errors
    give an empty Markup, so ``{.errors_html}`` in a template shows nothing.

    (Inserting the errors dict itself as ``{errors}`` still gives kali 0.0.8's
    escaped ``name: message`` lines.)
    """
    if not errors:
        return Markup()
    names = labels or {}
    items = []
    for key, message in errors.items():
        text = escape_text(message)
        label = names.get(key, key) if key else ""
        if label:
            text = f"<strong>{escape_text(label)}</strong>: {text}"
        items.append(f"<li>{text}</li>")
    return Markup(
        f'<ul class="{escape_text(css_class)}" role="alert">{"".join(items)}</ul>'
    )


def render_error(
    errors: Mapping[str, Any] | None, name: str, *, css_class: str = "error"
) -> Markup:
    """Render the message for one field as ``<span class="error">``, or nothing."""
    if not errors or name not in errors:
        return Markup()
    return Markup(
        f'<span class="{escape_text(css_class)}">{escape_text(errors[name])}</span>'
    )
