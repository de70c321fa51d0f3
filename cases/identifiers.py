"""Checks for the codes a subject is identified by.

A legal person carries an 18-character Unified Social Credit Code (统一社会信用代码,
GB 32100-2015); a natural person an 18-character resident ID number (公民身份号码,
GB 11643-1999). Both end in a check character, and both checks are enforced here.

Every ``validate_*`` function takes what a person typed, returns the normalised code
(surrounding whitespace removed, ASCII letters upper-cased) and otherwise raises
:class:`cases.errors.InvalidIdentifier` whose ``code`` says which rule failed and whose
``message`` says which character is wrong:

==============  ==========================================================
``length``      not 18 characters (or nothing at all)
``character``   a character that may not appear at that position (or a space)
``region``      USCC positions 3-8 are not a 6-digit region code
``org_check``   USCC position 17, the organisation code's own check character
``birth_date``  resident ID positions 7-14 are not a plausible date of birth
``check``       position 18, the check character of the whole code
``type``        the value is not text at all
==============  ==========================================================

``uscc_validator`` and ``resident_id_validator`` wrap the same checks for Django's
``validators=[...]``. The ``make_*`` functions build codes for demo data and tests; they
only ever build codes the validators accept.

Nothing here touches the database.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from cases.errors import InvalidIdentifier

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters a Unified Social Credit Code may use, in order of their value 0-30.

GB 32100-2015 leaves out I, O, S, V and Z, which are easily mistaken for 1, 0, 5, U and 2.
"""

IDENTIFIER_LENGTH = 18
EARLIEST_BIRTH_DATE = datetime.date(1900, 1, 1)

_DIGITS = "0123456789"
_USCC_ALLOWED_DESCRIPTION = gettext_lazy("0-9 and A-H, J-N, P-R, T-U, W-Y")
_USCC_VALUES = {character: value for value, character in enumerate(USCC_ALPHABET)}

# GB 32100-2015, check character (position 18): weight of position i is 3^(i-1) mod 31,
# C18 = 31 - (sum of value x weight over positions 1-17 mod 31), with 31 written as 0.
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# GB 11714-1997, organisation code check character (USCC position 17, computed over
# positions 9-16): digits count 0-9 and letters A-Z count 10-35;
# C9 = 11 - (sum of value x weight mod 11), with 10 written as X and 11 as 0.
_ORGANISATION_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORGANISATION_CODE_VALUES = {
    character: value for value, character in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
}

# GB 11643-1999 / ISO 7064 MOD 11-2: weight of position i is 2^(18-i) mod 11;
# C18 = (12 - (sum of digit x weight over positions 1-17 mod 11)) mod 11, with 10 written as X.
_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

_USCC_NAME = gettext_lazy("Unified Social Credit Code")
_RESIDENT_ID_NAME = gettext_lazy("resident ID number")

LEGAL = "legal"
NATURAL = "natural"
SUBJECT_KINDS = (LEGAL, NATURAL)


# -- check characters --------------------------------------------------------------------


def uscc_check_character(first17: str) -> str:
    """Return the check character (position 18) for the first 17 characters of a USCC.

    ``first17`` must be exactly 17 characters from ``USCC_ALPHABET`` (upper case);
    anything else raises ``ValueError``, because it is a programming error, not user input.
    """
    if len(first17) != 17 or any(character not in _USCC_VALUES for character in first17):
        raise ValueError(f"Expected 17 characters from the USCC alphabet, got {first17!r}.")
    total = sum(
        _USCC_VALUES[character] * weight
        for character, weight in zip(first17, _USCC_WEIGHTS, strict=True)
    )
    return USCC_ALPHABET[(31 - total % 31) % 31]


def organisation_code_check_character(first8: str) -> str:
    """Return the GB 11714 check character for the 8-character body of an organisation code.

    In a USCC the body is positions 9-16 and the result belongs at position 17. ``first8``
    must be exactly 8 characters from 0-9 and A-Z (upper case), otherwise ``ValueError``.
    The result is a digit or ``X``.
    """
    if len(first8) != 8 or any(character not in _ORGANISATION_CODE_VALUES for character in first8):
        raise ValueError(f"Expected 8 characters from 0-9 and A-Z, got {first8!r}.")
    total = sum(
        _ORGANISATION_CODE_VALUES[character] * weight
        for character, weight in zip(first8, _ORGANISATION_CODE_WEIGHTS, strict=True)
    )
    remainder = 11 - total % 11
    if remainder == 10:
        return "X"
    if remainder == 11:
        return "0"
    return str(remainder)


def resident_id_check_character(first17: str) -> str:
    """Return the check character (position 18, a digit or ``X``) for a resident ID.

    ``first17`` must be exactly 17 ASCII digits, otherwise ``ValueError``.
    """
    if len(first17) != 17 or any(character not in _DIGITS for character in first17):
        raise ValueError(f"Expected 17 digits, got {first17!r}.")
    total = sum(
        int(character) * weight
        for character, weight in zip(first17, _RESIDENT_ID_WEIGHTS, strict=True)
    )
    check = (12 - total % 11) % 11
    return "X" if check == 10 else str(check)


# -- validation --------------------------------------------------------------------------


def validate_uscc(value: str) -> str:
    """Return ``value`` as a normalised Unified Social Credit Code, or raise InvalidIdentifier.

    Surrounding whitespace is removed and lower-case letters are accepted as upper case;
    a space inside the code is refused. Checks, in order: length, the alphabet at every
    position, the region code (positions 3-8), the organisation code's check character
    (position 17) and the code's check character (position 18). The first failure is
    reported, naming the position.
    """
    code = _normalise(value, _USCC_NAME)

    for index, character in enumerate(code):
        if character not in _USCC_VALUES:
            raise InvalidIdentifier(
                _(
                    "Character %(character)s at position %(position)s is not allowed in a "
                    "%(name)s (allowed: %(allowed)s)."
                )
                % {
                    "character": _show(character),
                    "position": index + 1,
                    "name": _USCC_NAME,
                    "allowed": _USCC_ALLOWED_DESCRIPTION,
                },
                code="character",
            )

    for index in range(2, 8):
        if code[index] not in _DIGITS:
            raise InvalidIdentifier(
                _(
                    "Positions 3-8 must be the 6-digit region code; "
                    "position %(position)s is %(character)s."
                )
                % {"position": index + 1, "character": _show(code[index])},
                code="region",
            )

    expected = organisation_code_check_character(code[8:16])
    if code[16] != expected:
        raise InvalidIdentifier(
            _(
                "Organisation code check character (position 17) should be '%(expected)s', "
                "not %(actual)s."
            )
            % {"expected": expected, "actual": _show(code[16])},
            code="org_check",
        )

    expected = uscc_check_character(code[:17])
    if code[17] != expected:
        raise InvalidIdentifier(
            _("Check character should be '%(expected)s', not %(actual)s (position 18).")
            % {"expected": expected, "actual": _show(code[17])},
            code="check",
        )
    return code


def validate_resident_id(value: str, *, today: datetime.date | None = None) -> str:
    """Return ``value`` as a normalised resident ID number, or raise InvalidIdentifier.

    Surrounding whitespace is removed and a final lower-case ``x`` is accepted as ``X``;
    a space inside the number is refused. Checks, in order: length, digits at positions
    1-17 and a digit or ``X`` at 18, a date of birth at positions 7-14 that exists, is
    not before 1900-01-01 and not after ``today`` (default: the machine's current date;
    pass ``django.utils.timezone.localdate()`` where the local day matters), and the
    ISO 7064 MOD 11-2 check character at position 18.
    """
    number = _normalise(value, _RESIDENT_ID_NAME)

    for index, character in enumerate(number[:17]):
        if character not in _DIGITS:
            raise InvalidIdentifier(
                _(
                    "Character %(character)s at position %(position)s is not allowed in a "
                    "%(name)s (positions 1-17 are digits)."
                )
                % {"character": _show(character), "position": index + 1, "name": _RESIDENT_ID_NAME},
                code="character",
            )
    if number[17] not in _DIGITS + "X":
        raise InvalidIdentifier(
            _(
                "Character %(character)s at position 18 is not allowed in a "
                "%(name)s (the last character is a digit or X)."
            )
            % {"character": _show(number[17]), "name": _RESIDENT_ID_NAME},
            code="character",
        )

    _check_birth_date(number[6:14], today=today or datetime.date.today())

    expected = resident_id_check_character(number[:17])
    if number[17] != expected:
        raise InvalidIdentifier(
            _("Check character should be '%(expected)s', not %(actual)s (position 18).")
            % {"expected": expected, "actual": _show(number[17])},
            code="check",
        )
    return number


def validate_subject_code(value: str, kind: str) -> str:
    """Validate the code of a subject of ``kind`` ``"legal"`` (USCC) or ``"natural"`` (resident ID).

    Returns the normalised code or raises InvalidIdentifier; an unknown ``kind`` raises
    ``ValueError``.
    """
    if kind == LEGAL:
        return validate_uscc(value)
    if kind == NATURAL:
        return validate_resident_id(value)
    raise ValueError(f"Unknown subject kind {kind!r}; expected one of {SUBJECT_KINDS}.")


def subject_code_identify(value: str) -> tuple[str, str]:
    """(normalised code, kind) of a subject code whose kind is not given.

    The code is checked as the kind it looks like (``guess_subject_kind``); an
    ID-shaped code that fails is tried as a USCC too (an all-digit USCC looks like a
    resident ID). On failure the error is that of the kind it looks like, except that
    an ID-shaped code with no date of birth in it gets the USCC's error.
    """
    kind = guess_subject_kind(value)
    try:
        return validate_subject_code(value, kind), kind
    except InvalidIdentifier as error:
        if kind != NATURAL:
            raise
        try:
            return validate_subject_code(value, LEGAL), LEGAL
        except InvalidIdentifier as legal_error:
            if error.code == "birth_date":
                raise legal_error from None
            raise error from None


def guess_subject_kind(value: str) -> str:
    """Return ``"natural"`` if ``value`` is shaped like a resident ID, else ``"legal"``.

    Shaped like a resident ID means, after normalising: 17 digits followed by a digit or
    ``X``. This is a guess from the shape only, for pre-filling a form; it does not
    validate, and an all-digit USCC would be guessed ``"natural"``. Never raises for text.
    """
    candidate = _upper_ascii(value.strip())
    looks_like_resident_id = (
        len(candidate) == IDENTIFIER_LENGTH
        and all(character in _DIGITS for character in candidate[:17])
        and candidate[17] in _DIGITS + "X"
    )
    return NATURAL if looks_like_resident_id else LEGAL


# -- Django validators -------------------------------------------------------------------


def uscc_validator(value: str) -> None:
    """Django validator: raise ValidationError (with the InvalidIdentifier's code) if invalid.

    It checks the normalised form, so a form or service should store what
    ``validate_uscc`` returns rather than the raw input.
    """
    try:
        validate_uscc(value)
    except InvalidIdentifier as error:
        raise ValidationError(error.message, code=error.code) from error


def resident_id_validator(value: str) -> None:
    """Django validator: raise ValidationError (with the InvalidIdentifier's code) if invalid.

    It checks the normalised form, so a form or service should store what
    ``validate_resident_id`` returns rather than the raw input.
    """
    try:
        validate_resident_id(value)
    except InvalidIdentifier as error:
        raise ValidationError(error.message, code=error.code) from error


# -- building codes (demo data, test factories) ------------------------------------------


def make_uscc(
    *,
    authority: str = "9",
    entity_type: str = "1",
    region: str = "440300",
    org_body: str,
) -> str:
    """Build a valid USCC, computing both check characters.

    ``authority`` (position 1: 9 is market regulation) and ``entity_type`` (position 2: 1 is
    an enterprise) are single characters from ``USCC_ALPHABET``; ``region`` is the 6-digit
    administrative division code (default Shenzhen); ``org_body`` is the 8-character body of
    the organisation code, from ``USCC_ALPHABET``. Anything else raises ``ValueError``.
    The result always passes ``validate_uscc``.
    """
    for name, part in (("authority", authority), ("entity_type", entity_type)):
        if len(part) != 1 or part not in _USCC_VALUES:
            raise ValueError(f"{name} must be one character from {USCC_ALPHABET}, got {part!r}.")
    if len(region) != 6 or any(character not in _DIGITS for character in region):
        raise ValueError(f"region must be 6 digits, got {region!r}.")
    if len(org_body) != 8 or any(character not in _USCC_VALUES for character in org_body):
        raise ValueError(
            f"org_body must be 8 characters from {USCC_ALPHABET} "
            f"(no I, O, S, V or Z), got {org_body!r}."
        )
    first17 = (
        authority + entity_type + region + org_body + organisation_code_check_character(org_body)
    )
    return first17 + uscc_check_character(first17)


def make_resident_id(*, region: str, birth: datetime.date, sequence: int) -> str:
    """Build a valid resident ID number, computing its check character.

    ``region`` is the 6-digit administrative division code; ``birth`` a date from
    1900-01-01 to today; ``sequence`` 0-999 (positions 15-17; by GB 11643 its last digit is
    odd for men and even for women). Anything else raises ``ValueError``. The result always
    passes ``validate_resident_id``.
    """
    if len(region) != 6 or any(character not in _DIGITS for character in region):
        raise ValueError(f"region must be 6 digits, got {region!r}.")
    if not EARLIEST_BIRTH_DATE <= birth <= datetime.date.today():
        raise ValueError(f"birth must be from {EARLIEST_BIRTH_DATE} to today, got {birth}.")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 0 <= sequence <= 999:
        raise ValueError(f"sequence must be an integer from 0 to 999, got {sequence!r}.")
    first17 = f"{region}{birth.year:04d}{birth.month:02d}{birth.day:02d}{sequence:03d}"
    return first17 + resident_id_check_character(first17)


# -- shared steps ------------------------------------------------------------------------


def _normalise(value: str, name: str) -> str:
    """Strip surrounding whitespace and upper-case ASCII letters; refuse spaces and bad lengths."""
    if not isinstance(value, str):
        raise InvalidIdentifier(
            _("A %(name)s must be given as text, not %(type)s.")
            % {"name": name, "type": type(value).__name__},
            code="type",
        )
    stripped = value.strip()
    if not stripped:
        raise InvalidIdentifier(
            _("A %(name)s has %(length)s characters; none was given.")
            % {"name": name, "length": IDENTIFIER_LENGTH},
            code="length",
        )
    for index, character in enumerate(stripped):
        if character.isspace():
            raise InvalidIdentifier(
                _("A %(name)s has no spaces; there is one at position %(position)s.")
                % {"name": name, "position": index + 1},
                code="character",
            )
    if len(stripped) != IDENTIFIER_LENGTH:
        raise InvalidIdentifier(
            _("A %(name)s has %(length)s characters; this one has %(count)s.")
            % {"name": name, "length": IDENTIFIER_LENGTH, "count": len(stripped)},
            code="length",
        )
    return _upper_ascii(stripped)


def _upper_ascii(text: str) -> str:
    """Upper-case a-z only, so no other script's letter can turn into an allowed one."""
    return "".join(
        character.upper() if "a" <= character <= "z" else character for character in text
    )


def _check_birth_date(digits: str, *, today: datetime.date) -> None:
    """Raise InvalidIdentifier unless ``digits`` (YYYYMMDD) is a date from 1900-01-01 to today."""
    try:
        birth = datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise InvalidIdentifier(
            _("Positions 7-14 should be a date of birth (YYYYMMDD); '%(digits)s' is not a date.")
            % {"digits": digits},
            code="birth_date",
        ) from None
    if birth < EARLIEST_BIRTH_DATE:
        raise InvalidIdentifier(
            _(
                "Positions 7-14 should be a date of birth (YYYYMMDD); "
                "'%(digits)s' is before %(earliest)s."
            )
            % {"digits": digits, "earliest": EARLIEST_BIRTH_DATE.isoformat()},
            code="birth_date",
        )
    if birth > today:
        raise InvalidIdentifier(
            _("Positions 7-14 should be a date of birth (YYYYMMDD); '%(digits)s' is in the future.")
            % {"digits": digits},
            code="birth_date",
        )


def _show(character: str) -> str:
    """Quote a character for a message; name it by code point if it would not print."""
    if not character.isprintable():
        return f"U+{ord(character):04X}"
    return pgettext("a character quoted in a message", "'%(character)s'") % {"character": character}
