"""Secrets handed to people and identity providers: SCIM bearer tokens and personal API keys.

Both are 128 random bits from the operating system's CSPRNG, shown once and stored only as
a SHA-256 digest. A keyed hash (HMAC) would add nothing here: the input has 128 bits of
entropy, so the digest cannot be brute-forced, and a pepper would need a secret store on
every cold start. The digest is the DynamoDB key of the credential item, so authentication
is one key read.
"""

from __future__ import annotations

import hashlib
import re
import secrets

SCIM_TOKEN_PREFIX = "scim_"
API_KEY_PREFIX = "scimadm_"
_RANDOM_BYTES = 16  # 128 bits, 32 lowercase hex characters

SCIM_TOKEN_PATTERN = re.compile(r"^scim_[0-9a-f]{32}$")


def new_scim_token() -> str:
    return SCIM_TOKEN_PREFIX + secrets.token_hex(_RANDOM_BYTES)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_hex(_RANDOM_BYTES)


def digest(secret: str) -> str:
    """The only form in which a token or API key is ever stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def is_well_formed_scim_token(value: str) -> bool:
    return SCIM_TOKEN_PATTERN.match(value) is not None
