"""Forms: show a record in an HTML form, read it back, validate it, keep bad input.

Most local apps are data entry: a page to create a record, a page to edit
one. This package turns that into a few declarations. A *lens* converts one
field between text and a Python value and validates it
(:mod:`kali.forms.lenses`); a *form element* turns a field into HTML and
reads it back from the posted form (:mod:`kali.forms.elements`); a
:class:`Form` handles a dict of elements together; and :class:`Formlet` is
the servlet that runs the whole GET / POST / save cycle, showing the form
again with the user's own input and a message per field whenever something
is wrong. :func:`render_form` writes a whole accessible ``<form>`` in one
call (and is what a Formlet shows unless the app writes its own page);
:class:`RowChoice` offers database rows as choices; :class:`SubmitGuard`
keeps a create form from saving twice.

Everything of kali 0.0.8's ``kali.forms`` is here under the same names,
``__all__`` included; the new names are importable from here as well.
Only :mod:`kali.forms.formlet` knows requests, responses and servlets; the
other modules take anything with ``get``/``get_list`` and return values,
messages and trusted HTML.
"""

from typing import TYPE_CHECKING, Any

from ..multidict import Bag as Bag
from ..request import Request as Request
from ..response import Response as Response
from ..routing import Servlet as Servlet
from .choices import Checkbox as Checkbox
from .choices import Pick
from .choices import RadioGroup as RadioGroup
from .elements import EmailEntry as EmailEntry
from .elements import Entry, FormElement, Memo
from .elements import Hidden as Hidden
from .elements import NumberEntry as NumberEntry
from .form import Form as Form
from .form import SaveError
from .form import Submission as Submission
from .formlet import Formlet
from .guard import SubmitGuard as SubmitGuard
from .guard import TokenState as TokenState
from .lenses import BLANKABLE as BLANKABLE
from .lenses import DATE as DATE
from .lenses import DATE_ERROR as DATE_ERROR
from .lenses import EMAIL as EMAIL
from .lenses import NULLABLE as NULLABLE
from .lenses import TYPICAL as TYPICAL
from .lenses import ChoiceLens, EnumLens, Lens, StringLens, ValidationError
from .lenses import DateLens as DateLens
from .lenses import EmailLens as EmailLens
from .lenses import ListLens as ListLens
from .lenses import Nullable as Nullable
from .lenses import Required as Required
from .lenses import Test as Test
from .lenses import refuses_blank as refuses_blank
from .numbers import DecimalLens as DecimalLens
from .numbers import IntegerLens as IntegerLens
from .rendering import FieldView as FieldView
from .rendering import FormView as FormView
from .rendering import render_form as render_form
from .uploads import Upload as Upload
from .widgets import option as option
from .widgets import render_error as render_error
from .widgets import render_errors as render_errors
from .widgets import render_label as render_label
from .widgets import tag

if TYPE_CHECKING:
    from .rows import RowChoice as RowChoice


def __getattr__(name: str) -> Any:
    # RowChoice is imported on first use: most apps never need it, and
    # ``import kali`` (which imports this package) should stay quick.
    if name == "RowChoice":
        from .rows import RowChoice

        return RowChoice
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Exactly kali 0.0.8's list, so that ``from kali.forms import *`` brings in
# what it always did; the other names above are exported explicitly.
__all__ = [
    "ValidationError",
    "SaveError",
    "Formlet",
    "FormElement",
    "Entry",
    "Memo",
    "Pick",
    "tag",
    "Lens",
    "StringLens",
    "ChoiceLens",
    "EnumLens",
]
