"""A thin Drive v3 client on the bot's shared ``httpx.AsyncClient``: the five calls the Drive
connector makes, typed, with Google's errors mapped to ``GoogleError``.

Google's own ``google-api-python-client`` is synchronous (httplib2) and builds its methods from a
discovery document at run time; five documented REST calls are clearer as plain httpx requests
on the shared client, with the token from ``connectors.google.auth``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.settings import Settings
from connectors.google import GoogleAuth, google_url
from connectors.google.errors import DEFAULT_RETRY, GoogleAPIError, GoogleError, api_error

__all__ = ["DRIVE_ROOT", "DRIVE_SCOPES", "FOLDER_MIME", "DriveClient", "DriveFile", "quote"]

DRIVE_ROOT = "https://www.googleapis.com"
DRIVE_SCOPES = ("https://www.googleapis.com/auth/drive",)
FOLDER_MIME = "application/vnd.google-apps.folder"
FIELDS = "id,name,mimeType,webViewLink,appProperties,parents"


def quote(value: str) -> str:
    """``value`` as a string literal in a Drive ``q`` query (backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True, slots=True)
class DriveFile:
    id: str
    name: str
    web_view_link: str | None = None
    app_properties: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> DriveFile:
        return cls(
            id=str(data["id"]),
            name=str(data.get("name") or ""),
            web_view_link=data.get("webViewLink"),
            app_properties=dict(data.get("appProperties") or {}),
        )


class DriveClient:
    """Drive v3 files: list, create (folders), multipart upload, download."""

    def __init__(self, settings: Settings, auth: GoogleAuth, *, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._auth = auth
        self._http = http

    def _url(self, path: str) -> str:
        return google_url(self._settings, DRIVE_ROOT, path)

    async def _send(self, what: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = await self._auth.token(DRIVE_SCOPES)
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        try:
            response = await self._http.request(method, self._url(path), headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise GoogleError(
                f"{what}: Google Drive could not be reached ({exc.__class__.__name__})",
                retry_after=DEFAULT_RETRY,
            ) from None
        if response.status_code == 401:
            self._auth.forget(DRIVE_SCOPES)
        if response.is_error:
            raise api_error(response, what)
        return response

    async def list(self, q: str) -> list[DriveFile]:
        """``files.list`` with ``q``, across shared drives; the first page is enough here
        (a query names one folder or one document)."""
        response = await self._send(
            "Google Drive refused the search",
            "GET",
            "/drive/v3/files",
            params={
                "q": q,
                "fields": f"files({FIELDS})",
                "supportsAllDrives": "true",
                "includeItemsFromAllDrives": "true",
                "pageSize": "10",
            },
        )
        return [DriveFile.parse(f) for f in _json(response).get("files", [])]

    async def create_folder(self, name: str, parent: str) -> DriveFile:
        response = await self._send(
            "Google Drive refused the folder",
            "POST",
            "/drive/v3/files",
            params={"supportsAllDrives": "true", "fields": FIELDS},
            json={"name": name, "mimeType": FOLDER_MIME, "parents": [parent]},
        )
        return DriveFile.parse(_json(response))

    async def upload(
        self,
        name: str,
        parent: str,
        content: bytes,
        mime_type: str,
        app_properties: Mapping[str, str],
    ) -> DriveFile:
        """``POST /upload/drive/v3/files?uploadType=multipart``: metadata and content at once."""
        metadata = {
            "name": name,
            "parents": [parent],
            "mimeType": mime_type,
            "appProperties": dict(app_properties),
        }
        boundary = "finance_bot_" + secrets.token_hex(12)
        body = b"".join(
            (
                f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(),
                json.dumps(metadata).encode(),
                f"\r\n--{boundary}\r\nContent-Type: {mime_type}\r\n\r\n".encode(),
                content,
                f"\r\n--{boundary}--\r\n".encode(),
            )
        )
        response = await self._send(
            "Google Drive refused the upload",
            "POST",
            "/upload/drive/v3/files",
            params={"uploadType": "multipart", "supportsAllDrives": "true", "fields": FIELDS},
            headers={"Content-Type": f"multipart/related; boundary={boundary}"},
            content=body,
        )
        return DriveFile.parse(_json(response))

    async def download(self, file_id: str) -> bytes:
        response = await self._send(
            "Google Drive refused the download",
            "GET",
            f"/drive/v3/files/{file_id}",
            params={"alt": "media", "supportsAllDrives": "true"},
        )
        return response.content


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise GoogleAPIError(
            f"Google Drive answered {response.status_code} without JSON",
            http_status=response.status_code,
            retry_after=DEFAULT_RETRY,
        )
    return data
