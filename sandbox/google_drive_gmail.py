"""Loopback doubles of Google Drive v3 and Gmail v1, as far as the bot uses them.

Routes follow Google's published shapes, relative to one root (``GOOGLE_API_BASE``; in the
sandbox ``/sandbox/google``, shared with the Sheets double):

- Drive: ``GET /drive/v3/files`` (``q`` with ``name =``, ``'<id>' in parents``, ``mimeType =``,
  ``trashed = false``, ``appProperties has { key='…' and value='…' }``), ``POST /drive/v3/files``
  (JSON metadata: folders), ``POST /upload/drive/v3/files?uploadType=multipart``
  (``multipart/related``: JSON metadata then the content), ``GET /drive/v3/files/{id}``
  (``?alt=media`` for the content);
- Gmail: ``POST /gmail/v1/users/{user}/messages/send`` (``raw`` base64url RFC 2822, optional
  ``threadId``), ``drafts`` create and ``drafts/send``, ``GET …/messages?q=rfc822msgid:…`` and
  ``GET …/messages/{id}``.

Every call needs ``Authorization: Bearer <token>`` for a token this double (or the Sheets
double, through ``token_subject``) issued; a wrong one gets Google's 401 ``UNAUTHENTICATED``
body. Gmail also checks that ``{user}`` is the token's delegated subject (403 otherwise), as
Google does. ``fail_next`` injects failures, optionally after the write happened (a lost answer).
"""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
import secrets
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from html import escape
from pathlib import Path
from typing import Any

from aiohttp import web

__all__ = [
    "SANDBOX_DRIVE_FOLDER",
    "SANDBOX_GMAIL_SENDER",
    "DriveObject",
    "FakeDriveGmail",
    "GmailMessage",
    "sandbox_key_file",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FOLDER_MIME = "application/vnd.google-apps.folder"
SANDBOX_DRIVE_FOLDER = "root-folder"  # GOOGLE_DRIVE_FOLDER_ID in sandbox mode
SANDBOX_GMAIL_SENDER = "finance@sandbox.example"  # GMAIL_SENDER in sandbox mode


@dataclass
class DriveObject:
    id: str
    name: str
    mime_type: str
    parents: list[str]
    app_properties: dict[str, str] = field(default_factory=dict)
    content: bytes = b""
    trashed: bool = False

    def resource(self) -> dict[str, Any]:
        link = (
            f"https://drive.google.com/drive/folders/{self.id}"
            if self.mime_type == FOLDER_MIME
            else f"https://drive.google.com/file/d/{self.id}/view?usp=drivesdk"
        )
        return {
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "parents": list(self.parents),
            "appProperties": dict(self.app_properties),
            "webViewLink": link,
            "trashed": self.trashed,
        }


@dataclass
class GmailMessage:
    id: str
    thread_id: str
    user: str
    raw: bytes
    labels: list[str]

    @property
    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message

    def header(self, name: str) -> str:
        return str(self.parsed.get(name) or "")

    def attachments(self) -> list[tuple[str, bytes]]:
        found = []
        for part in self.parsed.iter_attachments():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                found.append((part.get_filename() or "attachment", payload))
        return found

    def body(self) -> str:
        part = self.parsed.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    def resource(self) -> dict[str, Any]:
        headers = [{"name": k, "value": str(v)} for k, v in self.parsed.items()]
        return {
            "id": self.id,
            "threadId": self.thread_id,
            "labelIds": list(self.labels),
            "snippet": self.body()[:100],
            "payload": {"mimeType": self.parsed.get_content_type(), "headers": headers},
            "sizeEstimate": len(self.raw),
        }


@dataclass
class _Failure:
    route: str  # "list", "create", "upload", "send", "search", "any"
    status: int
    after_write: bool
    retry_after: float | None


def _google_error(
    status: int, message: str, reason: str, headers: dict[str, str] | None = None
) -> web.Response:
    words = {
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
    }
    state = words.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT")
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
            "status": state,
        }
    }
    return web.json_response(body, status=status, headers=headers)


_APP_PROP = re.compile(
    r"appProperties has \{\s*key='((?:[^'\\]|\\.)*)' and value='((?:[^'\\]|\\.)*)'\s*\}"
)
_NAME = re.compile(r"name = '((?:[^'\\]|\\.)*)'")
_PARENT = re.compile(r"'((?:[^'\\]|\\.)*)' in parents")
_MIME = re.compile(r"mimeType = '((?:[^'\\]|\\.)*)'")


def _unq(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


class FakeDriveGmail:
    """In-memory Drive and Gmail; ``routes()`` to add to another app, ``app`` to serve alone."""

    def __init__(self, *, token_subject: Callable[[str], str | None] | None = None) -> None:
        self.files: dict[str, DriveObject] = {}
        self.messages: dict[str, GmailMessage] = {}
        self.drafts: dict[str, GmailMessage] = {}
        self.tokens: dict[str, str | None] = {}  # token -> the delegated subject
        self.calls: list[tuple[str, str]] = []  # (method, path) of every API call
        self._token_subject = token_subject
        self._failures: list[_Failure] = []
        self.on_change: list[Callable[[], None]] = []  # told after every write call
        self.root_folder = self._new_folder("Finance documents", [], fixed=SANDBOX_DRIVE_FOLDER)
        self._app: web.Application | None = None

    # ---- state helpers (tests, the sandbox page) ----
    def _new_id(self) -> str:
        return secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")

    def _new_folder(self, name: str, parents: list[str], fixed: str | None = None) -> str:
        item = DriveObject(fixed or self._new_id(), name, FOLDER_MIME, parents)
        self.files[item.id] = item
        return item.id

    def issue_token(self, subject: str | None = None) -> str:
        token = "ya29.sandbox-" + secrets.token_urlsafe(24)
        self.tokens[token] = subject
        return token

    def fail_next(
        self,
        route: str,
        status: int = 503,
        *,
        after_write: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """The next call of ``route`` fails with ``status`` (after doing its write, if asked)."""
        self._failures.append(_Failure(route, status, after_write, retry_after))

    def folders(self) -> list[DriveObject]:
        return [f for f in self.files.values() if f.mime_type == FOLDER_MIME]

    def documents(self) -> list[DriveObject]:
        return [f for f in self.files.values() if f.mime_type != FOLDER_MIME]

    def sent(self) -> list[GmailMessage]:
        return [m for m in self.messages.values() if "SENT" in m.labels]

    def dump(self) -> dict[str, Any]:
        """Drive's files (contents base64) and Gmail's messages and drafts as JSON values; not
        the tokens (the bot asks for new ones), the call log or injected failures."""
        return {
            "files": [
                {**asdict(f), "content": base64.b64encode(f.content).decode()}
                for f in self.files.values()
            ],
            "messages": [
                {**asdict(m), "raw": base64.b64encode(m.raw).decode()}
                for m in self.messages.values()
            ],
            "drafts": {draft_id: m.id for draft_id, m in self.drafts.items()},
        }

    def load(self, data: dict[str, Any]) -> None:
        """Replace the state with ``data`` (from ``dump``); changes nothing if it cannot be read.
        The root folder is always there."""
        files: dict[str, DriveObject] = {}
        for raw in data["files"]:
            item = DriveObject(**{**raw, "content": base64.b64decode(raw["content"])})
            files[item.id] = item
        messages: dict[str, GmailMessage] = {}
        for raw in data["messages"]:
            message = GmailMessage(**{**raw, "raw": base64.b64decode(raw["raw"])})
            messages[message.id] = message
        drafts = {str(k): messages[str(v)] for k, v in data["drafts"].items()}
        if self.root_folder not in files:
            files[self.root_folder] = self.files[self.root_folder]
        self.files, self.messages, self.drafts = files, messages, drafts

    def reset(self) -> None:
        """An empty Drive (but its root folder) and mailbox."""
        self.files = {self.root_folder: self.files[self.root_folder]}
        self.messages, self.drafts = {}, {}
        self._changed()

    def _changed(self) -> None:
        for listener in self.on_change:
            listener()

    # ---- serving ----
    def routes(self) -> list[web.RouteDef]:
        api = self._api
        return [
            web.post("/token", self._token),
            web.get("/drive/v3/files", api("list", self._list)),
            web.post("/drive/v3/files", api("create", self._create)),
            web.get("/drive/v3/files/{id}", api("get", self._get)),
            web.post("/upload/drive/v3/files", api("upload", self._upload)),
            web.post("/gmail/v1/users/{user}/messages/send", api("send", self._send)),
            web.get("/gmail/v1/users/{user}/messages", api("search", self._search)),
            web.get("/gmail/v1/users/{user}/messages/{id}", api("message", self._message)),
            web.post("/gmail/v1/users/{user}/drafts", api("draft", self._draft)),
            web.post("/gmail/v1/users/{user}/drafts/send", api("send", self._draft_send)),
            web.get("/files/{id}/download", self._download),  # the sandbox page's links
        ]

    @property
    def app(self) -> web.Application:
        if self._app is None:
            self._app = web.Application()
            self._app.add_routes(self.routes())
        return self._app

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve alone on ``host:port``; yields the root URL (``GOOGLE_API_BASE``)."""
        runner = web.AppRunner(self.app)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            yield f"http://{host}:{runner.addresses[0][1]}"
        finally:
            await runner.cleanup()

    def _subject(self, request: web.Request) -> tuple[bool, str | None]:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        if token in self.tokens:
            return True, self.tokens[token]
        if token and self._token_subject is not None:
            subject = self._token_subject(token)
            if subject is not None:
                return True, subject or None
        return False, None

    def _api(self, route: str, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            self.calls.append((request.method, request.path))
            ok, subject = self._subject(request)
            if not ok:
                return _google_error(
                    401,
                    "Request had invalid authentication credentials. Expected OAuth 2 access "
                    "token, login cookie or other valid authentication credential.",
                    "authError",
                )
            user = request.match_info.get("user")
            if user is not None and user != "me" and user != subject:
                return _google_error(403, "Delegation denied for " + user, "forbidden")
            failure = next((f for f in self._failures if f.route in (route, "any")), None)
            if failure is None:
                response = await handler(request)
                if request.method != "GET":
                    self._changed()
                return response
            self._failures.remove(failure)
            if failure.after_write:
                await handler(request)
                self._changed()
            headers = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after else None
            if failure.status == 429:
                return _google_error(
                    429, "Quota exceeded for quota metric 'Queries'", "rateLimitExceeded", headers
                )
            return _google_error(failure.status, "Backend Error", "backendError", headers)

        return wrapped

    async def _token(self, request: web.Request) -> web.StreamResponse:
        """The JWT bearer grant: the assertion's ``sub`` becomes the token's subject (the double
        does not check the signature; the bot's own tests of ``connectors.google.auth`` do)."""
        form = await request.post()
        assertion = str(form.get("assertion") or "")
        try:
            claims = json.loads(base64.urlsafe_b64decode(assertion.split(".")[1] + "=="))
        except (IndexError, ValueError):
            return web.json_response(
                {"error": "invalid_grant", "error_description": "Invalid JWT"}, status=400
            )
        token = self.issue_token(claims.get("sub"))
        return web.json_response(
            {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
        )

    # ---- Drive ----
    def _matches(self, item: DriveObject, q: str) -> bool:
        if "trashed = false" in q and item.trashed:
            return False
        for key, value in _APP_PROP.findall(q):
            if item.app_properties.get(_unq(key)) != _unq(value):
                return False
        q_rest = _APP_PROP.sub("", q)
        name = _NAME.search(q_rest)
        if name and item.name != _unq(name.group(1)):
            return False
        parent = _PARENT.search(q_rest)
        if parent and _unq(parent.group(1)) not in item.parents:
            return False
        mime = _MIME.search(q_rest)
        return not (mime and item.mime_type != _unq(mime.group(1)))

    async def _list(self, request: web.Request) -> web.StreamResponse:
        q = request.query.get("q", "")
        found = [f.resource() for f in self.files.values() if self._matches(f, q)]
        return web.json_response(
            {"kind": "drive#fileList", "incompleteSearch": False, "files": found}
        )

    def _store(self, metadata: dict[str, Any], content: bytes) -> DriveObject:
        parents = [str(p) for p in metadata.get("parents") or [self.root_folder]]
        item = DriveObject(
            self._new_id(),
            str(metadata.get("name") or "Untitled"),
            str(metadata.get("mimeType") or "application/octet-stream"),
            parents,
            {str(k): str(v) for k, v in (metadata.get("appProperties") or {}).items()},
            content,
        )
        self.files[item.id] = item
        return item

    async def _create(self, request: web.Request) -> web.StreamResponse:
        try:
            metadata = await request.json()
        except ValueError:
            return _google_error(400, "Invalid JSON payload received.", "parseError")
        missing = [p for p in metadata.get("parents") or [] if p not in self.files]
        if missing:
            return _google_error(404, f"File not found: {missing[0]}.", "notFound")
        return web.json_response(self._store(metadata, b"").resource())

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("uploadType") != "multipart":
            return _google_error(400, "Unsupported uploadType", "badRequest")
        content_type = request.headers.get("Content-Type", "")
        boundary = re.search(r"boundary=\"?([^\";]+)\"?", content_type)
        if not content_type.startswith("multipart/related") or boundary is None:
            return _google_error(400, "Expected multipart/related", "badContent")
        raw = await request.read()
        parts = raw.split(b"--" + boundary.group(1).encode())
        bodies = [
            p.split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n")
            for p in parts[1:-1]
            if b"\r\n\r\n" in p
        ]
        if len(bodies) != 2:
            return _google_error(400, "Expected metadata and media parts", "badContent")
        try:
            metadata = json.loads(bodies[0])
        except ValueError:
            return _google_error(400, "Invalid metadata", "parseError")
        missing = [p for p in metadata.get("parents") or [] if p not in self.files]
        if missing:
            return _google_error(404, f"File not found: {missing[0]}.", "notFound")
        return web.json_response(self._store(metadata, bodies[1]).resource())

    async def _get(self, request: web.Request) -> web.StreamResponse:
        item = self.files.get(request.match_info["id"])
        if item is None:
            return _google_error(404, f"File not found: {request.match_info['id']}.", "notFound")
        if request.query.get("alt") == "media":
            return web.Response(body=item.content, content_type=item.mime_type)
        return web.json_response(item.resource())

    async def _download(self, request: web.Request) -> web.StreamResponse:
        item = self.files.get(request.match_info["id"])
        if item is None or item.mime_type == FOLDER_MIME:
            raise web.HTTPNotFound()
        disposition = f'attachment; filename="{item.name.replace(chr(34), "")}"'
        return web.Response(
            body=item.content,
            content_type=item.mime_type,
            headers={"Content-Disposition": disposition},
        )

    # ---- Gmail ----
    def _decode(self, raw: str) -> bytes | None:
        try:
            return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except ValueError:
            return None

    def _new_message(
        self, user: str, body: dict[str, Any], labels: list[str]
    ) -> GmailMessage | None:
        raw = self._decode(str(body.get("raw") or ""))
        if not raw:
            return None
        message_id = self._new_id()[:16]
        thread = str(body.get("threadId") or "")
        if thread and not any(m.thread_id == thread for m in self.messages.values()):
            thread = ""
        return GmailMessage(message_id, thread or message_id, user, raw, labels)

    async def _send(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        message = self._new_message(request.match_info["user"], body, ["SENT"])
        if message is None:
            return _google_error(400, "Invalid value for ByteString: raw", "invalidArgument")
        if not message.header("To"):
            return _google_error(400, "Invalid To header", "invalidArgument")
        self.messages[message.id] = message
        return web.json_response(
            {"id": message.id, "threadId": message.thread_id, "labelIds": ["SENT"]}
        )

    async def _draft(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        message = self._new_message(
            request.match_info["user"], body.get("message") or {}, ["DRAFT"]
        )
        if message is None:
            return _google_error(400, "Invalid value for ByteString: raw", "invalidArgument")
        draft_id = "r" + self._new_id()[:16]
        self.drafts[draft_id] = message
        self.messages[message.id] = message
        return web.json_response(
            {
                "id": draft_id,
                "message": {"id": message.id, "threadId": message.thread_id, "labelIds": ["DRAFT"]},
            }
        )

    async def _draft_send(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        message = self.drafts.pop(str(body.get("id") or ""), None)
        if message is None:
            return _google_error(404, "Requested entity was not found.", "notFound")
        message.labels = ["SENT"]
        return web.json_response(
            {"id": message.id, "threadId": message.thread_id, "labelIds": ["SENT"]}
        )

    async def _search(self, request: web.Request) -> web.StreamResponse:
        q = request.query.get("q", "")
        user = request.match_info["user"]
        found = [m for m in self.messages.values() if m.user == user]
        wanted = re.search(r"rfc822msgid:(\S+)", q)
        if wanted:
            target = wanted.group(1).strip("<>")
            found = [m for m in found if m.header("Message-ID").strip().strip("<>") == target]
        if "in:sent" in q:
            found = [m for m in found if "SENT" in m.labels]
        if not found:
            return web.json_response({"resultSizeEstimate": 0})
        return web.json_response(
            {
                "messages": [{"id": m.id, "threadId": m.thread_id} for m in found],
                "resultSizeEstimate": len(found),
            }
        )

    async def _message(self, request: web.Request) -> web.StreamResponse:
        message = self.messages.get(request.match_info["id"])
        if message is None or message.user != request.match_info["user"]:
            return _google_error(404, "Requested entity was not found.", "notFound")
        return web.json_response(message.resource())

    # ---- the sandbox page ----
    def page_html(self, download_prefix: str) -> str:
        """Drive folders with their PDFs (downloadable) and the sent mail, as an HTML section."""
        rows = []
        for folder in self.folders():
            if folder.id == self.root_folder:
                continue
            docs = [d for d in self.documents() if folder.id in d.parents]
            links = ", ".join(
                f'<a href="{escape(download_prefix)}/files/{escape(d.id)}/download">{escape(d.name)}</a>'
                for d in docs
            )
            rows.append(f"<li><b>{escape(folder.name)}</b>: {links or 'empty'}</li>")
        mails = [
            f"<li>To {escape(m.header('To'))}: <b>{escape(m.header('Subject'))}</b>"
            f" ({len(m.attachments())} attachment(s), thread {escape(m.thread_id)})</li>"
            for m in self.sent()
        ]
        return (
            '<section id="google-docs"><h2>Google Drive</h2><ul>'
            + ("".join(rows) or "<li>No documents yet.</li>")
            + "</ul><h2>Gmail: sent</h2><ul>"
            + ("".join(mails) or "<li>Nothing sent yet.</li>")
            + "</ul></section>"
        )


def sandbox_key_file(token_uri: str, directory: Path | None = None) -> Path:
    """A throwaway service-account key file whose ``token_uri`` is the double's ``/token``
    (sandbox mode: ``GOOGLE_SERVICE_ACCOUNT_FILE``); a fresh RSA key per process, mode 0600."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    folder = directory or Path(tempfile.mkdtemp(prefix="finance-bot-sandbox-google-"))
    path = folder / "service-account.json"
    path.touch(mode=0o600)
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "client_email": "finance-bot@sandbox.iam.gserviceaccount.com",
                "private_key_id": secrets.token_hex(8),
                "private_key": pem,
                "token_uri": token_uri,
            }
        ),
        encoding="utf-8",
    )
    return path
