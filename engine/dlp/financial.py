"""The predefined `financial_information` profile: payment card numbers and IBANs.

Candidates are found by regular expressions and kept only when their checksum holds
(`python-stdnum`): a card number passes Luhn and starts like a card brand of its length
(so timestamps, phone numbers and order ids of the right length rarely pass), an IBAN passes
ISO 7064 mod 97-10 with its country's length and format.
"""

from __future__ import annotations

import re
from typing import Final

from stdnum import iban, luhn

from engine.dlp.text import NO_HITS, Hits

# Each starts with its first character and looks behind it after (`\d(?<![\w.+-]\d)` rather
# than `(?<![\w.+-])\d`): a pattern that starts with a character class lets `re` skip ahead
# to the next candidate, one that starts with a lookbehind tries every position (3x slower).
_CARD = re.compile(r"\d(?<![\w.+-]\d)(?:[ -]?\d){12,18}(?![\w-]|\.\d)")
_IBAN = re.compile(
    r"[A-Z](?<![\w-][A-Z])[A-Z]\d{2}"
    r"(?:(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?|[A-Z0-9]{11,30})(?![\w-])"
)
"""IBANs as they are written: upper case, in groups of four or not at all."""
_DIGITS = re.compile(r"\d{4}")
"""Every card number and IBAN has four digits in a row: most text has none."""
_BRANDS: Final = (
    # (first digits, lengths): Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro
    (re.compile(r"4"), {13, 16, 19}),
    (re.compile(r"5[1-5]|2(?:2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)"), {16}),
    (re.compile(r"3[47]"), {15}),
    (re.compile(r"6(?:011|5|4[4-9])"), {16, 19}),
    (re.compile(r"35(?:2[89]|[3-8]\d)"), {16, 19}),
    (re.compile(r"3(?:0[0-5]|[689])"), {14, 16}),
    (re.compile(r"62"), {16, 17, 18, 19}),
)
_ID_FIELD = re.compile(r"(?:^|[_-])(?:id|ids|ts|time|timestamp|seq|nonce)$|[a-z]Id$|_at$")
"""Fields whose bare digits are an identifier or a time: any 16-digit id starting with 4 passes
Luhn one time in ten, so digits there count as a card only when written with separators."""


def _card(candidate: str) -> bool:
    separators = {c for c in candidate if not c.isdigit()}
    if len(separators) > 1:
        return False  # "1234-5678 ..." mixes separators: not how a card number is written
    digits = candidate.replace(" ", "").replace("-", "")
    brand = any(prefix.match(digits) and len(digits) in lengths for prefix, lengths in _BRANDS)
    return brand and luhn.is_valid(digits)


def _iban(candidate: str) -> str | None:
    """The IBAN in `candidate` (which may have caught a word after it), if any."""
    for text in (candidate, candidate.rsplit(" ", 1)[0]):
        if iban.is_valid(text):
            return text
    return None


class FinancialInformation:
    """`financial_information`: see the module docstring."""

    def find(self, text: str, key: str | None) -> Hits:
        if len(text) < 12 or _DIGITS.search(text) is None:  # no card or IBAN is shorter
            return NO_HITS
        bare_ok = key is None or _ID_FIELD.search(key) is None
        found = [
            m.group()
            for m in _CARD.finditer(text)
            if _card(m.group()) and (bare_ok or not m.group().isdigit())
        ]
        for match in _IBAN.finditer(text):
            value = _iban(match.group())
            if value is not None:
                found.append(value)
        return Hits(tuple(dict.fromkeys(found))) if found else NO_HITS
