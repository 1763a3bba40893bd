"""Connector secrets that rotate (OAuth refresh tokens), stored encrypted in the database.

Values are encrypted with Fernet (``cryptography``) under ``CONNECTOR_ENCRYPTION_KEY``. Each
write is a compare-and-set on ``version``: a replica that rotated a token from an older version
lost a race and gets ``CredentialConflict``, re-reads, and uses the newer token, so a rotated
token is never overwritten by a stale one. Values never appear in logs, reprs or errors.

Sandbox mode (made-up data only) derives a key from the database URL when the setting is unset
(``sandbox_key``): stable per database, and not a secret.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from services.db.engine import Database
from services.db.models import ConnectorCredential

__all__ = [
    "KEY_SETTING",
    "Credential",
    "CredentialConflict",
    "CredentialKeyError",
    "CredentialStore",
    "sandbox_key",
]

logger = logging.getLogger(__name__)

KEY_SETTING = "CONNECTOR_ENCRYPTION_KEY"


class CredentialKeyError(Exception):
    """The encryption key is missing, malformed, or not the one the stored values were made with."""


class CredentialConflict(Exception):
    """Another writer changed the credential first: re-read it and use (or rotate) the newer one."""

    def __init__(self, name: str, expected_version: int | None) -> None:
        super().__init__(
            f"credential {name!r} is no longer at version {expected_version}: re-read it"
        )
        self.name = name
        self.expected_version = expected_version


@dataclass(frozen=True, slots=True)
class Credential:
    """A decrypted value and the version to name when replacing it."""

    name: str
    value: str = field(repr=False)
    version: int


def sandbox_key(database_url: str) -> str:
    """The sandbox's key when the setting is unset: derived from its database URL (no secret)."""
    digest = hashlib.sha256(b"finance-handoff-bot sandbox credentials\0" + database_url.encode())
    return base64.urlsafe_b64encode(digest.digest()).decode()


class CredentialStore:
    """Encrypted, versioned connector secrets."""

    def __init__(self, db: Database, key: str | bytes, *, clock: Callable[[], datetime]) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError):
            raise CredentialKeyError(
                f"{KEY_SETTING} is not a Fernet key (32 url-safe base64-encoded bytes); make one "
                'with: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            ) from None
        self._db = db
        self._clock = clock

    def __repr__(self) -> str:
        return "CredentialStore(key=***)"

    async def get(self, name: str) -> Credential | None:
        """The stored value of ``name`` and its version, or None when nothing is stored."""
        async with self._db.sessions() as session:
            row = await session.scalar(
                select(ConnectorCredential).where(ConnectorCredential.name == name)
            )
            if row is None:
                return None
            ciphertext, version = row.ciphertext, row.version
        try:
            value = self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise CredentialKeyError(
                f"{KEY_SETTING} does not decrypt the stored credential {name!r}: the key changed "
                "since it was stored. Restore the old key, or delete the credential and set the "
                "connector's first token again."
            ) from None
        return Credential(name=name, value=value, version=version)

    async def put(self, name: str, value: str, expected_version: int | None) -> Credential:
        """Store ``value`` if ``name`` is still at ``expected_version`` (None: not stored yet).

        Returns the stored credential (its new version); raises ``CredentialConflict`` when
        another writer got there first.
        """
        ciphertext = self._fernet.encrypt(value.encode("utf-8")).decode("ascii")
        now = self._clock()
        try:
            async with self._db.sessions() as session, session.begin():
                if expected_version is None:
                    session.add(
                        ConnectorCredential(
                            name=name, ciphertext=ciphertext, version=1, updated_at=now
                        )
                    )
                    version = 1
                else:
                    changed = await session.execute(
                        update(ConnectorCredential)
                        .where(
                            ConnectorCredential.name == name,
                            ConnectorCredential.version == expected_version,
                        )
                        .values(ciphertext=ciphertext, version=expected_version + 1, updated_at=now)
                    )
                    if changed.rowcount != 1:  # type: ignore[attr-defined]
                        raise CredentialConflict(name, expected_version)
                    version = expected_version + 1
        except IntegrityError:
            raise CredentialConflict(name, expected_version) from None
        logger.info("connector credential stored", extra={"credential": name, "version": version})
        return Credential(name=name, value=value, version=version)
