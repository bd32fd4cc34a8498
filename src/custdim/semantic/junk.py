"""Built-in bypass list: placeholder values that must never make two records match ('N/A', 'test@test.com',
'000-000-0000').

Values are compared after trimming and lowercasing. Besides the exact list ``JUNK_VALUES``:

- strings made only of ASCII punctuation and spaces ('-', '...', '?', '') and x-masks ('x', 'xxx-xxx-xxxx');
- placeholder e-mail mailboxes (``JUNK_EMAIL_LOCALS``: 'noemail@anything', 'none@...', 'test@...') and
  ``JUNK_EMAIL_DOMAINS`` ('invalid', 'localhost', '*.invalid', '*.localhost', '*.test');
- phone-like strings (digits and phone punctuation only) whose digits are one digit repeated 6+ times (or a country
  code 1 and ten repeated digits) or a counting run (123456, 1234567890, 0123456789, 9876543210).

Not junk: any other address at example.com/.org/.net. The domain is reserved (RFC 2606), but fixtures, demos and
test data use it for realistic-looking distinct people (jose@example.com vs anna@example.com); only placeholder
mailboxes there ('example@example.com', 'test@example.com') are junk. Null counts as junk (it never matches either).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

# 'nan' (pandas' missing value as text) is left out: Nan is also a given name, and junk is never matched again.
JUNK_VALUES: frozenset[str] = frozenset(
    {
        "", "unknown", "unk", "n/a", "n.a.", "n.a", "na", "none", "null", "nil", "#n/a", "undefined",
        "not available", "not applicable", "not provided", "not given", "no name", "noname", "anonymous",
        "test", "testing", "test test", "tester", "test user", "tbd", "tba", "todo", "xxx xxx", "asdf", "qwerty",
        "-", "--", ".", "x", "xx", "xxx", "?", "??", "0", "00", "000", "do not use", "donotuse",
        "do not mail", "enter your name", "your name", "first name", "last name", "firstname", "lastname", "name",
        "none@none.com", "test@test.com", "no@email.com", "noemail@noemail.com", "example@example.com",
        "email@email.com", "email@example.com", "user@example.com", "name@example.com", "test@example.com",
        "a@a.com", "x@x.com", "xxx@xxx.com", "abc@abc.com", "null@null.com", "na@na.com",
    }
)  # fmt: skip

# Mailboxes that mean "no e-mail" whatever the domain.
JUNK_EMAIL_LOCALS: tuple[str, ...] = (
    "noemail", "no.email", "no_email", "no-email", "nomail", "no.mail", "none", "noreply", "no.reply", "no-reply",
    "donotreply", "do.not.reply", "do-not-reply", "donotemail", "dontemail", "invalid", "null", "unknown", "na",
    "test", "fake", "dummy", "noone", "nobody", "blank", "xxx", "x", "abc", "asdf", "notprovided", "declined",
)  # fmt: skip
# Domains that cannot receive mail (RFC 2606 / 6761 special-use names other than example.*).
JUNK_EMAIL_DOMAINS: tuple[str, ...] = ("invalid", "localhost", "[a-z0-9.-]*[.](invalid|localhost|test)")

_SPACES = "[ \t\r\n\f\u00a0]"
_ONLY_PUNCTUATION = r"^[ !-/:-@\[-`{-~]*$"
_X_MASK = r"^[x .()/-]+$"
# No backreferences (RE2 has none): every repeated digit is spelled out.
# A leading country code 1 is allowed only before ten repeated digits ('1-000-000-0000'), so '1000000' is not junk.
_REPEATED_DIGITS = (
    "^(" + "|".join(f"{d}{{6,}}" for d in range(10)) + "|1(" + "|".join(f"{d}{{10}}" for d in range(10)) + "))$"
)
_COUNTING_RUNS = "^(0?123456789|1234567890|9876543210|0987654321|123456|1234567|12345678|87654321)$"
_PHONE_LIKE = r"^[+]?[0-9 ().-]+$"


def _escape(word: str) -> str:
    return word.replace(".", "[.]").replace("-", "[-]")


_EMAIL = f"^({'|'.join(_escape(w) for w in JUNK_EMAIL_LOCALS)})@[^@]+$|^[^@]+@({'|'.join(JUNK_EMAIL_DOMAINS)})$"


def _canonical(v: ir.StringValue) -> ir.StringValue:
    """Trimmed (all whitespace kinds, not only spaces) and lowercased."""
    return v.lower().re_replace(f"^{_SPACES}+|{_SPACES}+$", "")


def is_junk_canonical(c: ir.StringValue) -> ir.BooleanValue:
    """``is_junk`` of a value already trimmed and lowercased (``_canonical``); null gives True."""
    digits = c.re_replace("[^0-9]", "")
    # A CASE, not an AND: engines evaluate both sides of an AND for every row, and extracting the digits of every
    # e-mail address and street for the repeated-digit check cost 2 s per million values.
    phone_junk = ibis.ifelse(
        c.re_search(_PHONE_LIKE), digits.re_search(_REPEATED_DIGITS) | digits.re_search(_COUNTING_RUNS), False
    )
    junk = (
        c.isin(sorted(JUNK_VALUES))
        | c.re_search(_ONLY_PUNCTUATION)
        | c.re_search(_X_MASK)
        | c.re_search(_EMAIL)
        | phone_junk
    )
    return junk.fill_null(True)


def is_junk(v: ir.StringValue) -> ir.BooleanValue:
    """True when the trimmed, lowercased value is a placeholder that must never match (see the module docstring).

    Null input gives True. (Pipelines compute ``_canonical`` once in its own projection and call
    ``is_junk_canonical``: inline, the canonical form would be recomputed for each of the checks.)
    """
    return is_junk_canonical(_canonical(v))


def canonical(v: ir.StringValue) -> ir.StringValue:
    """Trimmed (all whitespace kinds) and lowercased: the form junk checks compare."""
    return _canonical(v)


def drop_junk(v: ir.StringValue) -> ir.StringValue:
    """The value itself, or null when it is junk (``is_junk``)."""
    return ibis.ifelse(is_junk(v), ibis.null("string"), v)
