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
from .elements import FormElement, make_attributes, read_text, read_texts
from .lenses import ChoiceLens, ValidationError
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

    def i2h(self, name: str, intermediate: Any) -> Any:
        options = [option(*o) for o in self.option_tags(intermediate)]
        attributes = {**self._id(name), **self.attributes, "name": name}
        return self._labelled(name, tag("select", attributes, options))

    def n2i(self, value: Any) -> Any:
        if not self.multiple:
            return self.lens.string_for_browser(value)
        if value is None:
            return set()
        return set(map(self.lens.string_for_browser, value))

    def p2i(self, name: str, POST: Any) -> Any:  # noqa: N803
        if self.multiple:
            return read_texts(POST, name)
        return read_text(POST, name)

    def i2n(self, intermediate: Any) -> Any:
        if self.required and not intermediate:
            raise ValidationError(self.required)
        if self.multiple:
            return set(map(self.lens.native_from_string, intermediate))
        return self.lens.native_from_string(intermediate)


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

    def n2i(self, value: Any) -> Any:
        return self.lens.string_for_browser(value)

    def p2i(self, name: str, POST: Any) -> Any:  # noqa: N803
        return read_text(POST, name)

    def i2h(self, name: str, intermediate: Any) -> Any:
        base_id = self.element_id(name)
        own = {k: v for k, v in self.attributes.items() if k != "id"}
        out = Fragment()
        for number, (value, label) in enumerate(self.lens.string_pairs()):
            button_id = f"{base_id}-{number}"
            attributes: dict[str, Any] = {
                "type": "radio",
                "id": button_id,
                **own,
                "name": name,
                "value": value,
            }
            if value == intermediate:
                attributes["checked"] = None
            control = tag("input", attributes, None)
            out.extend((control, " ", render_label(button_id, label), " "))
        if self.label is None:
            return out
        legend = tag("legend", {}, escape_text(self.label))
        return tag("fieldset", {"id": base_id}, Fragment([legend, out]))

    def i2n(self, intermediate: Any) -> Any:
        if self.required and not intermediate:
            raise ValidationError(self.required)
        return self.lens.native_from_string(intermediate)


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

    def n2i(self, value: Any) -> Any:
        return bool(value)

    def p2i(self, name: str, POST: Any) -> Any:  # noqa: N803
        return self.value in read_texts(POST, name)

    def i2h(self, name: str, intermediate: Any) -> Any:
        attributes: dict[str, Any] = {
            "type": "checkbox",
            **self._id(name),
            **self.attributes,
            "name": name,
            "value": self.value,
        }
        if intermediate:
            attributes["checked"] = None
        control = tag("input", attributes, None)
        if self.label is None:
            return control
        return Fragment([control, " ", self.render_label(name)])

    def i2n(self, intermediate: Any) -> Any:
        if self.required and not intermediate:
            raise ValidationError(self.required)
        return bool(intermediate)
