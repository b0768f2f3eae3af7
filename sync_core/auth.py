"""Bearer tokens for the core's HTTP API: the operator's auth file, verifying and minting JWTs.

Theory of operation
-------------------
Access is off unless the operator gives an auth file (``supplysync serve --auth FILE``).
The file (YAML or JSON) names who issues the tokens, for whom, with which algorithm and
key::

    issuer: supplysync-demo        # the "iss" every token must carry
    audience: supplysync-core      # the "aud" every token must carry
    algorithm: HS256               # one algorithm; "none" is never accepted
    key: "at least 32 bytes of shared secret..."   # HS*: the secret itself
    # RS*/PS*/ES*/EdDSA: key is the path of a public key PEM (relative to the file);
    # signing_key (optional) the private key PEM, for minting tokens

:func:`load_auth` reads it into an :class:`AuthConfig` (an :class:`AuthFileError` names
the file, the field and the reason), :func:`verify` checks a token with PyJWT — the
signature with the one configured algorithm (an allow-list of one, so a token that says
``alg: none`` or another algorithm is refused), ``exp`` (required), ``nbf``, ``iss`` and
``aud`` — and returns its :class:`Claims`; :func:`mint` signs one, when the file holds a
signing key.  Scopes travel as one space-separated ``scope`` claim (RFC 8693 §4.2, as
RFC 9068 access tokens do); a partner's token carries ``supplier``: the one supplier it
may see.  No clock is read here: :func:`mint` takes ``now``; PyJWT checks ``exp`` and
``nbf`` against the time of the check, which is what they mean.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import yaml

__all__ = [
    "ALGORITHMS",
    "AuthConfig",
    "AuthFileError",
    "Claims",
    "TokenError",
    "load_auth",
    "mint",
    "verify",
]

HMAC = ("HS256", "HS384", "HS512")
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
ALGORITHMS = (*HMAC, *ASYMMETRIC)
# RFC 7518 §3.2: an HMAC key at least as long as the hash's output
MIN_SECRET_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
LEEWAY_S = 5.0  # clock skew forgiven on exp and nbf


class AuthFileError(Exception):
    """An auth file that cannot be used; ``str()`` names the file, the field and why."""

    def __init__(self, source: str, field: str, reason: str) -> None:
        self.source, self.field, self.reason = source, field, reason
        super().__init__(f"{source}: {field}: {reason}" if field else f"{source}: {reason}")


class TokenError(Exception):
    """A token that proves nothing: missing, malformed, expired, for another audience..."""


@dataclass(frozen=True)
class AuthConfig:
    issuer: str
    audience: str
    algorithm: str
    verify_key: Any  # the HMAC secret (bytes) or a public key
    signing_key: Any = None  # the HMAC secret or a private key; None: cannot mint

    @property
    def can_mint(self) -> bool:
        return self.signing_key is not None


@dataclass(frozen=True)
class Claims:
    sub: str
    scopes: frozenset[str]
    supplier: str | None = None


def _text(raw: dict[str, Any], name: str, source: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value.strip():
        raise AuthFileError(source, name, "required, a non-empty string")
    return value


def _pem(path_text: str, base: Path, source: str, field: str, private: bool) -> Any:
    from cryptography.hazmat.primitives import serialization

    path = (base / path_text).expanduser()
    try:
        data = path.read_bytes()
    except OSError as e:
        raise AuthFileError(source, field, f"{path}: {e.strerror or e}") from e
    try:
        if private:
            return serialization.load_pem_private_key(data, password=None)
        return serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as e:
        kind = "private" if private else "public"
        raise AuthFileError(source, field, f"{path} is not a {kind} key PEM ({e})") from e


def _read(path: Path) -> dict[str, Any]:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise AuthFileError(source, "", reason) from e
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        raise AuthFileError(source, "", f"not valid YAML or JSON ({e})".replace("\n", " ")) from e
    if not isinstance(raw, dict):
        raise AuthFileError(source, "", "must be a mapping of issuer, audience, algorithm, key")
    unknown = sorted(set(raw) - {"issuer", "audience", "algorithm", "key", "signing_key"})
    if unknown:
        raise AuthFileError(source, unknown[0], "unknown field")
    return raw


def load_auth(path: Path) -> AuthConfig:
    """The auth file at ``path`` (YAML, or JSON for a ``.json`` name), checked whole."""
    raw = _read(path)
    source = str(path)
    issuer, audience = _text(raw, "issuer", source), _text(raw, "audience", source)
    algorithm = _text(raw, "algorithm", source)
    if algorithm not in ALGORITHMS:
        raise AuthFileError(
            source, "algorithm", f"{algorithm!r} is not one of {', '.join(ALGORITHMS)}"
        )
    key = _text(raw, "key", source)
    if algorithm in HMAC:
        if "signing_key" in raw:
            raise AuthFileError(source, "signing_key", f"{algorithm} signs with key itself")
        secret = key.encode("utf-8")
        least = MIN_SECRET_BYTES[algorithm]
        if len(secret) < least:
            raise AuthFileError(source, "key", f"an {algorithm} secret needs at least "
                                f"{least} bytes, not {len(secret)}")  # fmt: skip
        return AuthConfig(issuer, audience, algorithm, secret, secret)
    public = _pem(key, path.parent, source, "key", private=False)
    private = None
    if "signing_key" in raw:
        private = _pem(_text(raw, "signing_key", source), path.parent, source, "signing_key", True)
    return AuthConfig(issuer, audience, algorithm, public, private)


def verify(config: AuthConfig, token: str) -> Claims:
    """The claims of ``token``, or :class:`TokenError` saying why it proves nothing."""
    try:
        payload = jwt.decode(
            token,
            config.verify_key,
            algorithms=[config.algorithm],
            audience=config.audience,
            issuer=config.issuer,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.InvalidTokenError as e:
        raise TokenError(str(e) or type(e).__name__) from e
    scope = payload.get("scope", "")
    supplier = payload.get("supplier")
    if not isinstance(scope, str) or not (supplier is None or isinstance(supplier, str)):
        raise TokenError("scope and supplier must be strings")
    return Claims(str(payload["sub"]), frozenset(scope.split()), supplier)


def mint(
    config: AuthConfig,
    *,
    sub: str,
    scopes: Iterable[str],
    now: float,
    ttl_s: float,
    supplier: str | None = None,
) -> str:
    """A token for ``sub`` with ``scopes``, valid ``ttl_s`` seconds from ``now``."""
    if config.signing_key is None:
        raise AuthFileError("auth file", "signing_key", "needed to mint tokens")
    claims: dict[str, Any] = {
        "iss": config.issuer,
        "aud": config.audience,
        "sub": sub,
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now + ttl_s),
        "scope": " ".join(sorted(set(scopes))),
    }
    if supplier is not None:
        claims["supplier"] = supplier
    return jwt.encode(claims, config.signing_key, algorithm=config.algorithm)
