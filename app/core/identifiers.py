"""Checks of the identifiers and contact details we accept, shared by every domain."""

import re

import phonenumbers
from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumError

_FINESS = re.compile(r"^(\d{2}|2[AB])\d{7}$")


def validate_finess(value: str) -> str:
    """A FINESS number: 9 characters, département first (2A/2B for Corsica), Luhn key last.

    Raises ValueError (in French: the message reaches the user) when it is not one."""
    finess = value.strip().replace(" ", "").upper()
    if not _FINESS.match(finess):
        raise ValueError("Numéro FINESS invalide : 9 caractères attendus (ex. 620012345).")
    # The key of Corsican numbers is computed on a numeric form we cannot rebuild with
    # certainty, so for them only the format is checked.
    if finess[:2] not in ("2A", "2B"):
        try:
            luhn.validate(finess)
        except StdnumError:
            raise ValueError("Numéro FINESS invalide : la clé de contrôle ne correspond pas.") from None
    return finess


def validate_rpps(value: str) -> str:
    """An RPPS number: 11 digits, the last a Luhn key. ValueError in French otherwise."""
    rpps = value.strip().replace(" ", "")
    if len(rpps) != 11 or not rpps.isdigit():
        raise ValueError("Numéro RPPS invalide : 11 chiffres attendus.")
    try:
        luhn.validate(rpps)
    except StdnumError:
        raise ValueError("Numéro RPPS invalide : la clé de contrôle ne correspond pas.") from None
    return rpps


def normalize_phone(value: str, region: str = "FR") -> str:
    """Any French way of writing a phone number → E.164 (+33…). ValueError in French otherwise."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValueError("Numéro de téléphone invalide.") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("Numéro de téléphone invalide.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# France and its overseas departments and collectivities: numbers a person answers there.
_FRENCH_REGIONS = frozenset({"FR", "GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF", "NC", "PF", "WF"})
_CALLABLE = frozenset(
    {
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        phonenumbers.PhoneNumberType.VOIP,  # 09: a box's line, at home
        phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    }
)
_SMS = frozenset({phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE})
CONTACT_PHONE_EXPECTED = (
    "Téléphone : un numéro français (06 12 34 56 78, 03 21 55 66 77, +33…) "
    "ou un portable étranger avec son indicatif (+32 470 12 34 56) est attendu."
)


def contact_phone(value: str) -> str:
    """A number a person can be called on → E.164: any French line (mobile, landline, 09,
    with or without +33, spaces, dots) or a foreign mobile written with its prefix
    (Belgium is next door). ValueError in French otherwise."""
    try:
        number = phonenumbers.parse(value, "FR")
    except phonenumbers.NumberParseException:
        raise ValueError(CONTACT_PHONE_EXPECTED) from None
    kind = phonenumbers.number_type(number)
    french = phonenumbers.region_code_for_number(number) in _FRENCH_REGIONS
    if not phonenumbers.is_valid_number(number) or kind not in (_CALLABLE if french else _SMS):
        raise ValueError(CONTACT_PHONE_EXPECTED)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def can_receive_sms(e164: str | None) -> bool:
    """Whether an SMS reaches this number: decided by its type (a mobile), never guessed."""
    if not e164:
        return False
    try:
        number = phonenumbers.parse(e164, "FR")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) in _SMS


def french_phone(value: str | None) -> str:
    """A stored number as people in France read and dial it, the one format every page and
    message shows: +33321000001 → 03 21 00 00 01, +262692123456 → 0692 12 34 56 (national
    format of the French numbering plans); a foreign number in its international format.
    Anything unreadable is shown as it is."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, "FR")
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_possible_number(number):
        return value
    french = phonenumbers.region_code_for_number(number) in _FRENCH_REGIONS or number.country_code == 33
    style = phonenumbers.PhoneNumberFormat.NATIONAL if french else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)
