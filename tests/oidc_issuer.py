"""A small, real OIDC issuer on 127.0.0.1 for the identity tests: discovery document, JWKS, an authorization
endpoint that signs a chosen user in at once, and a token endpoint (authorization code with PKCE, codes usable
once). It signs with RSA and EC keys made here, can rotate them, and counts the requests it answers."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

AUDIENCE = "valuemesh"
CLIENT_ID = "valuemesh-web"


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    def public_jwk(self) -> dict[str, Any]:
        to_jwk = RSAAlgorithm.to_jwk if self.alg == "RS256" else ECAlgorithm.to_jwk
        jwk: dict[str, Any] = to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.alg}


def rsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_key(kid: str) -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


@dataclass
class Grant:
    """What /authorize remembered for a code, for /token to check."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str
    claims: dict[str, Any]


@dataclass
class Issuer:
    client_id: str = CLIENT_ID
    client_secret: str | None = None
    rsa: SigningKey = field(default_factory=lambda: rsa_key("rsa-1"))
    ec: SigningKey = field(default_factory=lambda: ec_key("ec-1"))
    hits: Counter[str] = field(default_factory=Counter)
    login_claims: dict[str, Any] = field(default_factory=lambda: {"sub": "alice", "name": "Alice"})
    id_token_nonce: str | None = None  # set: the ID token carries this nonce instead of the sign-in's
    grants: dict[str, Grant] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.published = [self.rsa, self.ec]
        self._server: ThreadingHTTPServer | None = None

    # --- tokens ----------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "start the issuer first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def token(
        self,
        key: SigningKey | None = None,
        *,
        lifetime: int = 300,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A token signed with `key` (the current RSA key by default): iss, aud, sub, iat, exp unless given."""
        key = key or self.rsa
        now = int(time.time())
        body = {"iss": self.url, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + lifetime, **claims}
        body = {name: value for name, value in body.items() if value is not None}  # None: leave the claim out
        return jwt.encode(body, key.private, algorithm=key.alg, headers={"kid": key.kid, **(headers or {})})

    def rotate(self) -> SigningKey:
        """A new RSA key signs from now on; the old one is no longer published."""
        new = rsa_key(f"rsa-{secrets.token_hex(4)}")
        self.published = [new if k is self.rsa else k for k in self.published]
        self.rsa = new
        return new

    # --- serving ---------------------------------------------------------------------------------------------

    def start(self) -> Issuer:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop answering (the port is closed: connections are refused)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/jwks",
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        """Sign `login_claims` in at once: redirect back with a code (or an OAuth error when the request is bad)."""
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, {}, {"error": "invalid_request"}
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, {}, {"error": "invalid_request", "error_description": "PKCE with S256 is required"}
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(
            self.client_id, query["redirect_uri"], query["code_challenge"], query.get("nonce", ""), self.login_claims
        )
        back = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
        return 302, {"Location": back}, None

    def exchange(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        """The token endpoint: a code once, from the client it was made for, with the PKCE verifier."""
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        if client_id != self.client_id or (self.client_secret is not None and secret != self.client_secret):
            return 401, {"error": "invalid_client"}
        grant = self.grants.pop(form.get("code", ""), None)  # a code is used once
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant", "error_description": "unknown or used code"}
        challenge = base64.urlsafe_b64encode(hashlib.sha256(form.get("code_verifier", "").encode()).digest())
        if challenge.rstrip(b"=").decode() != grant.code_challenge or form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier or redirect_uri mismatch"}
        nonce = self.id_token_nonce if self.id_token_nonce is not None else grant.nonce
        id_token = self.token(aud=self.client_id, nonce=nonce, **grant.claims)
        return 200, {"access_token": self.token(**grant.claims), "token_type": "Bearer", "id_token": id_token}

    def __enter__(self) -> Issuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(issuer: Issuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _answer(self, status: int, body: dict[str, Any] | None, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            issuer.hits[parts.path] += 1
            if parts.path == "/.well-known/openid-configuration":
                self._answer(200, issuer.discovery())
            elif parts.path == "/jwks":
                self._answer(200, {"keys": [key.public_jwk() for key in issuer.published]})
            elif parts.path == "/authorize":
                query = {name: values[0] for name, values in parse_qs(parts.query).items()}
                status, headers, body = issuer.authorize(query)
                self._answer(status, body, headers)
            else:
                self._answer(404, {"error": "not found"})

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            issuer.hits[parts.path] += 1
            length = int(self.headers.get("Content-Length") or 0)
            form = {name: values[0] for name, values in parse_qs(self.rfile.read(length).decode()).items()}
            if parts.path == "/token":
                status, body = issuer.exchange(form, self.headers.get("Authorization"))
                self._answer(status, body, {"Cache-Control": "no-store"})
            else:
                self._answer(404, {"error": "not found"})

    return Handler
