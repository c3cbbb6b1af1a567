"""Form elements: one kind of field, from stored value to HTML and back.

A :class:`FormElement` carries a field's value through four states, with one
method per step (the readable name, then kali 0.0.8's, which still works):

==================================  =======================================
``to_text(native)``                 stored value -> *intermediate* (``n2i``)
``from_form(name, form)``           posted form data -> intermediate (``p2i``)
``render(name, intermediate)``      intermediate -> trusted HTML (``i2h``)
``to_native(intermediate)``         intermediate -> native value (``i2n``);
                                    may raise
                                    :class:`~kali.forms.lenses.ValidationError`
==================================  =======================================

A subclass may override either name of a pair; the one it defines serves
both (:mod:`kali.forms.aliases`). The elements here also split ``render``
into ``render_parts(name, intermediate, attributes)``, which gives the label
and the control separately and takes extra attributes for the control: the
form renderer (:mod:`kali.forms.rendering`) uses it to lay fields out and to
mark errors (``aria-invalid``).

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
from typing import Any, Optional

from ..iolist import Fragment
from .aliases import link_aliases
from .lenses import BLANKABLE, EMAIL, TYPICAL, Lens, refuses_blank
from .numbers import DecimalLens, IntegerLens
from .widgets import escape_text, render_label, tag

__all__ = [
    "Attributes",
    "EmailEntry",
    "Entry",
    "FormElement",
    "Hidden",
    "Memo",
    "NumberEntry",
    "make_attributes",
    "merge_attributes",
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


#: Extra attributes for a control, from the renderer: value None is a bare
#: attribute (``required``).
Attributes = Mapping[str, Optional[str]]


def merge_attributes(own: Mapping[str, Any], extra: Attributes) -> dict[str, Any]:
    """``own`` attributes updated with ``extra``, joining ``aria-describedby``.

    An element's own ``aria-describedby`` (a hint, say) is kept beside the
    renderer's (the error message), as the attribute takes a list of ids.
    """
    merged = {**own, **extra}
    key = "aria-describedby"
    if own.get(key) and extra.get(key):
        merged[key] = f"{own[key]} {extra[key]}"
    return merged


class FormElement:
    """The behaviour of one kind of form field; subclasses fill in four methods.

    A subclass overrides either the readable names (``to_text``,
    ``from_form``, ``render``, ``to_native``) or kali 0.0.8's (``n2i``,
    ``p2i``, ``i2h``, ``i2n``): whichever it defines serves both. Instead of
    ``render`` it may define ``render_parts`` (label and control apart, with
    extra attributes), which ``render`` and the form renderer then use; a
    class that overrides ``render`` or ``i2h`` is shown as it renders itself
    (see :meth:`renders_whole`).
    ``label``, when set, is the human name of the field; elements then render
    a ``<label>`` wired to the control's ``id`` (the ``id`` attribute, else
    the field name).
    """

    #: (readable name, kali 0.0.8 name): whichever a subclass defines serves both.
    ALIASES = (
        ("to_text", "n2i"),
        ("from_form", "p2i"),
        ("render", "i2h"),
        ("to_native", "i2n"),
    )

    #: Set by the constructor of elements that support it; None means "no label".
    label: str | None = None
    #: HTML attributes of the control, as given to the constructor (the
    #: elements here always set it; a custom element may leave it out).
    attributes: dict[str, str]
    #: True for elements that need ``enctype="multipart/form-data"`` (files).
    needs_multipart = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        link_aliases(cls, FormElement.ALIASES)

    def to_text(self, native: Any) -> Any:
        """Return the intermediate value for a native (stored) value."""
        raise NotImplementedError(type(self))

    def from_form(self, name: str, form: Any) -> Any:
        """Return the intermediate value posted for field ``name``.

        This must not fail, and must keep whatever the user entered, however
        wrong, so that it can be shown again.
        """
        raise NotImplementedError(type(self))

    def render(self, name: str, intermediate: Any) -> Any:
        """Return trusted HTML (an iolist) showing the intermediate value.

        By default: the parts from :meth:`render_parts`, label first.
        """
        label, control = self.render_parts(name, intermediate)
        if not label:
            return control
        return Fragment([label, " ", control])

    def to_native(self, intermediate: Any) -> Any:
        """Return the native value; raise ValidationError when it is unacceptable."""
        raise NotImplementedError(type(self))

    #: kali 0.0.8's names for the four methods above.
    n2i = to_text
    p2i = from_form
    i2h = render
    i2n = to_native

    def render_parts(
        self, name: str, intermediate: Any, attributes: Attributes | None = None
    ) -> tuple[Any, Any]:
        """Return ``(label, control)``: trusted HTML for each.

        ``label`` is the ``<label for=...>`` (empty when the element has no
        label, or places it inside the control, as a group's ``<legend>``);
        ``attributes`` are added to the control, such as ``aria-invalid``.
        """
        raise NotImplementedError(type(self))

    def renders_whole(self) -> bool:
        """Whether this element writes its HTML in ``render`` (or ``i2h``)
        rather than in ``render_parts``.

        True when the nearest class defining either defines only ``render``:
        a custom element, or a subclass that overrides ``i2h`` of a standard
        one. The form renderer then shows ``render``'s HTML as it is.
        """
        for cls in type(self).__mro__:
            own = vars(cls)
            if "render_parts" in own:
                return False
            if "render" in own:
                return True
        return False  # pragma: no cover (FormElement defines both)

    def is_required(self) -> bool:
        """Whether the field refuses to be left empty (for ``required``)."""
        return False

    def is_hidden(self) -> bool:
        """Whether the field is invisible (an ``<input type="hidden">``)."""
        return False

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

    def to_text(self, native: Any) -> Any:
        return self.lens.to_text(native)

    def from_form(self, name: str, form: Any) -> Any:
        intermediate = read_text(form, name)
        if self.maxlength and len(intermediate) > self.maxlength:
            intermediate = intermediate[: self.maxlength]
        return intermediate

    def to_native(self, intermediate: Any) -> Any:
        return self.lens.to_native(intermediate)

    def is_required(self) -> bool:
        return not self.is_hidden() and refuses_blank(self.lens)

    def is_hidden(self) -> bool:
        return self.attributes.get("type", self.input_type).lower() == "hidden"

    def _input_attributes(self, name: str, intermediate: Any) -> dict[str, Any]:
        return {
            "type": self.input_type,
            **self._id(name),
            **self.attributes,
            "name": name,
            "value": intermediate,
        }

    def render_parts(
        self, name: str, intermediate: Any, attributes: Attributes | None = None
    ) -> tuple[Any, Any]:
        own = self._input_attributes(name, intermediate)
        control = tag("input", merge_attributes(own, attributes or {}), None)
        return self.render_label(name), control


class Memo(Entry):
    """A multi-line ``<textarea>``; otherwise just like :class:`Entry`.

    A ``type`` attribute, which ``<textarea>`` does not have, is never written.
    """

    def is_hidden(self) -> bool:
        return False

    def render_parts(
        self, name: str, intermediate: Any, attributes: Attributes | None = None
    ) -> tuple[Any, Any]:
        value = escape_text(intermediate)
        # The HTML parser drops one newline right after <textarea>; write an
        # extra one when the text itself starts with a line break, so that it
        # survives the round trip.
        if value.startswith(("\n", "\r")):
            value = "\n" + value
        own = {**self._id(name), **self.attributes, "name": name}
        own = {key: value for key, value in own.items() if key.lower() != "type"}
        control = tag("textarea", merge_attributes(own, attributes or {}), value)
        return self.render_label(name), control


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
