"""Form: a named set of elements, converted and validated together.

This is the pure core of the form workflow, usable from any handler::

    form = Form({"name": Entry(), "born": Entry(lens=DATE, type="date")})
    fields = form.render(form.from_native(row))        # GET: show a record
    posted = form.parse(request.POST)                  # POST: read it back
    if posted.errors:
        fields = form.render(posted.intermediate)      # the user's own input
    else:
        save(posted.native)

or, for the whole ``<form>`` with labels, errors and a button in one call,
``form.render_form(posted.intermediate, posted.errors, submit="Save")``.

:class:`~kali.forms.Formlet` wraps exactly this in a servlet. Nothing here
knows HTTP: the input is anything with ``get``/``get_list``, the output is
values, per-field messages and trusted HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .elements import FormElement
from .lenses import ValidationError
from .rendering import render_form

__all__ = ["Form", "SaveError", "Submission", "read_field"]


class SaveError(Exception):
    """Raised by ``save`` with a non-empty dict of errors (field name -> message).

    The form is then shown again with the user's input and these messages.
    Raises ValueError when ``errors`` is not a non-empty dict.
    """

    def __init__(self, errors: dict[str, Any], *args: Any) -> None:
        if not isinstance(errors, dict) or not errors:
            raise ValueError(
                f"SaveError needs a non-empty dict of errors, not {errors!r}"
            )
        super().__init__(errors, *args)

    @property
    def errors(self) -> dict[str, Any]:
        """The errors dict given to the constructor (``args[0]``)."""
        errors: dict[str, Any] = self.args[0]
        return errors


def read_field(native: Any, key: str) -> Any:
    """``native[key]``, or None when the record has no such field.

    Works for dicts and for ``sqlite3.Row`` (which raises IndexError for an
    unknown column); ``None`` itself counts as an empty record.
    """
    if native is None:
        return None
    try:
        return native[key]
    except (KeyError, IndexError):
        return None


@dataclass
class Submission:
    """What a posted form became: raw input, converted values and messages.

    ``intermediate`` holds every field's input exactly as sent (for showing
    it again), ``native`` the converted values of the fields that passed, and
    ``errors`` a message for each field that did not.
    """

    intermediate: dict[str, Any] = field(default_factory=dict)
    native: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def error_message(error: ValidationError) -> str:
    """The message of a ValidationError (``args[0]``), whatever it was given."""
    return str(error.args[0]) if error.args else "is not valid."


class Form:
    """A dict of field name -> :class:`FormElement`, handled as one form."""

    def __init__(self, elements: Mapping[str, FormElement]) -> None:
        self.elements = elements

    def from_native(self, native: Any) -> dict[str, Any]:
        """The intermediate values for a record (a dict or ``sqlite3.Row``).

        A field missing from the record reads as None.
        """
        return {
            key: element.to_text(read_field(native, key))
            for key, element in self.elements.items()
        }

    def parse(self, form_data: Any) -> Submission:
        """Read and convert every field of ``form_data`` (the POST Bag).

        Never raises ValidationError: each one becomes an entry of
        ``errors``. A field missing from ``form_data`` counts as empty.
        """
        result = Submission()
        for key, element in self.elements.items():
            raw = result.intermediate[key] = element.from_form(key, form_data)
            try:
                result.native[key] = element.to_native(raw)
            except ValidationError as error:
                result.errors[key] = error_message(error)
        return result

    def render(self, intermediate: Mapping[str, Any]) -> dict[str, Any]:
        """Trusted HTML for every field, keyed by field name."""
        return {
            key: element.render(key, intermediate[key])
            for key, element in self.elements.items()
        }

    def render_form(
        self,
        intermediate: Mapping[str, Any],
        errors: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        """The whole ``<form>``: labels, controls, errors and a submit button.

        ``options`` are those of :func:`~kali.forms.rendering.render_form`
        (``submit="Save"``, ``hidden``, ``action``, ``fields``, ``layout``...).
        """
        return render_form(self.elements, intermediate, errors, **options)

    def labels(self) -> dict[str, str]:
        """Field name -> human label, for the elements that have one."""
        return {
            key: element.label
            for key, element in self.elements.items()
            if element.label is not None
        }
