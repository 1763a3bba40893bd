"""Service-account credentials: the signed JWT grant, caching, refresh before expiry, errors."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bot.settings import Settings
from connectors.google.auth import JWT_GRANT, GoogleAuth, google_url
from connectors.google.errors import GoogleAuthError

TOKEN_URI = "https://oauth2.example.test/token"
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key_file(tmp_path: Path, private_key: rsa.RSAPrivateKey) -> Path:
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path = tmp_path / "sa.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "client_email": "bot@project.iam.gserviceaccount.com",
                "private_key_id": "kid1",
                "private_key": pem,
                "token_uri": TOKEN_URI,
            }
        )
    )
    return path


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def _settings(key_file: Path, **extra: object) -> Settings:
    return Settings(google_service_account_file=key_file, **extra)  # type: ignore[arg-type]


async def test_jwt_grant_is_signed_and_cached(
    key_file: Path, private_key: rsa.RSAPrivateKey
) -> None:
    seen: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == TOKEN_URI
        seen.append(parse_qs(request.content.decode()))
        return httpx.Response(200, json={"access_token": f"ya29.{len(seen)}", "expires_in": 3600})

    clock = Clock()
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        auth = GoogleAuth(_settings(key_file, google_delegated_user="fin@acme.test"), http, clock)
        assert await auth.token(SCOPES) == "ya29.1"
        assert await auth.token(SCOPES) == "ya29.1"
    assert len(seen) == 1
    form = seen[0]
    assert form["grant_type"] == [JWT_GRANT]
    header_b64, claims_b64, sig_b64 = form["assertion"][0].split(".")
    header = json.loads(_unb64(header_b64))
    claims = json.loads(_unb64(claims_b64))
    assert header == {"alg": "RS256", "typ": "JWT", "kid": "kid1"}
    assert claims["iss"] == "bot@project.iam.gserviceaccount.com"
    assert claims["aud"] == TOKEN_URI
    assert claims["scope"] == SCOPES[0]
    assert claims["sub"] == "fin@acme.test"
    assert claims["exp"] - claims["iat"] == 3600
    private_key.public_key().verify(
        _unb64(sig_b64),
        f"{header_b64}.{claims_b64}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


async def test_token_refreshed_five_minutes_before_expiry(key_file: Path) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, json={"access_token": f"t{calls}", "expires_in": 3600})

    clock = Clock()
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        auth = GoogleAuth(_settings(key_file), http, clock)
        assert await auth.token(SCOPES) == "t1"
        clock.now += timedelta(minutes=54)
        assert await auth.token(SCOPES) == "t1"
        clock.now += timedelta(minutes=1, seconds=1)  # 4 min 59 s before expiry
        assert await auth.token(SCOPES) == "t2"
        # another subject or other scopes get their own token
        assert await auth.token(SCOPES, subject="other@acme.test") == "t3"


async def test_one_fetch_for_a_burst(key_file: Path) -> None:
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        auth = GoogleAuth(_settings(key_file), http, Clock())
        tokens = await asyncio.gather(*(auth.token(SCOPES) for _ in range(20)))
    assert set(tokens) == {"t"}
    assert calls == 1


async def test_invalid_grant_is_a_clear_give_up(key_file: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        auth = GoogleAuth(_settings(key_file), http, Clock())
        with pytest.raises(GoogleAuthError) as caught:
            await auth.token(SCOPES)
    assert not caught.value.retryable
    assert "Google refused the service-account key: invalid_grant" in caught.value.reason
    assert "Invalid JWT Signature." in caught.value.reason
    assert "PRIVATE KEY" not in caught.value.reason


async def test_token_endpoint_5xx_and_transport_errors_retry(key_file: Path) -> None:
    answers = [httpx.Response(503, headers={"Retry-After": "7"})]

    def handler(request: httpx.Request) -> httpx.Response:
        if not answers:
            raise httpx.ConnectError("refused")
        return answers.pop()

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        auth = GoogleAuth(_settings(key_file), http, Clock())
        with pytest.raises(GoogleAuthError) as first:
            await auth.token(SCOPES)
        with pytest.raises(GoogleAuthError) as second:
            await auth.token(SCOPES)
    assert first.value.retry_after == 7
    assert second.value.retryable


async def test_unreadable_key_file(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text('{"client_email": "x"}')
    async with httpx.AsyncClient() as http:
        auth = GoogleAuth(_settings(tmp_path / "bad.json"), http, Clock())
        with pytest.raises(GoogleAuthError, match="lacks private_key, token_uri"):
            await auth.token(SCOPES)


def test_google_url_base(tmp_path: Path) -> None:
    plain = Settings()
    assert (
        google_url(plain, "https://sheets.googleapis.com", "/v4/spreadsheets/x")
        == "https://sheets.googleapis.com/v4/spreadsheets/x"
    )
    double = Settings(google_api_base="http://127.0.0.1:9/sandbox/google/")
    assert (
        google_url(double, "https://www.googleapis.com", "/upload/drive/v3/files")
        == "http://127.0.0.1:9/sandbox/google/upload/drive/v3/files"
    )
