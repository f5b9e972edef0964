"""What an SMS costs: the GSM 03.38 alphabet and the number of segments a text takes.

An SMS is billed per segment. A text written only with the GSM 7-bit alphabet (the basic set,
the extension table's characters counting two) takes 160 characters in one segment, 153 per
segment once split (the rest carries the concatenation header). One character outside it and
the whole text is sent in UCS-2: 70 characters in one segment, 67 per segment once split, i.e.
more than twice the price for the same French sentence.
"""

import math
import re
import unicodedata
from dataclasses import dataclass

# GSM 03.38 basic character set (3GPP TS 23.038, 6.2.1), the escape excluded.
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Its extension table: each of these is sent as escape + character, two septets.
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

# French letters and signs outside GSM 7, and the closest GSM writing. Used for SMS bodies only
# (app/notifications/templates.py), never for e-mails: a single "ê" or "ç" would switch the whole
# SMS to UCS-2 and more than double its price (70 characters a segment instead of 160), while
# "e" and "c" read just as well on a phone. é, è, à, ù, ì, ò, É and Ç are GSM and stay as they are.
_CLOSEST = {
    "ê": "e",
    "ë": "e",
    "â": "a",
    "î": "i",
    "ï": "i",
    "ô": "o",
    "û": "u",
    "ç": "c",
    "œ": "oe",
    "Œ": "OE",
    "À": "A",
    "Â": "A",
    "È": "E",
    "Ê": "E",
    "Ë": "E",
    "Î": "I",
    "Ï": "I",
    "Ô": "O",
    "Ù": "U",
    "Û": "U",
    "Ÿ": "Y",
    "Ł": "L",
    "ł": "l",
    "ÿ": "y",
    "’": "'",
    "‘": "'",
    "«": '"',
    "»": '"',
    "“": '"',
    "”": '"',
    "–": "-",
    "—": "-",
    "…": "...",
    "\u00a0": " ",  # no-break space (French typography before ":", "?", "!")
    "\u202f": " ",  # narrow no-break space
    "\t": " ",
}


def is_gsm(text: str) -> bool:
    return all(c in GSM_BASIC or c in GSM_EXTENSION for c in text)


def _closest(char: str) -> str:
    if char in GSM_BASIC or char in GSM_EXTENSION:
        return char
    if char in _CLOSEST:
        return _CLOSEST[char]
    # Any other accented Latin letter (a name such as "Łukasz" or "Şahin"): its base letter.
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if base and is_gsm(base) else char


def to_gsm(text: str) -> str:
    """The text written with GSM 7-bit characters wherever a close one exists; what has none
    (e.g. a name in another script) is kept, and the SMS goes in UCS-2."""
    return "".join(_closest(c) for c in text)


@dataclass(frozen=True)
class SmsCost:
    encoding: str  # "GSM 7" | "UCS-2"
    length: int  # septets (GSM 7) or UTF-16 code units (UCS-2)
    segments: int

    @property
    def label(self) -> str:
        """As the preview says it, in French."""
        plural = "s" if self.segments > 1 else ""
        return f"{self.segments} segment{plural} SMS ({self.length} caractères, {self.encoding})"


def cost(text: str) -> SmsCost:
    """How many segments this text takes, as the networks count them."""
    if is_gsm(text):
        length = sum(2 if c in GSM_EXTENSION else 1 for c in text)
        single, multi, encoding = 160, 153, "GSM 7"
    else:
        length = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    segments = 1 if length <= single else math.ceil(length / multi)
    return SmsCost(encoding=encoding, length=length, segments=segments)


_SPACES = re.compile(r"[ ]{2,}")


def sms_text(body: str) -> str:
    """An SMS body as it is sent: GSM 7 where possible, no doubled spaces, no trailing newline."""
    return _SPACES.sub(" ", to_gsm(body)).strip()
