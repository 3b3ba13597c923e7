"""Shared-secret handshake: HMAC-SHA256 over a server nonce, so the secret never crosses the wire.

Only a peer that knows the cluster secret can make a worker run SQL or accept data.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret() -> str:
    return secrets.token_hex(32)


def new_nonce() -> str:
    return secrets.token_hex(16)


def proof(secret: str, nonce: str) -> str:
    return hmac.new(secret.encode(), nonce.encode(), hashlib.sha256).hexdigest()


def verify(secret: str, nonce: str, candidate: str) -> bool:
    return hmac.compare_digest(proof(secret, nonce), candidate)
