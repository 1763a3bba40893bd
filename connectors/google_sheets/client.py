"""A thin client for the Sheets API v4 values endpoints the exception queue uses.

Every call carries a service-account bearer token (``connectors.google.auth``) and goes through
the bot's one ``httpx.AsyncClient``. Failures raise the Google error tree
(``connectors.google.errors``): 429 ``RESOURCE_EXHAUSTED`` and 5xx say when to try again, other
4xx say what Sheets refused. Nothing is retried here: the writer and the outbox decide.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx

from connectors.google.auth import GoogleAuth, google_url
from connectors.google.errors import DEFAULT_RETRY, GoogleAPIError, api_error

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = [
    "SHEETS_ROOT",
    "SHEETS_SCOPE",
    "SheetsClient",
    "a1",
    "first_row",
    "quote_tab",
]

SHEETS_ROOT = "https://sheets.googleapis.com"
DOCS_ROOT = "https://docs.google.com"
SHEETS_SCOPE = "https://www.googleapis.com/auth/spreadsheets"
_SCOPES = (SHEETS_SCOPE,)
_ROW = re.compile(r"!\$?[A-Z]+\$?(\d+)")

Values = Sequence[Sequence[str]]


def quote_tab(tab: str) -> str:
    """A tab name as A1 notation wants it (quoted unless plain letters, digits, underscores)."""
    return tab if re.fullmatch(r"[A-Za-z0-9_]+", tab) else "'" + tab.replace("'", "''") + "'"


def a1(tab: str, cells: str) -> str:
    """``Tab!cells`` in A1 notation."""
    return f"{quote_tab(tab)}!{cells}"


def first_row(updated_range: str) -> int | None:
    """The first row number of an A1 range such as ``Exceptions!A7:K9`` (None if unreadable)."""
    match = _ROW.search(updated_range)
    return int(match.group(1)) if match else None


class SheetsClient:
    """Reads and writes one spreadsheet's values."""

    def __init__(
        self, settings: Settings, spreadsheet_id: str, *, auth: GoogleAuth, http: httpx.AsyncClient
    ) -> None:
        self._settings = settings
        self._auth = auth
        self._http = http
        self.spreadsheet_id = spreadsheet_id

    def _url(self, path: str) -> str:
        sheet = quote(self.spreadsheet_id, safe="")
        return google_url(self._settings, SHEETS_ROOT, f"/v4/spreadsheets/{sheet}{path}")

    def sheet_url(self, gid: int | None = None, cells: str | None = None) -> str:
        """Where people open the spreadsheet (at a tab and range when given)."""
        sheet = quote(self.spreadsheet_id, safe="")
        url = google_url(self._settings, DOCS_ROOT, f"/spreadsheets/d/{sheet}/edit")
        if gid is None:
            return url
        return url + f"#gid={gid}" + (f"&range={cells}" if cells else "")

    async def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        token = await self._auth.token(_SCOPES)
        try:
            response = await self._http.request(
                method,
                self._url(path),
                params=params,
                json=body,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise GoogleAPIError(
                f"{what}: Google Sheets could not be reached ({exc.__class__.__name__})",
                http_status=0,
                retry_after=DEFAULT_RETRY,
            ) from None
        if response.status_code == 401:
            # A token Google no longer takes (revoked, expired early): a fresh one next try.
            self._auth.forget(_SCOPES)
            error = api_error(response, what)
            error.retry_after = 1.0
            raise error
        if response.status_code >= 400:
            raise api_error(response, what)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise GoogleAPIError(
                f"{what}: Google Sheets answered {response.status_code} without JSON",
                http_status=response.status_code,
                retry_after=DEFAULT_RETRY,
            )
        return answer

    async def sheet_id(self, tab: str) -> int | None:
        """The numeric id (``gid``) of ``tab``, or None when the spreadsheet has no such tab."""
        answer = await self._call(
            "GET",
            "",
            "Google Sheets refused to show the spreadsheet",
            params={"fields": "sheets.properties(sheetId,title)"},
        )
        for sheet in answer.get("sheets") or []:
            props = sheet.get("properties") or {}
            if props.get("title") == tab and isinstance(props.get("sheetId"), int):
                return int(props["sheetId"])
        return None

    async def column(self, tab: str, letter: str = "A") -> list[str]:
        """Column ``letter`` of ``tab``, row 1 first ("" for an empty cell)."""
        cells = quote(a1(tab, f"{letter}:{letter}"), safe="")
        answer = await self._call(
            "GET", f"/values/{cells}", "Google Sheets refused to read the exceptions tab"
        )
        return [str(row[0]) if row else "" for row in answer.get("values") or []]

    async def append(self, tab: str, rows: Values) -> str:
        """Append ``rows`` after the tab's table; returns the ``updatedRange`` ("Tab!A7:K9")."""
        cells = quote(a1(tab, "A1"), safe="")
        answer = await self._call(
            "POST",
            f"/values/{cells}:append",
            "Google Sheets refused the new exception row",
            params={"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
            body={"majorDimension": "ROWS", "values": [list(r) for r in rows]},
        )
        updated = (answer.get("updates") or {}).get("updatedRange")
        if not isinstance(updated, str):
            raise GoogleAPIError(
                "Google Sheets answered the append without an updatedRange",
                http_status=200,
                retry_after=DEFAULT_RETRY,
            )
        return updated

    async def batch_update(self, data: Sequence[tuple[str, Values]]) -> None:
        """Write each (A1 range, rows) in one ``values:batchUpdate``."""
        await self._call(
            "POST",
            "/values:batchUpdate",
            "Google Sheets refused to update the exception rows",
            body={
                "valueInputOption": "RAW",
                "data": [
                    {"range": cells, "majorDimension": "ROWS", "values": [list(r) for r in rows]}
                    for cells, rows in data
                ],
            },
        )
