"""The HMAC signatures our emails carry (unsubscribe links, reply addresses): one way to make and check them.

A signature is a truncated HMAC-SHA256 over a domain-separated message, so a secret used
for two purposes never yields one's signature from the other's. New signatures use the
current secret; checks accept any configured one, so rotating a secret leaves the links
and addresses in emails already sent working.
"""

import hashlib
import hmac
from collections.abc import Callable
from functools import lru_cache

Encoding = Callable[[bytes], str]


def signature(message: bytes, secret: str, *, size: int, encode: Encoding) -> str:
    keyed = _keyed(secret).copy()  # the key's HMAC state, made once: a fan-out page signs thousands of messages
    keyed.update(message)
    return encode(keyed.digest()[:size])


@lru_cache(maxsize=8)
def _keyed(secret: str) -> "hmac.HMAC":
    return hmac.new(secret.encode(), digestmod=hashlib.sha256)


def signed_by_one_of(message: bytes, given: str, secrets: tuple[str, ...], *, size: int, encode: Encoding) -> bool:
    """Compared as bytes: ``compare_digest`` refuses non-ASCII strings, and ``given`` comes from outside."""
    return any(hmac.compare_digest(signature(message, secret, size=size, encode=encode).encode(), given.encode())
               for secret in secrets)
