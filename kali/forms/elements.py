"""Form elements: one kind of field, from stored value to HTML and back.

A :class:`FormElement` carries a field's value through four states, with one
method per step (the kali 0.0.8 names, then the readable aliases):

==========================  ===============================================
``n2i(native)``             stored value -> *intermediate* (``to_text``)
``p2i(name, form)``         posted form data -> intermediate (``from_form``)
``i2h(name, intermediate)`` intermediate -> trusted HTML (``render``)
``i2n(intermediate)``       intermediate -> native value (``to_native``);
                            may raise :class:`~kali.forms.lenses.ValidationError`
==========================  ===============================================

The intermediate value is what the user typed, exactly: that is how a form
with an error comes back with every field as the user left it. An element
does not know its field name (the form passes it in), so one element may
serve several fields. Conversion and validation are delegated to a
:mod:`lens <kali.forms.lenses>`; HTML comes from :mod:`kali.forms.widgets`.
This module holds the base class and the text inputs; choices are in
:mod:`kali.forms.choices` and the file input in :mod:`kali.forms.uploads`.

``form`` is anything with ``get(name, default)`` and ``get_list(name)`` (or
WTForms' spelling, ``getlist``), such as the request's ``POST`` Bag, or a
plain mapping of names to values or lists of values. A field
missing from it counts as empty, and a value of the wrong kind (a file where
text was expected, or the reverse) is treated as missing: neither is ever a
crash. This module knows nothing of HTTP requests or responses.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from typing import Any

from ..iolist import Fragment
from .lenses import (
    BLANKABLE,
    EMAIL,
    TYPICAL,
    DecimalLens,
    IntegerLens,
    Lens,
)
from .widgets import escape_text, render_label, tag

__all__ = [
    "EmailEntry",
    "Entry",
    "FormElement",
    "Hidden",
    "Memo",
    "NumberEntry",
    "make_attributes",
    "read_text",
    "read_texts",
]


def read_text(form: Any, name: str) -> str:
    """The last value posted under ``name`` if it is text, else ``''``."""
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def read_texts(form: Any, name: str) -> list[str]:
    """Every text value posted under ``name``, in order.

    ``form`` has ``get_list`` (a kali Bag) or ``getlist`` (WTForms, Werkzeug,
    Django); a plain mapping holds one value, or a list of them, per name.
    """
    get_list = getattr(form, "get_list", None) or getattr(form, "getlist", None)
    if get_list is not None:
        values = get_list(name)
    else:
        value = form.get(name)
        values = value if isinstance(value, (list, tuple)) else [value]
    return [value for value in values if isinstance(value, str)]


def make_attributes(kwargs: Mapping[str, Any]) -> dict[str, str]:
    # A leading underscore lets Python keywords through: _class -> class.
    return {key.lstrip("_"): str(value) for key, value in kwargs.items()}


class FormElement:
    """The behaviour of one kind of form field; subclasses fill in four methods.

    A subclass overrides either the kali 0.0.8 names (``n2i``, ``p2i``,
    ``i2h``, ``i2n``) or the readable ones (``to_text``, ``from_form``,
    ``render``, ``to_native``): each pair calls the other. ``label``, when
    set, is the human name of the field; elements then render a ``<label>``
    wired to the control's ``id`` (the ``id`` attribute, else the field name).
    """

    #: Set by the constructor of elements that support it; None means "no label".
    label: str | None = None
    #: HTML attributes of the control, as given to the constructor (the
    #: elements here always set it; a custom element may leave it out).
    attributes: dict[str, str]

    def n2i(self, value: Any) -> Any:
        """Return the intermediate value for a native (stored) value."""
        if type(self).to_text is not FormElement.to_text:
            return self.to_text(value)
        raise NotImplementedError(type(self))

    def p2i(self, name: str, POST: Any) -> Any:  # noqa: N803 (0.0.8 name)
        """Return the intermediate value posted for field ``name``.

        This must not fail, and must keep whatever the user entered, however
        wrong, so that it can be shown again.
        """
        if type(self).from_form is not FormElement.from_form:
            return self.from_form(name, POST)
        raise NotImplementedError(type(self))

    def i2h(self, name: str, intermediate: Any) -> Any:
        """Return trusted HTML (an iolist) showing the intermediate value."""
        if type(self).render is not FormElement.render:
            return self.render(name, intermediate)
        raise NotImplementedError(type(self))

    def i2n(self, intermediate: Any) -> Any:
        """Return the native value; raise ValidationError when it is unacceptable."""
        if type(self).to_native is not FormElement.to_native:
            return self.to_native(intermediate)
        raise NotImplementedError(type(self))

    def to_text(self, native: Any) -> Any:
        """Readable name for :meth:`n2i`."""
        return self.n2i(native)

    def from_form(self, name: str, form: Any) -> Any:
        """Readable name for :meth:`p2i`."""
        return self.p2i(name, form)

    def render(self, name: str, intermediate: Any) -> Any:
        """Readable name for :meth:`i2h`."""
        return self.i2h(name, intermediate)

    def to_native(self, intermediate: Any) -> Any:
        """Readable name for :meth:`i2n`."""
        return self.i2n(intermediate)

    def element_id(self, name: str) -> str:
        """The control's ``id``: the ``id`` attribute, else the field name."""
        return self._attributes().get("id") or name

    def render_label(self, name: str) -> Fragment:
        """``<label for=...>`` for field ``name`` (empty without a ``label``)."""
        if self.label is None:
            return Fragment()
        return render_label(self.element_id(name), self.label)

    def _attributes(self) -> Mapping[str, str]:
        return getattr(self, "attributes", None) or {}

    def _id(self, name: str) -> dict[str, str]:
        # Controls get an id only when a label needs one, so that elements
        # built without a label write exactly the HTML of kali 0.0.8.
        if self.label is None or "id" in self._attributes():
            return {}
        return {"id": name}

    def _labelled(self, name: str, control: Any) -> Any:
        if self.label is None:
            return control
        return Fragment([self.render_label(name), " ", control])


class Entry(FormElement):
    """A one-line ``<input>`` (type ``text`` unless an attribute says otherwise).

    Keyword arguments become attributes of the tag, in order; a leading
    ``_`` is dropped (``_class="wide"`` gives ``class="wide"``) and values go
    through ``str()``. ``maxlength`` is both rendered and enforced: longer
    input is cut. ``lens`` converts and validates (default: non-blank text).
    """

    input_type = "text"

    def __init__(
        self, *, lens: Lens = TYPICAL, label: str | None = None, **kwargs: Any
    ) -> None:
        self.lens = lens
        self.label = label
        self.attributes = make_attributes(kwargs)
        self.maxlength = int(self.attributes.get("maxlength", 0))

    def n2i(self, value: Any) -> Any:
        return self.lens.string_for_browser(value)

    def p2i(self, name: str, POST: Any) -> Any:  # noqa: N803
        intermediate = read_text(POST, name)
        if self.maxlength and len(intermediate) > self.maxlength:
            intermediate = intermediate[: self.maxlength]
        return intermediate

    def _input_attributes(self, name: str, intermediate: Any) -> dict[str, Any]:
        return {
            "type": self.input_type,
            **self._id(name),
            **self.attributes,
            "name": name,
            "value": intermediate,
        }

    def i2h(self, name: str, intermediate: Any) -> Any:
        control = tag("input", self._input_attributes(name, intermediate), None)
        return self._labelled(name, control)

    def i2n(self, intermediate: Any) -> Any:
        return self.lens.native_from_string(intermediate)


class Memo(Entry):
    """A multi-line ``<textarea>``; otherwise just like :class:`Entry`."""

    def i2h(self, name: str, intermediate: Any) -> Any:
        value = escape_text(intermediate)
        # The HTML parser drops one newline right after <textarea>; write an
        # extra one when the text itself starts with a line break, so that it
        # survives the round trip.
        if value.startswith(("\n", "\r")):
            value = "\n" + value
        attributes = {**self._id(name), **self.attributes, "type": "text", "name": name}
        return self._labelled(name, tag("textarea", attributes, value))


class NumberEntry(Entry):
    """``<input type="number">`` with an :class:`IntegerLens` or :class:`DecimalLens`.

    ``min``, ``max`` and ``step`` attributes are taken from the lens (looking
    through wrappers such as ``Required``) unless given explicitly, so the
    browser checks what the server checks. Blank input is allowed unless the
    lens refuses it.
    """

    input_type = "number"

    def __init__(
        self, *, lens: Lens | None = None, label: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(lens=lens or IntegerLens(), label=label, **kwargs)
        number = self.lens
        while not isinstance(number, (IntegerLens, DecimalLens)):
            child = getattr(number, "child", None)
            if not isinstance(child, Lens):
                return
            number = child
        derived: dict[str, str] = {}
        if number.minimum is not None:
            derived["min"] = str(number.minimum)
        if number.maximum is not None:
            derived["max"] = str(number.maximum)
        if isinstance(number, DecimalLens):
            # Without a step the browser only accepts whole numbers.
            places = number.places
            derived["step"] = (
                "any"
                if places is None
                else format(decimal.Decimal(1).scaleb(-places), "f")
            )
        for key, value in derived.items():
            self.attributes.setdefault(key, value)


class EmailEntry(Entry):
    """``<input type="email">``, by default with the (blank-allowing) ``EMAIL`` lens."""

    input_type = "email"

    def __init__(
        self, *, lens: Lens = EMAIL, label: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(lens=lens, label=label, **kwargs)


class Hidden(Entry):
    """``<input type="hidden">``: carries a value through the form unseen.

    The user cannot see or fix a hidden value, so its lens should accept
    whatever the form wrote (the default is plain text, blank allowed).
    """

    input_type = "hidden"

    def __init__(self, *, lens: Lens = BLANKABLE, **kwargs: Any) -> None:
        super().__init__(lens=lens, **kwargs)
