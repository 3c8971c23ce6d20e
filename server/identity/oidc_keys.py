"""The signing keys of an OIDC issuer: its discovery document (`{issuer}/.well-known/openid-configuration`) names
its JWKS, whose keys are cached and read again when a token names a key the cache does not hold.

The issuer is asked again on an unknown `kid` at most once per `KEY_REFETCH_INTERVAL_S`, so a flood of tokens with
made-up key ids cannot make the catalog hammer the issuer; keys are also read again after `KEY_MAX_AGE_S`, so a
key the issuer withdraws stops being accepted. Only RSA keys of at least 2048 bits (RS256) and P-256 keys (ES256)
are kept: the rest of a JWKS is ignored.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from server.errors import Unauthenticated

# Accepted signature algorithms -> the JWK key type they need. No `none`, no HMAC (HS*): an HMAC "signed" with the
# issuer's public key would verify against that same public key.
ALGORITHMS = {"RS256": "RSA", "ES256": "EC"}
KEY_REFETCH_INTERVAL_S = 30.0
KEY_MAX_AGE_S = 3600.0
RETRY_AFTER_FAILURE_S = 5.0  # an issuer that did not answer is not asked again sooner
HTTP_TIMEOUT_S = 5.0
MAX_DOCUMENT_BYTES = 1_000_000  # a discovery document or JWKS is a few kB
MIN_RSA_BITS = 2048


class IssuerUnreachable(Unauthenticated):
    """The issuer did not answer (or answered nonsense), so a token it signed cannot be checked now."""


def secure_url(url: str) -> bool:
    """https, or plain http to a loopback address (an issuer on the same machine, as in the tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _get_json(url: str, what: str, issuer: str) -> dict[str, Any]:
    """A JSON object from the issuer; IssuerUnreachable (naming the issuer, never a key) when that fails."""
    try:
        with (
            httpx.Client(timeout=HTTP_TIMEOUT_S, follow_redirects=False) as client,
            client.stream("GET", url, headers={"Accept": "application/json"}) as response,
        ):
            if response.status_code != 200:
                raise IssuerUnreachable(
                    f"cannot check the token: the issuer {issuer} answered {response.status_code} for its {what}"
                )
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise IssuerUnreachable(f"cannot check the token: the issuer {issuer}'s {what} is too large")
    except httpx.HTTPError as error:
        reason = type(error).__name__
        raise IssuerUnreachable(
            f"cannot reach the issuer {issuer} to check the token ({reason} reading its {what}); try again later"
        ) from None
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise IssuerUnreachable(f"cannot check the token: the issuer {issuer}'s {what} is not a JSON object")
    return document


def _usable(jwk: Any) -> tuple[str, jwt.PyJWK] | None:
    """(kid, key) for a JWK this catalog verifies with, or None (wrong type, weak, for encryption, no kid)."""
    if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig" or not isinstance(jwk.get("kid"), str):
        return None
    kty = jwk.get("kty")
    algorithm = next((alg for alg, key_type in ALGORITHMS.items() if key_type == kty), None)
    if algorithm is None or jwk.get("alg", algorithm) != algorithm:
        return None
    if kty == "EC" and jwk.get("crv") != "P-256":
        return None
    try:
        key = jwt.PyJWK(jwk, algorithm=algorithm)
    except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
        return None
    if isinstance(key.key, rsa.RSAPublicKey) and key.key.key_size < MIN_RSA_BITS:
        return None
    if not isinstance(key.key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return None  # a private key published by mistake is not used (nor is anything else odd)
    return jwk["kid"], key


class IssuerKeys:
    """The discovery document and signing keys of one issuer, shared by the threads that verify tokens. The lock
    is held only to read the issuer (one read at a time); the keys themselves are replaced whole."""

    def __init__(self, issuer: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.issuer = issuer
        self.clock = clock
        self._lock = threading.Lock()
        self._discovery: dict[str, Any] | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # last successful read
        self._failed_at: float | None = None  # last read the issuer did not answer
        self._refetched_at: float | None = None  # last read caused by an unknown kid

    def _fresh(self) -> bool:
        fetched_at = self._fetched_at
        return fetched_at is not None and self.clock() - fetched_at < KEY_MAX_AGE_S

    def discovery(self) -> dict[str, Any]:
        """The issuer's discovery document (read with the keys)."""
        held = self._discovery
        if held is not None and self._fresh():
            return held
        with self._lock:
            self._refresh_if_needed(unknown_kid=False)
            assert self._discovery is not None
            return self._discovery

    def key(self, kid: str | None) -> jwt.PyJWK:
        """The key a token's header names; Unauthenticated when the issuer does not publish it."""
        # Without the lock when the key is known: a slow issuer answering one thread never holds up the others.
        keys = self._keys
        if kid is not None and kid in keys:
            if self._fresh():
                return keys[kid]
            if self._lock.locked():
                return keys[kid]  # another thread is reading the keys again; the ones read before hold meanwhile
        with self._lock:
            fetched = self._refresh_if_needed(unknown_kid=False)
            if kid is None:
                if len(self._keys) == 1:
                    return next(iter(self._keys.values()))
                raise Unauthenticated(
                    "the token's header names no signing key (`kid`), and the issuer publishes several"
                )
            if kid not in self._keys and not fetched:
                self._refresh_if_needed(unknown_kid=True)
            if kid not in self._keys:
                raise Unauthenticated(
                    f"unknown signing key {kid[:64]!r}: the issuer {self.issuer} does not publish it (a token "
                    "from another issuer, or signed with a key the issuer has withdrawn)"
                )
            return self._keys[kid]

    def _refresh_if_needed(self, *, unknown_kid: bool) -> bool:
        """Read the keys again when they were never read, are old, or (at most every KEY_REFETCH_INTERVAL_S) a
        token names a key they lack; True when they were read now."""
        now = self.clock()
        if self._failed_at is not None and now - self._failed_at < RETRY_AFTER_FAILURE_S:
            if self._fetched_at is None:
                raise IssuerUnreachable(
                    f"cannot reach the issuer {self.issuer} to check the token (it did not answer a moment ago); "
                    "try again later"
                )
            return False  # keep the keys read before
        if self._fetched_at is None:
            self._fetch()
            return True
        if unknown_kid:
            if self._refetched_at is not None and now - self._refetched_at < KEY_REFETCH_INTERVAL_S:
                return False
            self._refetched_at = now
            self._fetch()
            return True
        if now - self._fetched_at >= KEY_MAX_AGE_S:
            try:
                self._fetch()
            except IssuerUnreachable:
                return False  # the keys read before still verify; the next request after the pause asks again
            return True
        return False

    def _fetch(self) -> None:
        try:
            discovery = _get_json(
                self.issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery document", self.issuer
            )
            if discovery.get("issuer") != self.issuer:
                raise IssuerUnreachable(
                    f"cannot check the token: the discovery document at {self.issuer} names the issuer "
                    f"{str(discovery.get('issuer'))[:200]!r}, not {self.issuer!r} (VALUEMESH_OIDC_ISSUER must be "
                    "exactly the issuer's `iss`)"
                )
            jwks_uri = discovery.get("jwks_uri")
            if not isinstance(jwks_uri, str) or not secure_url(jwks_uri):
                raise IssuerUnreachable(
                    f"cannot check the token: the issuer {self.issuer} names no https `jwks_uri` in its discovery "
                    "document"
                )
            jwks = _get_json(jwks_uri, "signing keys (JWKS)", self.issuer)
        except IssuerUnreachable:
            self._failed_at = self.clock()
            raise
        found = jwks.get("keys")
        usable = [pair for pair in (_usable(jwk) for jwk in (found if isinstance(found, list) else [])) if pair]
        self._discovery = discovery
        self._keys = dict(usable)
        self._fetched_at = self.clock()
        self._failed_at = None
