"""Text a client sends that is not text: JSON's ``\\ud800``-style escapes may name a lone
UTF-16 surrogate, which is no character, has no UTF-8 encoding, and fails whatever stores or
hashes the string later (a 500 far from where it came in). The body decoder and the filter
parser refuse it where it enters. And the one form in which names that compare
case-insensitively are keyed, which both the stores and the limit on names use."""

from __future__ import annotations

import re
import unicodedata

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` holds a surrogate code point (Python's decoders pair the valid ones
    into one character, so any left is unpaired)."""
    return _LONE_SURROGATE.search(text) is not None


def case_insensitive_key(name: str) -> str:
    """The form in which names that compare case-insensitively are keyed and compared
    (userName is caseExact=false, RFC 7643 §4.1.1; so are displayName and emails here):
    NFC-normalized, then case-folded, so ß/SS, NFC/NFD and the Kelvin sign claim one key."""
    return unicodedata.normalize("NFC", name).casefold()
