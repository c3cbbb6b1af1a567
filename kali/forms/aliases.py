"""Method aliases: readable names first, kali 0.0.8's names kept beside them.

Lenses and form elements have readable method names (``to_text``,
``to_native``, ``from_form``, ``render``) and kept the terse 0.0.8 ones
(``string_for_browser``, ``native_from_string``, ``n2i``, ``p2i``, ``i2h``,
``i2n``) as aliases, because applications subclass them and override
either name. :func:`link_aliases` is called by ``__init_subclass__`` of
:class:`~kali.forms.lenses.Lens` and
:class:`~kali.forms.elements.FormElement`; for each pair of names it makes
the one a class defines itself stand for both, so that::

    class Shouting(Entry):
        def i2h(self, name, intermediate):         # the 0.0.8 name...
            return super().i2h(name, intermediate.upper())

    Shouting().render("n", "a")                    # ...is what render() runs

The alias is the very same function object, so ``super()`` calls inside it
behave as written. A class that defines both names keeps both as they are.

This module holds no state and imports nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["link_aliases"]


def link_aliases(cls: type, pairs: Iterable[tuple[str, str]]) -> None:
    """For each ``(readable, old)`` pair, let the name ``cls`` defines win.

    If ``cls`` itself defines only one of the two names, the other becomes
    an alias of it (the same attribute). Names ``cls`` merely inherits are
    left alone: its base class has already linked them.
    """
    own = vars(cls)
    for readable, old in pairs:
        if readable in own and old not in own:
            setattr(cls, old, own[readable])
        elif old in own and readable not in own:
            setattr(cls, readable, own[old])
