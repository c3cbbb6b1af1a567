"""The forms of an HTML page, read into their controls (for the test client).

:func:`parse_html_forms` reads a page with the standard library's
``html.parser`` and returns each ``<form>`` with its controls in document
order, in the state a browser shows on load: the ``checked`` boxes, the
selected options (a drop-down with none selected shows its first enabled
option; of several selected, the last), a textarea's raw text without its
first newline, controls disabled by themselves or by a ``<fieldset
disabled>``, and controls placed outside a form with ``form="id"``. A form
inside a form is ignored, and its end tag ends the outer one, as in a
browser.

:mod:`kali.testing_forms` fills these in and submits them. This module only
reads text: it must not import the HTTP layers or know about submitting.
"""

from __future__ import annotations

import html.parser
import re
from collections.abc import Sequence
from typing import NamedTuple, Union

__all__ = ["BUTTON_TYPES", "Field", "Option", "ParsedForm", "parse_html_forms"]

#: An upload: ``(filename, content)`` or ``(filename, content, content_type)``.
Upload = Union[tuple[str, Union[bytes, str]], tuple[str, Union[bytes, str], str]]

#: Control types that are buttons: never a value a user types or picks.
BUTTON_TYPES = frozenset({"submit", "image", "reset", "button"})
_WHITESPACE = re.compile(r"[ \t\n\f\r]+")


class Option:
    """One ``<option>`` of a select: ``value``, ``text``, ``selected``,
    ``disabled``."""

    def __init__(self, value: str | None, selected: bool, disabled: bool) -> None:
        self._value = value
        self.text = ""
        self.selected = selected
        self.disabled = disabled

    @property
    def value(self) -> str:
        """The value attribute, or the text with its spaces collapsed."""
        if self._value is not None:
            return self._value
        return _WHITESPACE.sub(" ", self.text).strip(" ")

    def __repr__(self) -> str:
        mark = "*" if self.selected else ""
        return f"<Option {self.value!r}{mark}>"


class Field:
    """One control of a form, with its current state.

    ``tag`` (``input``, ``select``, ``textarea``, ``button``), ``type`` (the
    input or button type, lower-case; ``select`` and ``textarea`` for
    those), ``name``, ``value`` (text; a button's value), ``checked``,
    ``options`` (a select's), ``multiple``, ``upload`` (a file field's
    chosen file), ``disabled`` and ``attributes`` (as written).
    """

    def __init__(self, tag: str, attributes: dict[str, str], disabled: bool) -> None:
        self.tag = tag
        self.attributes = attributes
        if tag == "input":
            kind = attributes.get("type", "text").lower()
        elif tag == "button":
            kind = attributes.get("type", "submit").lower()
            kind = kind if kind in ("submit", "reset", "button") else "submit"
        else:
            kind = tag
        self.type = kind
        self.name = attributes.get("name", "")
        self.value = attributes.get("value", "")
        if kind in ("checkbox", "radio") and "value" not in attributes:
            self.value = "on"
        self.checked = "checked" in attributes
        self.multiple = "multiple" in attributes
        self.disabled = disabled or "disabled" in attributes
        self.options: list[Option] = []
        self.upload: Upload | None = None
        self.label = ""  # a <button>'s text
        self.position = 0  # in the document, among all controls

    @property
    def is_button(self) -> bool:
        """A submit, image, reset or plain button: pressed, never filled in."""
        return self.type in BUTTON_TYPES

    def __repr__(self) -> str:
        return f"<Field {self.type} {self.name!r}={self.value!r}>"


class ParsedForm(NamedTuple):
    """A ``<form>``: its ``attributes`` (names lower-case) and ``fields``."""

    attributes: dict[str, str]
    fields: list[Field]


# -- the parser ------------------------------------------------------------------------


class _FormParser(html.parser.HTMLParser):
    """Collects forms and their controls, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[ParsedForm] = []
        self.current: ParsedForm | None = None  # the open <form>, if any
        self.disabled_fieldsets: list[bool] = []
        self.select: Field | None = None
        self.option: Option | None = None
        self.optgroup_disabled = False
        self.textarea: Field | None = None
        self.button: Field | None = None
        self.by_id: list[tuple[str, Field]] = []  # fields with form="id"
        self.count = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.textarea is not None:  # its text is raw: tags are text there
            self.textarea.value += self.get_starttag_text() or ""
            return
        attributes = {name.lower(): value or "" for name, value in attrs}
        disabled = any(self.disabled_fieldsets)
        if tag == "form":
            if self.current is None:  # a form inside a form is ignored
                self.current = ParsedForm(attributes, [])
                self.forms.append(self.current)
        elif tag == "fieldset":
            self.disabled_fieldsets.append("disabled" in attributes)
        elif tag in ("input", "select", "textarea", "button"):
            self.end_option()
            field = Field(tag, attributes, disabled)
            self.add(field)
            if tag == "select":
                self.select = field
            elif tag == "textarea":
                self.textarea = field
            elif tag == "button":
                self.button = field
        elif tag == "optgroup":
            self.end_option()
            self.optgroup_disabled = "disabled" in attributes
        elif tag == "option" and self.select is not None:
            self.end_option()
            value = attributes.get("value") if "value" in attributes else None
            self.option = Option(
                value,
                "selected" in attributes,
                "disabled" in attributes or self.optgroup_disabled,
            )
            self.select.options.append(self.option)

    def handle_endtag(self, tag: str) -> None:
        if self.textarea is not None:
            if tag != "textarea":
                self.textarea.value += f"</{tag}>"
                return
            # HTML drops one newline right after <textarea>.
            text = self.textarea.value
            self.textarea.value = text[1:] if text.startswith("\n") else text
            self.textarea = None
        elif tag == "form":
            self.current = None
        elif tag == "fieldset" and self.disabled_fieldsets:
            self.disabled_fieldsets.pop()
        elif tag == "button":
            self.button = None
        elif tag == "option":
            self.end_option()
        elif tag == "optgroup":
            self.end_option()
            self.optgroup_disabled = False
        elif tag == "select":
            self.end_select()

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.textarea.value += data
        elif self.option is not None:
            self.option.text += data
        elif self.button is not None:
            self.button.label += data

    def add(self, field: Field) -> None:
        field.position = self.count
        self.count += 1
        owner = field.attributes.get("form")
        if owner is not None:
            self.by_id.append((owner, field))
        elif self.current is not None:
            self.current.fields.append(field)

    def end_option(self) -> None:
        self.option = None

    def end_select(self) -> None:
        field, self.select = self.select, None
        self.end_option()
        if field is None:
            return
        chosen = [o for o in field.options if o.selected]
        if not field.multiple:
            # One choice at most: the last one marked wins; with none, a
            # drop-down shows (and sends) its first enabled option.
            for option in chosen[:-1]:
                option.selected = False
            size = field.attributes.get("size", "1").strip()
            if not chosen and (not size.isdigit() or int(size) <= 1):
                first = next((o for o in field.options if not o.disabled), None)
                if first is not None:
                    first.selected = True

    def close(self) -> None:
        super().close()
        if self.select is not None:
            self.end_select()
        by_id = {
            form.attributes["id"]: form
            for form in self.forms
            if "id" in form.attributes
        }
        for owner, field in self.by_id:
            if owner in by_id:
                by_id[owner].fields.append(field)
        for form in self.forms:
            _one_radio_each(form.fields)
            if self.by_id:  # fields placed by form="id" join in document order
                form.fields.sort(key=lambda f: f.position)


def _one_radio_each(fields: Sequence[Field]) -> None:
    """In each radio group, only the last one marked checked stays so."""
    last: dict[str, Field] = {}
    for field in fields:
        if field.type == "radio" and field.checked:
            if field.name in last:
                last[field.name].checked = False
            last[field.name] = field


def parse_html_forms(text: str) -> list[ParsedForm]:
    """Every ``<form>`` of the HTML ``text`` with its controls, in order."""
    parser = _FormParser()
    parser.feed(text)
    parser.close()
    return parser.forms
