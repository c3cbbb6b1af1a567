"""Choice elements: a select list, radio buttons and a yes/no checkbox.

:class:`Pick` and :class:`RadioGroup` offer the choices of a
:class:`~kali.forms.lenses.ChoiceLens`; their intermediate value is the
chosen option's string (a set of them for a multiple select), so a bad
submission comes back with the same options chosen. :class:`Checkbox` holds a
boolean. See :mod:`kali.forms.elements` for the element contract; like it,
this module knows nothing of HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..iolist import Fragment
from .elements import (
    Attributes,
    FormElement,
    make_attributes,
    merge_attributes,
    read_text,
    read_texts,
)
from .lenses import ChoiceLens, ValidationError, refuses_blank
from .widgets import escape_text, option, render_label, tag

__all__ = ["Checkbox", "Pick", "RadioGroup"]


class Pick(FormElement):
    """A ``<select>`` over the choices of a :class:`ChoiceLens`.

    ``required`` is the message shown when nothing is chosen ('' allows
    blank). With ``multiple=True`` the intermediate value is a set of strings
    and the native value a set of lens results. Other keywords become
    attributes of ``<select>``; putting ``multiple`` among them raises
    ValueError (use the argument).
    """

    def __init__(
        self,
        lens: ChoiceLens,
        required: str = "",
        multiple: bool = False,
        *,
        label: str | None = None,
        **kwargs: Any,
    ) -> None:
        if any(key.lstrip("_").lower() == "multiple" for key in kwargs):
            raise ValueError(
                "Pick takes multiple=True as an argument, not an attribute"
            )
        self.lens = lens
        self.required = required
        self.multiple = multiple
        self.label = label
        self.attributes = make_attributes(kwargs)
        if multiple:
            self.attributes["multiple"] = ""

    def option_tags(self, intermediate: Any) -> Iterator[tuple[str, str, bool]]:
        """Yield ``(value, label, selected)`` for each option, blank first if needed.

        A single select starts with a blank option unless it is required and
        already has a value (so the user can always leave or return to "none").
        """
        if self.multiple:
            chosen = set(intermediate)
            test = chosen.__contains__
        else:
            test = str(intermediate).__eq__
            if not (self.required and intermediate):
                yield "", "", False
        for value, label in self.lens.string_pairs():
            if not isinstance(value, str) or not isinstance(label, str):
                raise TypeError(
                    f"string_pairs() must yield strs, not {(value, label)!r}"
                )
            yield value, label, test(value)

    def value_label_pairs(self) -> Iterable[tuple[str, str]]:
        """Kept from kali 0.0.8, where it was declared but never used."""
        raise NotImplementedError(type(self))

    def render_parts(
        self, name: str, intermediate: Any, attributes: Attributes | None = None
    ) -> tuple[Any, Any]:
        options = [option(*o) for o in self.option_tags(intermediate)]
        own = {**self._id(name), **self.attributes, "name": name}
        control = tag("select", merge_attributes(own, attributes or {}), options)
        return self.render_label(name), control

    def to_text(self, native: Any) -> Any:
        if not self.multiple:
            return self.lens.to_text(native)
        if native is None:
            return set()
        return set(map(self.lens.to_text, native))

    def from_form(self, name: str, form: Any) -> Any:
        if self.multiple:
            return read_texts(form, name)
        return read_text(form, name)

    def to_native(self, intermediate: Any) -> Any:
        if self.required and not intermediate:
            raise ValidationError(self.required)
        if self.multiple:
            return set(map(self.lens.to_native, intermediate))
        return self.lens.to_native(intermediate)

    def is_required(self) -> bool:
        if self.required:
            return True
        return not self.multiple and refuses_blank(self.lens)


class RadioGroup(FormElement):
    """A set of radio buttons over the choices of a :class:`ChoiceLens`.

    Works like a single :class:`Pick`: ``required`` is the message shown
    when nothing is chosen. Each button gets the id ``<id>-<n>`` and its own
    ``<label>``; with a ``label`` the group is a ``<fieldset>`` with a
    ``<legend>``. Other keywords become attributes of every ``<input>``.
    """

    def __init__(
        self,
        lens: ChoiceLens,
        required: str = "",
        *,
        label: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.lens = lens
        self.required = required
        self.label = label
        self.attributes = make_attributes(kwargs)

    def to_text(self, native: Any) -> Any:
        return self.lens.to_text(native)

    def from_form(self, name: str, form: Any) -> Any:
        return read_text(form, name)

    def render_parts(
        self, name: str, intermediate: Any, attributes: Attributes | None = None
    ) -> tuple[Any, Any]:
        """The buttons, in a ``<fieldset>`` whose ``<legend>`` is the label.

        The group has no separate ``<label>``. Extra ``aria-*`` attributes go
        on the fieldset (as a ``radiogroup``), others on every button.
        """
        extra = attributes or {}
        group = {k: v for k, v in extra.items() if k.startswith("aria-")}
        each = {k: v for k, v in extra.items() if not k.startswith("aria-")}
        base_id = self.element_id(name)
        own = {k: v for k, v in self.attributes.items() if k != "id"}
        out = Fragment()
        for number, (value, label) in enumerate(self.lens.string_pairs()):
            button_id = f"{base_id}-{number}"
            button: dict[str, Any] = {
                "type": "radio",
                "id": button_id,
                **own,
                **each,
                "name": name,
                "value": value,
            }
            if value == intermediate:
                button["checked"] = None
            control = tag("input", button, None)
            out.extend((control, " ", render_label(button_id, label), " "))
        if self.label is None and not group:
            return Fragment(), out
        fieldset: dict[str, Any] = {"id": base_id}
        if group:
            fieldset["role"] = "radiogroup"
            fieldset.update(group)
            if "required" in each:
                fieldset["aria-required"] = "true"
        content = out
        if self.label is not None:
            content = Fragment([tag("legend", {}, escape_text(self.label)), out])
        return Fragment(), tag("fieldset", fieldset, content)

    def to_native(self, intermediate: Any) -> Any:
        if self.required and not intermediate:
            raise ValidationError(self.required)
        return self.lens.to_native(intermediate)

    def is_required(self) -> bool:
        return bool(self.required) or refuses_blank(self.lens)


class Checkbox(FormElement):
    """A checkbox for a yes/no value: the native value is ``True`` or ``False``.

    ``required`` is the message shown when the box is left unticked (for "I
    agree" boxes); '' allows both. ``value`` is what the browser posts for a
    ticked box. With a ``label`` the ``<label>`` follows the box.
    """

    def __init__(
        self,
        *,
        required: str = "",
        value: str = "on",
        label: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.required = required
        self.value = value
        self.label = label
        self.attributes = make_attributes(kwargs)

    def to_text(self, native: Any) -> Any:
        return bool(native)

    def from_form(self, name: str, form: Any) -> Any:
        return self.value in read_texts(form, name)

    def render_parts(
        self, name: str, intermediate: Any, attributes: Attributes | None = None
    ) -> tuple[Any, Any]:
        """The box, followed by its ``<label>`` (both in the control part)."""
        own: dict[str, Any] = {
            "type": "checkbox",
            **self._id(name),
            **self.attributes,
            "name": name,
            "value": self.value,
        }
        if intermediate:
            own["checked"] = None
        control = tag("input", merge_attributes(own, attributes or {}), None)
        if self.label is None:
            return Fragment(), control
        return Fragment(), Fragment([control, " ", self.render_label(name)])

    def to_native(self, intermediate: Any) -> Any:
        if self.required and not intermediate:
            raise ValidationError(self.required)
        return bool(intermediate)

    def is_required(self) -> bool:
        return bool(self.required)
