"""A loopback double of the Google APIs the bot uses: the OAuth token endpoint and Sheets values.

The token endpoint takes the JWT bearer grant and checks the assertion's RS256 signature against
the public key of the service-account key it was made with (``write_key_file`` writes that key
file, as the Cloud console would), its issuer, audience and expiry, and answers Google's shapes
(``{"access_token", "expires_in", "token_type"}``; ``{"error": "invalid_grant", ...}``). Every API
route wants a token it issued (else Google's 401 ``UNAUTHENTICATED`` shape).

Sheets: ``GET /v4/spreadsheets/{id}`` (sheet properties), ``GET …/values/{range}`` (a
``ValueRange``), ``POST …/values/{range}:append`` (the append response with ``tableRange`` and
``updates.updatedRange``), ``PUT …/values/{range}`` and ``POST …/values:batchUpdate``. Writes are
held to ``writes_per_minute`` per sliding minute (``time_scale`` shortens the minute for
benchmarks); over it, Google's ``429 RESOURCE_EXHAUSTED``. ``GET /spreadsheets/d/{id}/edit``
shows a sheet as an HTML table (the rows' links point there when ``GOOGLE_API_BASE`` is set).

Routes are added per API (``_add_sheets_routes``); Drive and Gmail routes can sit beside them
under the same token check.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy.engine import make_url

__all__ = [
    "GOOGLE_PREFIX",
    "SANDBOX_CLIENT_EMAIL",
    "SANDBOX_SPREADSHEET_ID",
    "FakeGoogle",
    "Sheet",
    "Spreadsheet",
    "for_sandbox",
    "google_error",
    "parse_a1",
    "sandbox_key_file",
    "sandbox_settings",
]

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SANDBOX_CLIENT_EMAIL = "finance-bot@sandbox-project.iam.gserviceaccount.com"
SANDBOX_SPREADSHEET_ID = "sandbox-exceptions-sheet"
SKEW = 300  # seconds of clock skew the token endpoint forgives, like Google's
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_A1 = re.compile(r"^\$?([A-Z]*)\$?(\d*)(?::\$?([A-Z]*)\$?(\d*))?$")
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
QUOTA_MESSAGE = (
    "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per "
    "user' of service 'sheets.googleapis.com' for consumer 'project_number:000000000000'."
)


def google_error(code: int, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
    """Google's JSON error: ``{"error": {"code", "message", "status"}}``."""
    body = {"error": {"code": code, "message": message, "status": _STATUS.get(code, "UNKNOWN")}}
    return web.json_response(body, status=code, headers=headers)


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n


def _col_letters(n: int) -> str:
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def parse_a1(a1: str) -> tuple[str, int, int, int | None, int | None]:
    """``"Tab!A2:K5"`` as (tab, first row, first column, last row, last column); open ends None.

    Raises ValueError on what Google would call "Unable to parse range".
    """
    if "!" not in a1:
        raise ValueError(a1)
    tab, cells = a1.rsplit("!", 1)
    if len(tab) >= 2 and tab[0] == tab[-1] == "'":
        tab = tab[1:-1].replace("''", "'")
    match = _A1.match(cells.upper())
    if not tab or not match or not (match.group(1) or match.group(2)):
        raise ValueError(a1)
    c1, r1, c2, r2 = match.groups()
    first_col = _col_number(c1) if c1 else 1
    first_row = int(r1) if r1 else 1
    if c2 is None and r2 is None:  # one cell
        return tab, first_row, first_col, first_row, first_col
    last_col = _col_number(c2) if c2 else None
    last_row = int(r2) if r2 else None
    return tab, first_row, first_col, last_row, last_col


def _quoted(tab: str) -> str:
    return tab if re.fullmatch(r"[A-Za-z0-9_]+", tab) else "'" + tab.replace("'", "''") + "'"


def _a1(tab: str, row1: int, col1: int, row2: int, col2: int) -> str:
    return f"{_quoted(tab)}!{_col_letters(col1)}{row1}:{_col_letters(col2)}{row2}"


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@dataclass
class Sheet:
    """One tab: a grid of strings (row 1 first), and Google's numeric ``sheetId`` (gid)."""

    title: str
    sheet_id: int
    rows: list[list[str]] = field(default_factory=list)

    def last_row(self) -> int:
        """The last row that holds anything (0 when empty)."""
        for i in range(len(self.rows), 0, -1):
            if any(cell != "" for cell in self.rows[i - 1]):
                return i
        return 0

    def write(self, row1: int, col1: int, values: list[list[Any]]) -> tuple[int, int]:
        """Write ``values`` from (row1, col1); returns (rows, columns) written."""
        width = 0
        for i, line in enumerate(values):
            r = row1 + i
            while len(self.rows) < r:
                self.rows.append([])
            cells = self.rows[r - 1]
            while len(cells) < col1 - 1 + len(line):
                cells.append("")
            for j, value in enumerate(line):
                cells[col1 - 1 + j] = "" if value is None else str(value)
            width = max(width, len(line))
        return len(values), width

    def read(self, row1: int, col1: int, row2: int | None, col2: int | None) -> list[list[str]]:
        """Values in the range, trailing empty cells and rows dropped, as the API answers."""
        last = min(row2 or self.last_row(), self.last_row())
        out: list[list[str]] = []
        for r in range(row1, last + 1):
            cells = self.rows[r - 1] if r <= len(self.rows) else []
            end = len(cells) if col2 is None else min(col2, len(cells))
            line = cells[col1 - 1 : end]
            while line and line[-1] == "":
                line = line[:-1]
            out.append(line)
        while out and not out[-1]:
            out.pop()
        return out


@dataclass
class Spreadsheet:
    spreadsheet_id: str
    title: str
    sheets: dict[str, Sheet] = field(default_factory=dict)

    def add_sheet(self, title: str) -> Sheet:
        sheet = Sheet(title, sheet_id=0 if not self.sheets else 1000 + len(self.sheets))
        self.sheets[title] = sheet
        return sheet


@dataclass(frozen=True)
class RecordedRequest:
    """One API request the double received (never its token)."""

    method: str
    path: str
    query: dict[str, str]
    authorized: bool
    write: bool


@dataclass
class _Failure:
    status: int
    message: str
    after_commit: bool  # do the work, then answer the error (a lost response)
    retry_after: float | None


@dataclass(frozen=True)
class IssuedToken:
    scopes: tuple[str, ...]
    subject: str | None
    expires_at: float


class FakeGoogle:
    """In-memory Google; ``app`` is the aiohttp application to serve (or mount)."""

    def __init__(
        self,
        key: rsa.RSAPrivateKey | None = None,
        *,
        client_email: str = SANDBOX_CLIENT_EMAIL,
        public_url: str | None = None,
        writes_per_minute: int | None = 60,
        time_scale: float = 1.0,
        token_lifetime: int = 3600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = secrets.token_hex(20)
        self.client_email = client_email
        self.public_url = public_url.rstrip("/") if public_url else None
        self.writes_per_minute = writes_per_minute
        self.time_scale = time_scale
        self.token_lifetime = token_lifetime
        self.clock = clock
        self.tokens: dict[str, IssuedToken] = {}
        self.grants = 0  # tokens issued
        self.refuse_grants: str | None = None  # an OAuth error code to answer every grant with
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.requests: list[RecordedRequest] = []
        self.rate_limited = 0  # 429s answered for the write quota
        self._writes: deque[float] = deque()
        self._failures: deque[_Failure] = deque()
        self.on_change: list[Callable[[], None]] = []
        self.page_sheet: tuple[str, str] | None = None  # (spreadsheet, tab) the page shows
        self.app = web.Application()
        self.app.router.add_post("/token", self._token)
        self._add_sheets_routes()

    # -- set-up ---------------------------------------------------------------------------------

    @classmethod
    def from_key_file(cls, path: Path, **kwargs: Any) -> FakeGoogle:
        """A double that trusts the service-account key in ``path`` (as ``write_key_file`` made)."""
        data = json.loads(path.read_text(encoding="utf-8"))
        key = serialization.load_pem_private_key(data["private_key"].encode(), None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("not an RSA key")
        fake = cls(key, client_email=data["client_email"], **kwargs)
        fake.key_id = str(data.get("private_key_id") or fake.key_id)
        return fake

    def key_json(self, token_uri: str) -> dict[str, str]:
        """The service-account key file's content, as the Cloud console would download it."""
        pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": "sandbox-project",
            "private_key_id": self.key_id,
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": "100000000000000000000",
            "token_uri": token_uri,
        }

    def write_key_file(self, path: Path, token_uri: str) -> Path:
        """Write the key file (readable by its owner only) that this double trusts."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(json.dumps(self.key_json(token_uri), indent=2), encoding="utf-8")
        return path

    def add_spreadsheet(
        self, spreadsheet_id: str, tabs: tuple[str, ...] = ("Exceptions",), title: str = ""
    ) -> Spreadsheet:
        book = Spreadsheet(spreadsheet_id, title or "Finance exceptions")
        for tab in tabs:
            book.add_sheet(tab)
        self.spreadsheets[spreadsheet_id] = book
        return book

    def rows(self, spreadsheet_id: str, tab: str = "Exceptions") -> list[list[str]]:
        """A tab's rows as they are now (tests and the sandbox page)."""
        sheet = self.spreadsheets[spreadsheet_id].sheets[tab]
        return [list(r) for r in sheet.rows[: sheet.last_row()]]

    def page_state(self) -> dict[str, Any] | None:
        """The sheet the sandbox page shows (``for_sandbox``), or None."""
        return self.sheet_state(*self.page_sheet) if self.page_sheet else None

    def sheet_state(self, spreadsheet_id: str, tab: str = "Exceptions") -> dict[str, Any]:
        """A tab for the sandbox page: its name, where to open it, its rows."""
        book = self.spreadsheets.get(spreadsheet_id)
        rows = self.rows(spreadsheet_id, tab) if book and tab in book.sheets else []
        return {"tab": tab, "url": self._sheet_url(spreadsheet_id), "rows": rows}

    def dump(self) -> dict[str, Any]:
        """The spreadsheets (tabs and cells) as JSON values; not the tokens (the bot asks for
        new ones), the request log or injected failures."""
        return {
            "spreadsheets": [
                {
                    "id": book.spreadsheet_id,
                    "title": book.title,
                    "sheets": [
                        {"title": t.title, "sheet_id": t.sheet_id, "rows": t.rows}
                        for t in book.sheets.values()
                    ],
                }
                for book in self.spreadsheets.values()
            ]
        }

    def load(self, data: dict[str, Any]) -> None:
        """Replace the cells with ``data`` (from ``dump``); a spreadsheet or tab this double
        has but ``data`` lacks stays, empty. Changes nothing if ``data`` cannot be read."""
        books: dict[str, Spreadsheet] = {}
        for raw in data["spreadsheets"]:
            book = Spreadsheet(str(raw["id"]), str(raw["title"]))
            for tab in raw["sheets"]:
                rows = [[str(cell) for cell in row] for row in tab["rows"]]
                book.sheets[str(tab["title"])] = Sheet(
                    str(tab["title"]), int(tab["sheet_id"]), rows
                )
            books[book.spreadsheet_id] = book
        for book_id, had in self.spreadsheets.items():
            book = books.setdefault(book_id, Spreadsheet(book_id, had.title))
            for title, sheet in had.sheets.items():
                book.sheets.setdefault(title, Sheet(title, sheet.sheet_id))
        self.spreadsheets = books

    def reset(self) -> None:
        """Every tab empty (the spreadsheets and tabs stay)."""
        for book in self.spreadsheets.values():
            for sheet in book.sheets.values():
                sheet.rows = []
        self._changed()

    def fail_next(
        self,
        n: int = 1,
        status: int = 503,
        message: str = "The service is currently unavailable.",
        *,
        after_commit: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``n`` API requests with an error (``after_commit``: do the work first,
        then answer the error, as when the response is lost)."""
        for _ in range(n):
            self._failures.append(_Failure(status, message, after_commit, retry_after))

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve the double (0 picks a free port); yields its base URL (``GOOGLE_API_BASE``)."""
        runner = web.AppRunner(self.app)
        await runner.setup()
        own_url = self.public_url is None
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            if own_url:
                self.public_url = f"http://{host}:{runner.addresses[0][1]}"
            assert self.public_url is not None
            yield self.public_url
        finally:
            if own_url:
                self.public_url = None
            await runner.cleanup()

    def _changed(self) -> None:
        for listener in self.on_change:
            listener()

    # -- OAuth ----------------------------------------------------------------------------------

    def _grant_error(self, error: str, description: str) -> web.Response:
        return web.json_response({"error": error, "error_description": description}, status=400)

    async def _token(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        if form.get("grant_type") != JWT_GRANT:
            return self._grant_error("unsupported_grant_type", "Invalid grant_type.")
        if self.refuse_grants:
            return self._grant_error(self.refuse_grants, "Refused by the sandbox.")
        assertion = str(form.get("assertion", ""))
        parts = assertion.split(".")
        if len(parts) != 3:
            return self._grant_error("invalid_grant", "Invalid JWT.")
        try:
            header = json.loads(_b64decode(parts[0]))
            claims = json.loads(_b64decode(parts[1]))
            signature = _b64decode(parts[2])
        except ValueError:
            return self._grant_error("invalid_grant", "Invalid JWT.")
        if header.get("alg") != "RS256":
            return self._grant_error("invalid_grant", "Invalid JWT: unsupported algorithm.")
        try:
            self.key.public_key().verify(
                signature,
                f"{parts[0]}.{parts[1]}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return self._grant_error("invalid_grant", "Invalid JWT Signature.")
        now = self.clock()
        if claims.get("iss") != self.client_email:
            return self._grant_error("invalid_grant", "Invalid issuer.")
        if not str(claims.get("aud", "")).endswith("/token"):
            return self._grant_error("invalid_grant", "Invalid JWT audience.")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or exp - iat > 3600:
            return self._grant_error("invalid_grant", "Invalid JWT: lifetime.")
        if iat > now + SKEW or exp < now - SKEW:
            return self._grant_error(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                "timeframe. Check your iat and exp values in the JWT claim.",
            )
        scopes = tuple(str(claims.get("scope", "")).split())
        if not scopes:
            return self._grant_error("invalid_scope", "Empty or missing scope not allowed.")
        token = "ya29.sandbox-" + secrets.token_urlsafe(24)
        subject = claims.get("sub")
        self.tokens[token] = IssuedToken(
            scopes, str(subject) if subject else None, now + self.token_lifetime
        )
        self.grants += 1
        return web.json_response(
            {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        )

    def _authorized(self, request: web.Request, scope: str) -> bool:
        value = request.headers.get("Authorization", "")
        if not value.startswith("Bearer "):
            return False
        issued = self.tokens.get(value[len("Bearer ") :])
        return issued is not None and issued.expires_at > self.clock() and scope in issued.scopes

    def _api(self, scope: str, handler: Handler, *, write: bool = False) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            authorized = self._authorized(request, scope)
            self.requests.append(
                RecordedRequest(
                    request.method, request.path, dict(request.query), authorized, write
                )
            )
            if not authorized:
                return google_error(
                    401,
                    "Request had invalid authentication credentials. Expected OAuth 2 access "
                    "token, login cookie or other valid authentication credential.",
                )
            failure = self._failures.popleft() if self._failures else None
            if failure is not None:
                if failure.after_commit:
                    await handler(request)
                headers = (
                    {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after else None
                )
                return google_error(failure.status, failure.message, headers=headers)
            if write and not self._take_write():
                self.rate_limited += 1
                return google_error(429, QUOTA_MESSAGE)
            return await handler(request)

        return wrapped

    def _take_write(self) -> bool:
        """Count one write against the per-minute quota; False when it is used up."""
        if self.writes_per_minute is None:
            return True
        now = self.clock()
        window = 60.0 / self.time_scale
        while self._writes and self._writes[0] <= now - window:
            self._writes.popleft()
        if len(self._writes) >= self.writes_per_minute:
            return False
        self._writes.append(now)
        return True

    # -- Sheets ---------------------------------------------------------------------------------

    def _add_sheets_routes(self) -> None:
        scope = "https://www.googleapis.com/auth/spreadsheets"
        r = self.app.router
        r.add_get("/v4/spreadsheets/{id}", self._api(scope, self._get_spreadsheet))
        r.add_post(
            "/v4/spreadsheets/{id}/values:batchUpdate",
            self._api(scope, self._batch_update, write=True),
        )
        r.add_get("/v4/spreadsheets/{id}/values/{range}", self._api(scope, self._get_values))
        r.add_put(
            "/v4/spreadsheets/{id}/values/{range}", self._api(scope, self._put_values, write=True)
        )
        r.add_post(
            "/v4/spreadsheets/{id}/values/{range}", self._api(scope, self._append, write=True)
        )
        r.add_get("/spreadsheets/d/{id}/edit", self._page)

    def _book(self, request: web.Request) -> Spreadsheet | None:
        return self.spreadsheets.get(request.match_info["id"])

    def _range(
        self, book: Spreadsheet, a1: str
    ) -> tuple[Sheet, int, int, int | None, int | None] | web.Response:
        try:
            tab, row1, col1, row2, col2 = parse_a1(a1)
        except ValueError:
            return google_error(400, f"Unable to parse range: {a1}")
        sheet = book.sheets.get(tab)
        if sheet is None:
            return google_error(400, f"Unable to parse range: {a1}")
        return sheet, row1, col1, row2, col2

    @staticmethod
    def _not_found() -> web.Response:
        return google_error(404, "Requested entity was not found.")

    async def _get_spreadsheet(self, request: web.Request) -> web.StreamResponse:
        book = self._book(request)
        if book is None:
            return self._not_found()
        return web.json_response(
            {
                "spreadsheetId": book.spreadsheet_id,
                "properties": {"title": book.title},
                "sheets": [
                    {"properties": {"sheetId": s.sheet_id, "title": s.title, "index": i}}
                    for i, s in enumerate(book.sheets.values())
                ],
                "spreadsheetUrl": self._sheet_url(book.spreadsheet_id),
            }
        )

    async def _get_values(self, request: web.Request) -> web.StreamResponse:
        book = self._book(request)
        if book is None:
            return self._not_found()
        found = self._range(book, request.match_info["range"])
        if isinstance(found, web.Response):
            return found
        sheet, row1, col1, row2, col2 = found
        values = sheet.read(row1, col1, row2, col2)
        last_row = row2 or max(sheet.last_row(), row1)
        last_col = col2 or max([col1, *(col1 + len(v) - 1 for v in values)])
        body: dict[str, Any] = {
            "range": _a1(sheet.title, row1, col1, last_row, last_col),
            "majorDimension": "ROWS",
        }
        if values:  # Google leaves "values" out of an empty range
            body["values"] = values
        return web.json_response(body)

    @staticmethod
    def _input_option(request: web.Request, body: dict[str, Any] | None = None) -> str | None:
        option = request.query.get("valueInputOption") or (body or {}).get("valueInputOption")
        return option if option in ("RAW", "USER_ENTERED") else None

    @staticmethod
    async def _json(request: web.Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _update(self, book: Spreadsheet, a1: str, values: Any) -> dict[str, Any] | web.Response:
        found = self._range(book, a1)
        if isinstance(found, web.Response):
            return found
        sheet, row1, col1, row2, col2 = found
        if not isinstance(values, list) or not all(isinstance(v, list) for v in values):
            return google_error(400, "Invalid values: expected a list of rows.")
        if (row2 is not None and row1 + len(values) - 1 > row2) or (
            col2 is not None and any(col1 + len(v) - 1 > col2 for v in values)
        ):
            return google_error(
                400,
                f"Requested writing within range [{a1}], but tried writing to a cell outside it.",
            )
        rows, cols = sheet.write(row1, col1, values)
        self._changed()
        return {
            "spreadsheetId": book.spreadsheet_id,
            "updatedRange": _a1(sheet.title, row1, col1, row1 + rows - 1, col1 + max(cols, 1) - 1),
            "updatedRows": rows,
            "updatedColumns": cols,
            "updatedCells": sum(len(v) for v in values),
        }

    async def _put_values(self, request: web.Request) -> web.StreamResponse:
        book = self._book(request)
        if book is None:
            return self._not_found()
        body = await self._json(request)
        if body is None:
            return google_error(400, "Invalid JSON payload received.")
        if self._input_option(request) is None:
            return google_error(400, "'valueInputOption' is required but not specified")
        result = self._update(book, request.match_info["range"], body.get("values"))
        return result if isinstance(result, web.Response) else web.json_response(result)

    async def _batch_update(self, request: web.Request) -> web.StreamResponse:
        book = self._book(request)
        if book is None:
            return self._not_found()
        body = await self._json(request)
        if body is None or not isinstance(body.get("data"), list):
            return google_error(400, "Invalid JSON payload received.")
        if self._input_option(request, body) is None:
            return google_error(400, "'valueInputOption' is required but not specified")
        for item in body["data"]:  # checked whole before anything is written, like Google
            if not isinstance(item, dict) or not isinstance(item.get("range"), str):
                return google_error(400, "Invalid data[]: a ValueRange needs a range.")
            found = self._range(book, item["range"])
            if isinstance(found, web.Response):
                return found
        responses: list[dict[str, Any]] = []
        for item in body["data"]:
            result = self._update(book, item["range"], item.get("values"))
            if isinstance(result, web.Response):
                return result
            responses.append(result)
        return web.json_response(
            {
                "spreadsheetId": book.spreadsheet_id,
                "totalUpdatedRows": sum(r["updatedRows"] for r in responses),
                "totalUpdatedColumns": max([0, *(r["updatedColumns"] for r in responses)]),
                "totalUpdatedCells": sum(r["updatedCells"] for r in responses),
                "totalUpdatedSheets": 1 if responses else 0,
                "responses": responses,
            }
        )

    async def _append(self, request: web.Request) -> web.StreamResponse:
        a1 = request.match_info["range"]
        if not a1.endswith(":append"):
            return google_error(404, "Method not found.")
        book = self._book(request)
        if book is None:
            return self._not_found()
        body = await self._json(request)
        if body is None:
            return google_error(400, "Invalid JSON payload received.")
        if self._input_option(request) is None:
            return google_error(400, "'valueInputOption' is required but not specified")
        found = self._range(book, a1[: -len(":append")])
        if isinstance(found, web.Response):
            return found
        sheet, _row1, col1, _row2, _col2 = found
        values = body.get("values")
        if not isinstance(values, list) or not values:
            return google_error(400, "Invalid values: expected a list of rows.")
        last = sheet.last_row()
        width = max((len(r) for r in sheet.rows[:last]), default=0)
        table = _a1(sheet.title, 1, col1, last, max(width, col1)) if last else None
        result = self._update(
            book, _a1(sheet.title, last + 1, col1, last + len(values), col1 + 25), values
        )
        if isinstance(result, web.Response):
            return result
        answer: dict[str, Any] = {"spreadsheetId": book.spreadsheet_id, "updates": result}
        if table is not None:
            answer["tableRange"] = table
        return web.json_response(answer)

    # -- what people see ------------------------------------------------------------------------

    def _sheet_url(self, spreadsheet_id: str) -> str:
        base = self.public_url or ""
        return f"{base}/spreadsheets/d/{spreadsheet_id}/edit"

    def table_html(self, spreadsheet_id: str, tab: str = "Exceptions") -> str:
        """A tab as an HTML table (escaped), the first row as its header."""
        book = self.spreadsheets.get(spreadsheet_id)
        sheet = book.sheets.get(tab) if book else None
        if sheet is None or not sheet.last_row():
            return '<p class="empty">No rows yet.</p>'
        rows = sheet.rows[: sheet.last_row()]
        width = max(len(r) for r in rows)
        out = ['<table class="sheet"><thead><tr><th>#</th>']
        out += [f"<th>{html.escape(c)}</th>" for c in rows[0]] + ["</tr></thead><tbody>"]
        for n, line in enumerate(rows[1:], start=2):
            cells = [*line, *([""] * (width - len(line)))]
            out.append(f'<tr id="row-{n}"><td>{n}</td>')
            for cell in cells:
                text = html.escape(cell)
                if cell.startswith(("https://", "http://")):
                    text = f'<a href="{html.escape(cell, quote=True)}">{text}</a>'
                out.append(f"<td>{text}</td>")
            out.append("</tr>")
        out.append("</tbody></table>")
        return "".join(out)

    async def _page(self, request: web.Request) -> web.StreamResponse:
        book = self._book(request)
        if book is None:
            return web.Response(status=404, text="No such spreadsheet in the sandbox.")
        tables = "".join(
            f"<h2>{html.escape(tab)}</h2>{self.table_html(book.spreadsheet_id, tab)}"
            for tab in book.sheets
        )
        page = (
            "<!doctype html><meta charset=utf-8><title>"
            f"{html.escape(book.title)} (sandbox Google Sheets)</title>"
            "<style>table{border-collapse:collapse;font:13px sans-serif}"
            "td,th{border:1px solid #ccc;padding:3px 6px}:target{background:#ffd}</style>"
            f"<h1>{html.escape(book.title)}</h1>{tables}"
        )
        return web.Response(text=page, content_type="text/html")


GOOGLE_PREFIX = "/sandbox/google"
KEY_FILE_NAME = "sandbox-google-service-account.json"


def _data_dir(database_url: str) -> Path:
    """Where sandbox files live: next to the sandbox's SQLite file, else a temp folder."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database).resolve().parent
    return Path(tempfile.gettempdir()) / "finance-handoff-bot-sandbox"


def sandbox_key_file(database_url: str, token_uri: str) -> Path:
    """The sandbox's own service-account key file in its data dir, written when missing or
    made for another address; kept otherwise (several processes of one run share it)."""
    path = _data_dir(database_url) / KEY_FILE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("token_uri") == token_uri and data.get("private_key"):
            return path
    except (OSError, ValueError):
        pass
    FakeGoogle().write_key_file(path, token_uri)
    return path


def sandbox_settings(database_url: str, base: str) -> dict[str, Any]:
    """The Google settings of sandbox mode: its key file, and every Google root on the double."""
    return {
        "google_service_account_file": sandbox_key_file(
            database_url, f"{base}{GOOGLE_PREFIX}/token"
        ),
        "google_api_base": base + GOOGLE_PREFIX,
        "google_sheets_spreadsheet_id": SANDBOX_SPREADSHEET_ID,
    }


def for_sandbox(
    key_file: Path | None, spreadsheet_id: str | None, tab: str, public_url: str
) -> FakeGoogle | None:
    """Sandbox mode's Google: trusts the key file ``sandbox_settings`` wrote, holds the sheet."""
    if key_file is None or spreadsheet_id is None:
        return None
    google = FakeGoogle.from_key_file(key_file, public_url=public_url)
    google.add_spreadsheet(spreadsheet_id, tabs=(tab,))
    google.page_sheet = (spreadsheet_id, tab)
    return google
