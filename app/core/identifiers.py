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


def french_phone(value: str | None) -> str:
    """+33321000000 → 03 21 00 00 00, as people read and dial it."""
    if not value or not value.startswith("+33") or len(value) != 12:
        return value or ""
    digits = "0" + value[3:]
    return " ".join(digits[i : i + 2] for i in range(0, 10, 2))
