"""A subject's code is checked the way GB 32100-2015 and GB 11643-1999 say, and a person who
mistypes one is told which character is wrong.

Published codes used as known-good examples (each passes both the GB 11714 organisation code
check at position 17 and the GB 32100 check at position 18, verified independently of
``cases.identifiers`` before being written down here):

- 914403001922038216  Huawei Technologies Co., Ltd. (华为技术有限公司), as listed on Wikipedia
- 91440300708461136T  Tencent Technology (Shenzhen) Co., Ltd. (腾讯科技(深圳)有限公司)
- 91110108551385082Q  Xiaomi Inc. (小米科技有限责任公司)
- 91110000802100433B  Beijing Baidu Netcom Science and Technology Co., Ltd.
                      (北京百度网讯科技有限公司)
- 91350100M000100Y43  the code most widely quoted as a sample by USCC validators (Fuzhou region)

Resident ID: 11010519491231002X, the worked example of GB 11643-1999 (a woman born in Beijing's
Chaoyang district on 1949-12-31), reproduced by most ID validators. 440524188001010014, the
other example usually quoted from the standard, has a correct check character but was born in
1880, so the rule "not before 1900-01-01" refuses it.

No database is needed here.
"""

import datetime
import re

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from cases.errors import InvalidIdentifier
from cases.identifiers import (
    USCC_ALPHABET,
    guess_subject_kind,
    make_resident_id,
    make_uscc,
    organisation_code_check_character,
    resident_id_check_character,
    resident_id_validator,
    uscc_check_character,
    uscc_validator,
    validate_resident_id,
    validate_subject_code,
    validate_uscc,
)

pytestmark = pytest.mark.engine_independent

PUBLISHED_USCCS = [
    "914403001922038216",
    "91440300708461136T",
    "91110108551385082Q",
    "91110000802100433B",
    "91350100M000100Y43",
]
PUBLISHED_RESIDENT_ID = "11010519491231002X"

NAMES_A_POSITION = re.compile(r"[Pp]ositions? \d+")
RESIDENT_ID_CHARACTERS = "0123456789X"


def rejection(validate, value: str) -> InvalidIdentifier:
    """Return the InvalidIdentifier ``validate`` raises for ``value`` (failing if it accepts)."""
    with pytest.raises(InvalidIdentifier) as caught:
        validate(value)
    return caught.value


def replaced(code: str, index: int, character: str) -> str:
    return code[:index] + character + code[index + 1 :]


# -- strategies ----------------------------------------------------------------------------

uscc_characters = st.sampled_from(USCC_ALPHABET)
region_codes = st.text(alphabet="0123456789", min_size=6, max_size=6)
org_bodies = st.text(alphabet=USCC_ALPHABET, min_size=8, max_size=8)
valid_usccs = st.builds(
    make_uscc,
    authority=uscc_characters,
    entity_type=uscc_characters,
    region=region_codes,
    org_body=org_bodies,
)
valid_resident_ids = st.builds(
    make_resident_id,
    region=region_codes,
    birth=st.dates(min_value=datetime.date(1900, 1, 1), max_value=datetime.date.today()),
    sequence=st.integers(min_value=0, max_value=999),
)
# Arbitrary text, plus text close enough to a code to get past the first checks.
typed_text = st.one_of(
    st.text(),
    st.text(alphabet=USCC_ALPHABET + "IOSVZiosvzx -\t\u3000\uff10", min_size=15, max_size=21),
    st.text(alphabet="0123456789Xx ", min_size=15, max_size=21),
)


# -- the published codes -------------------------------------------------------------------


@pytest.mark.parametrize("code", PUBLISHED_USCCS)
def test_a_published_company_code_is_accepted(code):
    assert validate_uscc(code) == code
    assert uscc_check_character(code[:17]) == code[17]
    assert organisation_code_check_character(code[8:16]) == code[16]


def test_the_resident_id_printed_in_the_standard_is_accepted():
    assert validate_resident_id(PUBLISHED_RESIDENT_ID) == PUBLISHED_RESIDENT_ID
    assert resident_id_check_character(PUBLISHED_RESIDENT_ID[:17]) == "X"


@pytest.mark.parametrize("code", PUBLISHED_USCCS)
def test_every_single_mistyped_character_in_a_published_code_is_caught(code):
    for index, original in enumerate(code):
        for character in USCC_ALPHABET.replace(original, ""):
            error = rejection(validate_uscc, replaced(code, index, character))
            assert NAMES_A_POSITION.search(error.message), error.message


def test_every_single_mistyped_character_in_the_published_resident_id_is_caught():
    for index, original in enumerate(PUBLISHED_RESIDENT_ID):
        for character in RESIDENT_ID_CHARACTERS.replace(original, ""):
            error = rejection(
                validate_resident_id, replaced(PUBLISHED_RESIDENT_ID, index, character)
            )
            assert NAMES_A_POSITION.search(error.message), error.message


# -- what a person is told: company codes --------------------------------------------------


def test_a_code_one_character_short_says_how_long_it_should_be():
    error = rejection(validate_uscc, "91350100M000100Y4")

    assert error.code == "length"
    assert error.message == "A Unified Social Credit Code has 18 characters; this one has 17."


def test_an_empty_code_says_none_was_given():
    error = rejection(validate_uscc, "   ")

    assert error.code == "length"
    assert error.message == "A Unified Social Credit Code has 18 characters; none was given."


def test_a_code_with_a_letter_the_standard_leaves_out_names_the_letter_and_its_position():
    error = rejection(validate_uscc, "9135I100M000100Y43")

    assert error.code == "character"
    assert error.message == (
        "Character 'I' at position 5 is not allowed in a Unified Social Credit Code "
        "(allowed: 0-9 and A-H, J-N, P-R, T-U, W-Y)."
    )


def test_a_letter_in_the_region_code_says_the_region_must_be_digits():
    error = rejection(validate_uscc, "913A0100M000100Y43")

    assert error.code == "region"
    assert error.message == "Positions 3-8 must be the 6-digit region code; position 4 is 'A'."


def test_a_wrong_organisation_code_check_character_says_which_it_should_be():
    # 9144030000000006XE is make_uscc(org_body="00000006"); position 17 changed from X to 3.
    error = rejection(validate_uscc, "91440300000000063E")

    assert error.code == "org_check"
    assert error.message == (
        "Organisation code check character (position 17) should be 'X', not '3'."
    )


def test_a_code_with_a_wrong_check_character_says_which_character_it_should_be():
    # 914403000000004308 is make_uscc(org_body="00000043"); position 18 changed from 8 to 6.
    error = rejection(validate_uscc, "914403000000004306")

    assert error.code == "check"
    assert error.message == "Check character should be '8', not '6' (position 18)."


def test_a_code_typed_in_lower_case_with_spaces_around_it_is_accepted_in_upper_case():
    assert validate_uscc("  91350100m000100y43\n") == "91350100M000100Y43"


def test_a_code_with_a_space_inside_it_is_refused_and_the_space_is_located():
    error = rejection(validate_uscc, "9135 0100M000100Y43")

    assert error.code == "character"
    assert error.message == (
        "A Unified Social Credit Code has no spaces; there is one at position 5."
    )


def test_a_full_width_digit_is_not_taken_for_an_ascii_one():
    full_width_nine = "\uff19"
    error = rejection(validate_uscc, full_width_nine + "1350100M000100Y43")

    assert error.code == "character"
    assert "position 1 " in error.message


# -- what a person is told: resident IDs ---------------------------------------------------


def test_an_old_fifteen_digit_id_is_refused_for_its_length():
    error = rejection(validate_resident_id, "110105491231002")

    assert error.code == "length"
    assert error.message == "A resident ID number has 18 characters; this one has 15."


def test_a_letter_inside_a_resident_id_names_its_position():
    error = rejection(validate_resident_id, "1101A519491231002X")

    assert error.code == "character"
    assert error.message == (
        "Character 'A' at position 5 is not allowed in a resident ID number "
        "(positions 1-17 are digits)."
    )


def test_a_resident_id_ending_in_a_letter_other_than_x_is_refused():
    error = rejection(validate_resident_id, "11010519491231002Y")

    assert error.code == "character"
    assert error.message == (
        "Character 'Y' at position 18 is not allowed in a resident ID number "
        "(the last character is a digit or X)."
    )


def test_a_resident_id_whose_birth_date_does_not_exist_quotes_the_date():
    error = rejection(validate_resident_id, "110105199913320021")

    assert error.code == "birth_date"
    assert error.message == (
        "Positions 7-14 should be a date of birth (YYYYMMDD); '19991332' is not a date."
    )


def test_a_resident_id_born_on_the_30th_of_february_is_refused():
    error = rejection(validate_resident_id, "110105200002300021")

    assert error.code == "birth_date"


def test_a_resident_id_born_in_the_future_is_refused():
    error = rejection(validate_resident_id, "110105209901010011")

    assert error.code == "birth_date"
    assert error.message == (
        "Positions 7-14 should be a date of birth (YYYYMMDD); '20990101' is in the future."
    )


def test_a_baby_born_today_is_accepted_but_not_one_born_tomorrow():
    number = make_resident_id(region="110105", birth=datetime.date(2024, 5, 2), sequence=1)

    assert validate_resident_id(number, today=datetime.date(2024, 5, 2)) == number
    error = rejection(
        lambda value: validate_resident_id(value, today=datetime.date(2024, 5, 1)), number
    )
    assert error.code == "birth_date"


def test_a_resident_id_born_before_1900_is_refused():
    error = rejection(validate_resident_id, "440524188001010014")

    assert error.code == "birth_date"
    assert error.message == (
        "Positions 7-14 should be a date of birth (YYYYMMDD); '18800101' is before 1900-01-01."
    )


def test_a_resident_id_with_a_wrong_check_character_says_which_it_should_be():
    error = rejection(validate_resident_id, "110105194912310025")

    assert error.code == "check"
    assert error.message == "Check character should be 'X', not '5' (position 18)."


def test_a_resident_id_ending_in_lower_case_x_is_accepted_as_upper_case():
    assert validate_resident_id(" 11010519491231002x ") == "11010519491231002X"


# -- one entry point for both kinds of subject ---------------------------------------------


def test_a_subject_code_is_checked_by_the_rule_for_its_kind():
    assert validate_subject_code("91350100m000100y43", "legal") == "91350100M000100Y43"
    assert validate_subject_code(PUBLISHED_RESIDENT_ID, "natural") == PUBLISHED_RESIDENT_ID
    with pytest.raises(InvalidIdentifier):
        validate_subject_code(PUBLISHED_RESIDENT_ID, "legal")
    with pytest.raises(InvalidIdentifier):
        validate_subject_code("91350100M000100Y43", "natural")


def test_an_unknown_subject_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="Unknown subject kind"):
        validate_subject_code("91350100M000100Y43", "corporate")


def test_a_code_shaped_like_a_resident_id_is_guessed_to_be_a_person():
    assert guess_subject_kind(PUBLISHED_RESIDENT_ID) == "natural"
    assert guess_subject_kind(" 11010519491231002x ") == "natural"
    assert guess_subject_kind("91350100M000100Y43") == "legal"
    assert guess_subject_kind("91440300708461136T") == "legal"
    assert guess_subject_kind("") == "legal"


# -- Django validators ---------------------------------------------------------------------


def test_the_django_validators_pass_a_valid_code():
    assert uscc_validator("91110108551385082Q") is None
    assert resident_id_validator(PUBLISHED_RESIDENT_ID) is None


def test_the_django_validators_carry_the_same_message_and_code():
    with pytest.raises(ValidationError) as caught:
        uscc_validator("914403000000004306")
    assert caught.value.code == "check"
    assert caught.value.messages == ["Check character should be '8', not '6' (position 18)."]

    with pytest.raises(ValidationError) as caught:
        resident_id_validator("110105199913320021")
    assert caught.value.code == "birth_date"


# -- building codes for demo data and factories --------------------------------------------


def test_an_organisation_code_body_with_a_letter_the_uscc_leaves_out_cannot_be_built():
    for letter in "IOSVZ":
        with pytest.raises(ValueError, match="org_body"):
            make_uscc(org_body=f"0000000{letter}")


def test_a_malformed_authority_region_or_lower_case_body_cannot_be_built():
    with pytest.raises(ValueError, match="authority"):
        make_uscc(authority="I", org_body="00000001")
    with pytest.raises(ValueError, match="region"):
        make_uscc(region="44030A", org_body="00000001")
    with pytest.raises(ValueError, match="org_body"):
        make_uscc(org_body="m0001000")


@pytest.mark.parametrize(
    ("birth", "sequence"),
    [
        (datetime.date(1899, 12, 31), 1),
        (datetime.date.today() + datetime.timedelta(days=1), 1),
        (datetime.date(1980, 1, 1), 1000),
        (datetime.date(1980, 1, 1), -1),
    ],
)
def test_a_resident_id_that_would_be_refused_cannot_be_built(birth, sequence):
    with pytest.raises(ValueError):
        make_resident_id(region="110105", birth=birth, sequence=sequence)


def test_a_built_resident_id_spells_out_region_birth_and_sequence():
    number = make_resident_id(region="110105", birth=datetime.date(1949, 12, 31), sequence=2)

    assert number == PUBLISHED_RESIDENT_ID


# -- properties ----------------------------------------------------------------------------


@given(valid_usccs)
def test_every_built_company_code_is_accepted(code):
    assert validate_uscc(code) == code
    assert validate_uscc(code.lower()) == code


@given(valid_resident_ids)
def test_every_built_resident_id_is_accepted(number):
    assert validate_resident_id(number) == number
    assert guess_subject_kind(number) == "natural"


@given(valid_usccs, st.integers(min_value=0, max_value=17), uscc_characters)
def test_changing_any_one_character_of_a_company_code_is_caught(code, index, character):
    if code[index] == character:
        character = USCC_ALPHABET[(USCC_ALPHABET.index(character) + 1) % len(USCC_ALPHABET)]

    error = rejection(validate_uscc, replaced(code, index, character))

    assert NAMES_A_POSITION.search(error.message), error.message


@given(
    valid_resident_ids,
    st.integers(min_value=0, max_value=17),
    st.sampled_from(RESIDENT_ID_CHARACTERS),
)
def test_changing_any_one_character_of_a_resident_id_is_caught(number, index, character):
    if number[index] == character:
        character = RESIDENT_ID_CHARACTERS[(RESIDENT_ID_CHARACTERS.index(character) + 1) % 11]

    error = rejection(validate_resident_id, replaced(number, index, character))

    assert NAMES_A_POSITION.search(error.message), error.message


@given(valid_resident_ids, st.integers(min_value=0, max_value=16))
def test_swapping_two_neighbouring_digits_of_a_resident_id_is_caught(number, index):
    swapped = number[:index] + number[index + 1] + number[index] + number[index + 2 :]
    if swapped == number:
        return  # the two neighbours were equal: nothing was mistyped

    rejection(validate_resident_id, swapped)


@given(valid_usccs, st.integers(min_value=0, max_value=16))
def test_swapping_two_neighbouring_characters_of_a_company_code_is_caught(code, index):
    swapped = code[:index] + code[index + 1] + code[index] + code[index + 2 :]
    if swapped == code:
        return

    rejection(validate_uscc, swapped)


@given(typed_text)
def test_whatever_is_typed_the_validators_only_ever_refuse_with_invalid_identifier(text):
    for validate in (
        validate_uscc,
        validate_resident_id,
        lambda value: validate_subject_code(value, "legal"),
        lambda value: validate_subject_code(value, "natural"),
    ):
        try:
            normalised = validate(text)
        except InvalidIdentifier as error:
            assert error.message
            assert error.code in {
                "length",
                "character",
                "region",
                "org_check",
                "birth_date",
                "check",
            }
        else:
            assert normalised == text.strip().upper()
    assert guess_subject_kind(text) in {"legal", "natural"}


@given(typed_text)
def test_whatever_is_typed_the_django_validators_only_ever_raise_validation_error(text):
    for validator in (uscc_validator, resident_id_validator):
        try:
            validator(text)
        except ValidationError as error:
            assert error.messages
