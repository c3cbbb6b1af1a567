"""Lenses both ways, including the input they must refuse (kali.forms.lenses)."""

import datetime
import re
from decimal import Decimal

import pytest

from kali.forms import (
    BLANKABLE,
    DATE,
    EMAIL,
    NULLABLE,
    TYPICAL,
    ChoiceLens,
    DateLens,
    DecimalLens,
    EmailLens,
    EnumLens,
    IntegerLens,
    Lens,
    ListLens,
    Nullable,
    Required,
    StringLens,
    Test,
    ValidationError,
)
from kali.forms.lenses import DATE_ERROR, refuses_blank


def message_of(lens, text):
    with pytest.raises(ValidationError) as caught:
        lens.native_from_string(text)
    return caught.value.args[0]


# -- ValidationError and the abstract classes ---------------------------------


def test_validation_error_message_is_args_0():
    error = ValidationError("may not be blank.")
    assert error.args[0] == error.message == "may not be blank."
    assert ValidationError().message == "is not valid."


def test_abstract_lens_methods_raise():
    with pytest.raises(NotImplementedError):
        Lens().string_for_browser(1)
    with pytest.raises(NotImplementedError):
        Lens().native_from_string("1")
    with pytest.raises(NotImplementedError):
        list(ChoiceLens().string_pairs())


# -- StringLens, TYPICAL, Nullable --------------------------------------------


@pytest.mark.parametrize(
    "native, text", [(None, ""), ("abc", "abc"), (42, "42"), ("é 中文 🐍", "é 中文 🐍")]
)
def test_string_lens_to_browser(native, text):
    assert StringLens().string_for_browser(native) == text
    assert BLANKABLE.string_for_browser(native) == text


@pytest.mark.parametrize(
    "text, native", [("", ""), ("  x  ", "x"), ("\té 中文 🐍\r\n", "é 中文 🐍")]
)
def test_string_lens_from_browser(text, native):
    assert BLANKABLE.native_from_string(text) == native


def test_typical_refuses_blank():
    assert TYPICAL.native_from_string(" Zoë ") == "Zoë"
    assert TYPICAL.string_for_browser(None) == ""
    assert message_of(TYPICAL, "   ") == "may not be blank."


def test_nullable():
    assert NULLABLE.native_from_string("  ") is None
    assert NULLABLE.native_from_string(" a ") == "a"
    assert NULLABLE.string_for_browser(None) == ""
    assert NULLABLE.string_for_browser("a") == "a"
    assert Nullable(DATE).string_for_browser(None) == ""


def test_required():
    lens = Required(IntegerLens())
    assert lens.native_from_string(" 7 ") == 7
    assert lens.string_for_browser(7) == "7"
    assert message_of(lens, " ") == "may not be blank."
    assert message_of(Required(error="say something"), "") == "say something"


# -- Test ---------------------------------------------------------------------


def test_test_with_a_regex_string_uses_fullmatch_and_flags():
    lens = Test("[a-z]+", error="letters only", flags=re.IGNORECASE)
    assert lens.native_from_string(" AbC ") == "AbC"
    assert message_of(lens, "abc1") == "letters only"
    assert lens.string_for_browser(None) == ""


def test_test_with_a_compiled_pattern_and_a_callable():
    assert Test(re.compile(r"\d+"), error="x").native_from_string("12") == "12"
    assert message_of(Test(re.compile(r"\d"), error="one digit"), "12") == "one digit"
    even = Test(lambda n: n % 2 == 0, child=IntegerLens(), error="must be even.")
    assert even.native_from_string("4") == 4
    assert even.string_for_browser(4) == "4"
    assert message_of(even, "3") == "must be even."


def test_test_child_errors_pass_through():
    lens = Test(bool, child=DATE, error="needed")
    assert message_of(lens, "") == "needed"
    assert message_of(lens, "garbage") == "does not look like a date (YYYY-MM-DD)."


def test_test_refuses_a_non_callable_predicate():
    with pytest.raises(TypeError):
        Test(42, error="x")


# -- DateLens -----------------------------------------------------------------


def test_date_to_browser():
    assert DATE.string_for_browser(None) == ""
    assert DATE.string_for_browser(datetime.date(2024, 2, 29)) == "2024-02-29"
    assert DateLens().string_for_browser("2020-01-01") == "2020-01-01"


@pytest.mark.parametrize(
    "text, native",
    [
        ("", None),
        ("   ", None),
        ("2024-02-29", datetime.date(2024, 2, 29)),
        (" 1999-12-31\t", datetime.date(1999, 12, 31)),
    ],
)
def test_date_from_browser(text, native):
    assert DATE.native_from_string(text) == native


@pytest.mark.parametrize(
    "text",
    ["garbage", "2024-2-3", "24-02-03", "2024/02/03", "２０２４-02-03", "2024-02-03x"],
)
def test_date_garbage_is_a_validation_error_not_none(text):
    assert message_of(DATE, text) == "does not look like a date (YYYY-MM-DD)."


@pytest.mark.parametrize(
    "text", ["2023-02-29", "2024-04-31", "2024-13-01", "2024-00-10", "0000-01-01"]
)
def test_impossible_date_gives_the_same_message_as_garbage(text):
    year, month, day = map(int, text.split("-"))
    with pytest.raises(ValueError):
        datetime.date(year, month, day)
    assert message_of(DATE, text) == DATE_ERROR
    assert DATE_ERROR == "does not look like a date (YYYY-MM-DD)."


def test_date_message_can_be_chosen_and_reaches_every_wrapper():
    lens = DateLens(error="is not a day.")
    assert message_of(lens, "2023-02-29") == "is not a day."
    assert message_of(lens, "soon") == "is not a day."
    assert message_of(Required(DATE), "2023-02-30") == DATE_ERROR
    assert message_of(Nullable(DATE), "x") == DATE_ERROR


# -- IntegerLens and DecimalLens ------------------------------------------------


@pytest.mark.parametrize(
    "text, native", [("", None), (" 42 ", 42), ("-7", -7), ("+3", 3), ("007", 7)]
)
def test_integer_from_browser(text, native):
    assert IntegerLens().native_from_string(text) == native


@pytest.mark.parametrize("text", ["4.5", "1e3", "1_000", "x", "١٢", "--1", "9" * 101])
def test_integer_refuses_non_integers(text):
    assert message_of(IntegerLens(), text) == "is not a whole number."


def test_integer_bounds_and_to_browser():
    lens = IntegerLens(minimum=1, maximum=10)
    assert lens.native_from_string("1") == 1
    assert lens.native_from_string("10") == 10
    assert message_of(lens, "0") == "must be at least 1."
    assert message_of(lens, "11") == "must be at most 10."
    assert lens.string_for_browser(None) == ""
    assert lens.string_for_browser(5) == "5"
    with pytest.raises(ValueError):
        IntegerLens(minimum=2, maximum=1)


def test_integer_stays_within_sqlites_range_by_default():
    """Beyond a signed 64-bit integer, Python's sqlite3 raises OverflowError:
    a 30-digit id must be a message beside the field, not a 500."""
    lens = IntegerLens(minimum=1)
    assert lens.native_from_string(str(2**63 - 1)) == 2**63 - 1
    assert IntegerLens().native_from_string(str(-(2**63))) == -(2**63)
    assert message_of(lens, str(2**63)) == "is too large."
    assert message_of(lens, "9" * 30) == "is too large."
    assert message_of(IntegerLens(), str(-(2**63) - 1)) == "is too small."
    assert message_of(IntegerLens(maximum=5), "9" * 30) == "must be at most 5."
    unbounded = IntegerLens(sqlite_range=False)
    assert unbounded.native_from_string("9" * 30) == int("9" * 30)
    assert lens.minimum == 1 and lens.maximum is None  # no max= on the input


@pytest.mark.parametrize(
    "text, native",
    [
        ("", None),
        ("12", Decimal("12")),
        (" -3.50 ", Decimal("-3.50")),
        (".5", Decimal("0.5")),
    ],
)
def test_decimal_from_browser(text, native):
    value = DecimalLens().native_from_string(text)
    assert value == native
    assert value is None or isinstance(value, Decimal)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "1e3", "1,5", "abc", "1.2.3", "."])
def test_decimal_refuses_non_numbers(text):
    assert message_of(DecimalLens(), text) == "is not a number."


def test_decimal_places_and_bounds():
    money = DecimalLens("0", "100", places=2)
    assert money.native_from_string("99.99") == Decimal("99.99")
    assert money.native_from_string("5.") == Decimal("5")
    assert message_of(money, "1.234") == "may have at most 2 digits after the point."
    assert message_of(money, "-0.01") == "must be at least 0."
    assert message_of(money, "100.01") == "must be at most 100."
    assert message_of(DecimalLens(places=0), "1.5") == "must be a whole number."
    assert money.string_for_browser(Decimal("1.50")) == "1.50"
    assert money.string_for_browser(None) == ""
    with pytest.raises(ValueError):
        DecimalLens(2, 1)
    with pytest.raises(ValueError):
        DecimalLens(places=-1)


# -- EmailLens ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a@b.co",
        " zoë@exämple.org ",
        "first.last+tag@sub.example.com",
        "x@xn--bcher-kva.ch",
    ],
)
def test_email_accepts_addresses(text):
    assert EMAIL.native_from_string(text) == text.strip()


@pytest.mark.parametrize(
    "text",
    ["plain", "a@b", "@b.co", "a@@b.co", "a b@c.de", "a@-b.co", "a@b..co", "<a>@b.co"],
)
def test_email_refuses_non_addresses(text):
    assert message_of(EmailLens(), text) == "does not look like an e-mail address."


def test_email_blank_and_to_browser():
    assert EMAIL.native_from_string("  ") == ""
    assert EMAIL.string_for_browser(None) == ""
    assert Nullable(EMAIL).native_from_string("") is None


# -- EnumLens and ListLens -------------------------------------------------------


def test_enum_lens_pairs_and_both_ways():
    lens = EnumLens(["low", "mid", "high"], base=1)
    assert list(lens.string_pairs()) == [("0", "low"), ("1", "mid"), ("2", "high")]
    assert lens.string_for_browser(None) == ""
    assert lens.string_for_browser(3) == "2"
    assert lens.native_from_string("") is None
    assert lens.native_from_string("0") == 1
    assert lens.native_from_string("2") == 3


def test_enum_lens_reverse_and_str_labels():
    lens = EnumLens([10, 20], reverse=True)
    assert list(lens.string_pairs()) == [("1", "20"), ("0", "10")]


@pytest.mark.parametrize("text", ["3", "-1", "99999999999999999999"])
def test_enum_lens_out_of_range(text):
    lens = EnumLens(["a", "b", "c"])
    assert message_of(lens, text) == "out of range (How did you do that?)"


@pytest.mark.parametrize("text", ["x", "1.0", " 1", "1_0", "٣", "9" * 200])
def test_enum_lens_non_integer_is_a_validation_error(text):
    assert message_of(EnumLens(["a", "b"]), text) == "invalid selection"


def test_list_lens():
    lens = ListLens(["FOO", "BAR"])
    assert list(lens.string_pairs()) == [("FOO", "FOO"), ("BAR", "BAR")]
    assert lens.string_for_browser(None) == ""
    assert lens.string_for_browser("BAR") == "BAR"
    assert lens.native_from_string("") is None
    assert lens.native_from_string("FOO") == "FOO"
    assert message_of(lens, "BAZ") == "invalid selection"
    assert message_of(lens, "foo") == "invalid selection"


def test_list_lens_refuses_non_str_options():
    with pytest.raises(TypeError):
        ListLens(["a", 1])


# -- readable names and the 0.0.8 aliases ------------------------------------------


def test_readable_names_and_old_names_are_the_same_functions():
    for cls in (
        StringLens,
        Test,
        Nullable,
        Required,
        DateLens,
        IntegerLens,
        DecimalLens,
        EmailLens,
        EnumLens,
        ListLens,
    ):
        assert cls.string_for_browser is cls.to_text, cls
        assert cls.native_from_string is cls.to_native, cls
    assert DATE.to_native(" 2024-02-29 ") == datetime.date(2024, 2, 29)
    assert DATE.to_text(datetime.date(2024, 2, 29)) == "2024-02-29"


class OldStyle(StringLens):
    """A 0.0.8 subclass: overrides the old names only."""

    def string_for_browser(self, n):
        return "old:" + super().string_for_browser(n)

    def native_from_string(self, s):
        return "old:" + super().native_from_string(s)


class NewStyle(OldStyle):
    """A newer subclass of it: overrides the readable names only."""

    def to_text(self, n):
        return "new:" + super().to_text(n)

    def to_native(self, s):
        return "new:" + super().to_native(s)


def test_overriding_the_old_names_takes_effect_under_the_new_ones():
    lens = OldStyle()
    assert lens.to_text("a") == lens.string_for_browser("a") == "old:a"
    assert lens.to_native(" a ") == lens.native_from_string(" a ") == "old:a"
    # What kali itself calls (the element) runs the override too.
    from kali.forms import Entry

    assert Entry(lens=lens).to_text("a") == "old:a"
    assert Entry(lens=lens).to_native("b") == "old:b"


def test_overriding_the_new_names_takes_effect_under_the_old_ones():
    lens = NewStyle()
    assert lens.string_for_browser("a") == lens.to_text("a") == "new:old:a"
    assert lens.native_from_string("a") == lens.to_native("a") == "new:old:a"


def test_a_lens_written_against_the_new_names_from_scratch():
    class Upper(Lens):
        def to_text(self, n):
            return "" if n is None else n.lower()

        def to_native(self, s):
            if not s:
                raise ValidationError("needed.")
            return s.upper()

    lens = Upper()
    assert lens.native_from_string("ab") == "AB"
    assert lens.string_for_browser("AB") == "ab"
    assert refuses_blank(lens)


@pytest.mark.parametrize(
    "lens, refuses",
    [
        (BLANKABLE, False),
        (NULLABLE, False),
        (TYPICAL, True),
        (DATE, False),
        (Required(DATE), True),
        (IntegerLens(), False),
        (Required(IntegerLens()), True),
        (Test(r"[a-z]+", error="letters."), True),
        (Test(r"[a-z]*", error="letters."), False),
        (EnumLens(["a"]), False),
        (ListLens(["a"]), False),
    ],
)
def test_refuses_blank(lens, refuses):
    assert refuses_blank(lens) is refuses


# -- DecimalLens shows its places -------------------------------------------------


@pytest.mark.parametrize(
    "native, text",
    [
        (89.9, "89.90"),
        ("89.9", "89.90"),
        (Decimal("89.9"), "89.90"),
        (89, "89.00"),
        (Decimal("0"), "0.00"),
        (Decimal("-3.5"), "-3.50"),
        (Decimal("1E+2"), "100.00"),
        (0.1, "0.10"),
        (Decimal("1.234"), "1.234"),  # more places: shown in full, not rounded
        (Decimal("1E+40"), "1" + "0" * 40 + ".00"),  # beyond the context precision
        (Decimal("9" * 60), "9" * 60 + ".00"),
        (1e30, "1" + "0" * 30 + ".00"),
        (7.0, "7.00"),
        (None, ""),
        ("not a number", "not a number"),
        (float("nan"), "nan"),
        (True, "True"),
    ],
)
def test_decimal_shows_its_configured_places(native, text):
    assert DecimalLens(places=2).to_text(native) == text


def test_decimal_places_round_trip_and_without_places_plain_notation():
    money = DecimalLens(places=2)
    assert money.to_native(money.to_text(89.9)) == Decimal("89.90")
    assert DecimalLens(places=0).to_text(7.0) == "7"
    assert DecimalLens().to_text(Decimal("1E-7")) == "0.0000001"
    assert DecimalLens().to_text(89.9) == "89.9"
    assert DecimalLens().to_native(DecimalLens().to_text(Decimal("1E-7"))) == Decimal(
        "1E-7"
    )
