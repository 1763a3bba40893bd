"""A loopback Slack Web API over ``SlackWorkspace``, served by aiohttp at ``/api/{method}``.

Point ``AsyncWebClient(token=..., base_url=f"{url}/api/")`` at it. It answers like Slack (HTTP 200
with ``ok: false`` for API errors, 429 with ``Retry-After`` when rate limited), records every
request in ``calls``, and can be told to fail the next calls of a method.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.slack_files import MAX_FILE_BYTES
from sandbox.slack_oauth import AUTHORIZE_PATH, SlackOAuth
from sandbox.slack_objects import (
    ChangeListener,
    Channel,
    Demo,
    JsonDict,
    Message,
    SlackError,
    View,
)
from sandbox.slack_workspace import SlackWorkspace

__all__ = [
    "Demo",
    "RecordedCall",
    "SlackAPI",
    "SlackError",
    "SlackWorkspace",
    "TokenBucket",
]

_JSON_FIELDS = ("blocks", "attachments", "view", "metadata", "files")
UPLOAD_PATH = "/upload/v1/{upload_id}"  # like files.slack.com/upload/v1/…
FILES_PATH = "/files-pri/{ref}/{name}"
DOWNLOAD_PATH = "/files-pri/{ref}/download/{name}"
UPLOAD_CHUNK = 64 * 1024
_DEFAULT_FAILURE_ERRORS = {429: "ratelimited", 503: "service_unavailable"}


@dataclass(frozen=True)
class RecordedCall:
    """One request as received: decoded args (JSON fields parsed, token removed) and the answer."""

    method: str
    args: JsonDict
    at: float
    status: int = 200
    error: str | None = None
    team: str | None = None  # the workspace whose bot token made the call

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.status == 200 and self.error is None


@dataclass(frozen=True)
class _Failure:
    status: int
    error: str | None
    retry_after: int | None


class TokenBucket:
    """Allows ``rate`` events per second on average, with bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._updated = clock()

    def take(self) -> float:
        """Take a token and return 0.0, or return the seconds until one is available."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate


class _Args:
    """Typed access to a request's decoded arguments."""

    def __init__(self, values: JsonDict) -> None:
        self.values = values

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def require(self, *names: str) -> None:
        missing = [n for n in names if not self.has(n)]
        if missing:
            raise SlackError(
                "invalid_arguments", *(f"[ERROR] missing required field: {n}" for n in missing)
            )

    def require_one(self, *names: str) -> None:
        if not any(self.has(n) for n in names):
            raise SlackError(
                "invalid_arguments", f"[ERROR] missing required field: one of {', '.join(names)}"
            )

    def opt(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value in (None, "") else str(value)

    def req(self, name: str) -> str:
        self.require(name)
        return str(self.values[name])

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes")
        return bool(value)

    def integer(self, name: str, default: int) -> int:
        try:
            return int(self.values.get(name) or default)
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments", f"[ERROR] must be an integer: {name}") from None

    def timestamp(self, name: str) -> str | None:
        value = self.opt(name)
        try:
            return None if value is None else f"{float(value):.6f}"
        except ValueError:
            raise SlackError("invalid_arguments", f"[ERROR] must be a timestamp: {name}") from None

    def parsed(self, name: str, kind: type[list[Any]] | type[dict[str, Any]]) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, kind):
            code = "invalid_blocks_format" if name == "blocks" else "invalid_arguments"
            raise SlackError(code, f"[ERROR] must be a JSON {kind.__name__} [json-pointer:/{name}]")
        return value


class SlackAPI:
    """The aiohttp application answering Slack Web API methods against a ``SlackWorkspace``."""

    def __init__(
        self,
        workspace: SlackWorkspace,
        *,
        bot_token: str,
        per_channel_post_rate: float | None = None,
        per_channel_burst: float = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.workspace = workspace
        self.bot_token = bot_token
        # OAuth installs: more workspaces' bot tokens (see sandbox/slack_oauth.py).
        self.oauth = SlackOAuth(workspace, bot_token)
        self.per_channel_post_rate = per_channel_post_rate
        self.per_channel_burst = per_channel_burst
        self.clock = clock
        self.calls: list[RecordedCall] = []
        self.rate_limited_count = 0
        self._buckets: dict[str, TokenBucket] = {}
        self._failures: defaultdict[str, deque[_Failure]] = defaultdict(deque)
        self._methods: dict[str, Callable[[_Args], JsonDict]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "users.lookupByEmail": self._users_lookup_by_email,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }
        # What slash-command and interaction handlers sent to their response_url, per url key.
        self.responses: defaultdict[str, list[JsonDict]] = defaultdict(list)
        self.app = web.Application()
        self.app.router.add_route("*", "/api/{method}", self._handle)
        self.app.router.add_get(AUTHORIZE_PATH, self.oauth.authorize)
        self.app.router.add_post("/respond/{key}", self._respond)
        self.app.router.add_post(UPLOAD_PATH, self._upload)
        self.app.router.add_get(FILES_PATH, self._download)
        self.app.router.add_get(DOWNLOAD_PATH, self._download)

    # -- test and sandbox helpers --

    @property
    def methods(self) -> frozenset[str]:
        """The Web API methods this fake answers."""
        return frozenset(self._methods) | {"oauth.v2.access"}

    @property
    def on_change(self) -> list[ChangeListener]:
        """Listeners called with a small event dict on every state change (on the event loop)."""
        return self.workspace.on_change

    def fail_next(
        self,
        method: str,
        n: int = 1,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Make the next ``n`` calls of ``method`` fail: HTTP ``status``, or 200 with ``error``."""
        if method not in self._methods:
            raise ValueError(f"unknown Slack method {method!r}")
        code = status if status is not None else (200 if error is not None else 500)
        self._failures[method].extend(_Failure(code, error, retry_after) for _ in range(n))

    def calls_to(self, method: str) -> list[RecordedCall]:
        """Recorded calls of one method, oldest first (failed ones included)."""
        return [c for c in self.calls if c.method == method]

    def clear_calls(self) -> None:
        """Forget recorded calls."""
        self.calls.clear()

    def messages_in(self, channel: str) -> list[Message]:
        """Messages visible in a channel (top level and broadcasts), oldest first."""
        return self.workspace.resolve_channel(channel).visible()

    def thread(self, channel: str, ts: str) -> list[Message]:
        """A thread's parent and replies, oldest first."""
        return self.workspace.thread(channel, ts)

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve on ``host:port`` (0 picks a free port) and yield the client ``base_url``."""
        runner = web.AppRunner(self.app)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            bound_port = runner.addresses[0][1]
            yield f"http://{host}:{bound_port}/api/"
        finally:
            await runner.cleanup()

    def response_url(self, base_url: str, key: str) -> str:
        """A response_url for an interaction; what the bot sends there lands in ``responses[key]``."""
        return base_url.removesuffix("/api/") + f"/respond/{key}"

    async def _respond(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"ok": False, "error": "invalid_json"}, status=400)
        key = request.match_info["key"]
        self.responses[key].append(body)
        for listener in list(self.workspace.on_change):
            listener({"type": "response_url", "key": key, "body": body})
        return web.json_response({"ok": True})

    # -- HTTP --

    async def _upload(self, request: web.Request) -> web.Response:
        """Step 2 of an upload: the bytes, raw (as slack_sdk sends them) or as a form's file."""
        content = bytearray()
        if request.content_type == "multipart/form-data":
            form = await request.post()
            part = form.get("file") or form.get("filename")
            data = getattr(part, "file", None)
            content += data.read() if data is not None else str(part or "").encode()
        else:
            async for chunk in request.content.iter_chunked(UPLOAD_CHUNK):
                content += chunk
                if len(content) > MAX_FILE_BYTES:
                    return web.Response(status=413, text="file too large")
        file = self.workspace.receive_upload(request.match_info["upload_id"], bytes(content))
        if file is None:
            return web.Response(status=404, text="upload url not found")
        return web.Response(text=f"OK - {len(content)}")

    async def _download(self, request: web.Request) -> web.StreamResponse:
        """A shared file's bytes (``url_private`` / ``url_private_download``)."""
        file = self.workspace.file_by_ref(request.match_info["ref"])
        if file is None or file.name != request.match_info["name"] or file.content is None:
            return web.Response(status=404, text="file not found")
        api = self.workspace.file_api(file)
        disposition = "attachment" if "/download/" in request.path else "inline"
        return web.Response(
            body=file.content,
            content_type=api["mimetype"],
            headers={"Content-Disposition": f'{disposition}; filename="{file.name}"'},
        )

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        at = self.clock()
        # Where this API is served (under /sandbox/slack in the sandbox): upload and file URLs.
        self.workspace.files_url = str(request.url.with_query(None)).rsplit("/api/", 1)[0]
        try:
            raw = await self._read_args(request)
        except SlackError as exc:
            self.calls.append(RecordedCall(method, {}, at, 200, exc.error))
            return _error_response(exc)
        if method == "oauth.v2.access":  # client credentials, not a token
            return self._oauth_access(request, raw, at)
        body_token = raw.pop("token", None)
        token = _bearer(request) or (str(body_token) if body_token else None)
        args = _decode_json_fields(raw)
        status, body, headers = self._answer(method, token, _Args(args))
        error = None if body.get("ok") else body.get("error")
        self.calls.append(
            RecordedCall(method, args, at, status, error, team=self.oauth.team_of(token))
        )
        if status == 429:
            self.rate_limited_count += 1
        return web.json_response(body, status=status, headers=headers)

    def _answer(
        self, method: str, token: str | None, args: _Args
    ) -> tuple[int, JsonDict, dict[str, str]]:
        failures = self._failures.get(method)
        if failures:
            return _failure_answer(failures.popleft())
        handler = self._methods.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        team = self.oauth.team_of(token)
        if team is None:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        wait = self._rate_limit(method, args)
        if wait > 0:
            retry_after = str(max(1, math.ceil(wait)))
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": retry_after}
        try:
            answer = handler(args)
        except SlackError as exc:
            return 200, _error_body(exc), {}
        if method == "auth.test" and team != self.workspace.team_id:  # an installed workspace
            answer = {**answer, "team_id": team, "team": self.oauth.team_names.get(team, team)}
        return 200, {"ok": True, **answer}, {}

    def _oauth_access(self, request: web.Request, raw: JsonDict, at: float) -> web.Response:
        args = {k: v for k, v in raw.items() if k != "client_secret"}
        try:
            body = {"ok": True, **self.oauth.access(request.headers.get("Authorization"), raw)}
        except SlackError as exc:
            body = _error_body(exc)
        error = None if body.get("ok") else str(body.get("error"))
        self.calls.append(RecordedCall("oauth.v2.access", args, at, 200, error))
        return web.json_response(body)

    async def _read_args(self, request: web.Request) -> JsonDict:
        values: JsonDict = dict(request.query)
        if request.method != "POST" or not request.body_exists:
            return values
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except json.JSONDecodeError:
                raise SlackError("invalid_json") from None
            if not isinstance(body, dict):
                raise SlackError("invalid_json")
            values.update(body)
        else:
            form = await request.post()
            values.update({k: v for k, v in form.items() if isinstance(v, str)})
        return values

    def _rate_limit(self, method: str, args: _Args) -> float:
        if method != "chat.postMessage" or self.per_channel_post_rate is None:
            return 0.0
        ref = args.opt("channel") or ""
        try:
            key = self.workspace.resolve_channel(ref).id
        except SlackError:
            key = ref
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.per_channel_post_rate, self.per_channel_burst, self.clock)
            self._buckets[key] = bucket
        return bucket.take()

    # -- methods --

    def _view(self, view: View) -> JsonDict:
        ws = self.workspace
        return {"view": view.to_api(team_id=ws.team_id, app_id=ws.app_id, bot_id=ws.bot_id)}

    def _auth_test(self, args: _Args) -> JsonDict:
        ws = self.workspace
        return {
            "url": f"https://{ws.domain}.slack.com/",
            "team": ws.team_name,
            "user": ws.users[ws.bot_user_id].name,
            "team_id": ws.team_id,
            "user_id": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "app_id": ws.app_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: _Args) -> JsonDict:
        message = self.workspace.post_message(
            args.req("channel"),
            text=args.opt("text"),
            blocks=args.parsed("blocks", list),
            attachments=args.parsed("attachments", list),
            thread_ts=args.opt("thread_ts"),
            reply_broadcast=args.flag("reply_broadcast"),
            metadata=args.parsed("metadata", dict),
        )
        return {"channel": message.channel, "ts": message.ts, "message": message.to_api()}

    def _chat_update(self, args: _Args) -> JsonDict:
        args.require("channel", "ts")
        message = self.workspace.update_message(
            args.req("channel"),
            args.req("ts"),
            text=args.opt("text"),
            blocks=args.parsed("blocks", list),
            attachments=args.parsed("attachments", list),
            metadata=args.parsed("metadata", dict),
        )
        return {
            "channel": message.channel,
            "ts": message.ts,
            "text": message.text,
            "message": message.to_api(),
        }

    def _chat_post_ephemeral(self, args: _Args) -> JsonDict:
        args.require("channel", "user")
        ephemeral = self.workspace.post_ephemeral(
            args.req("channel"),
            args.req("user"),
            text=args.opt("text"),
            blocks=args.parsed("blocks", list),
            attachments=args.parsed("attachments", list),
            thread_ts=args.opt("thread_ts"),
        )
        return {"message_ts": ephemeral.ts}

    def _chat_get_permalink(self, args: _Args) -> JsonDict:
        args.require("channel", "message_ts")
        channel = self.workspace.resolve_channel(args.req("channel"))
        return {
            "channel": channel.id,
            "permalink": self.workspace.permalink(channel.id, args.req("message_ts")),
        }

    def _conversations_open(self, args: _Args) -> JsonDict:
        args.require_one("users", "channel")
        channel: Channel
        existed = True
        if args.has("channel"):
            channel = self.workspace.resolve_channel(args.req("channel"))
        else:
            raw = args.values["users"]
            users = raw if isinstance(raw, list) else str(raw).split(",")
            users = [str(u).strip() for u in users if str(u).strip()]
            if len(users) != 1:
                # Group DMs are not modelled: fail loudly rather than pretend.
                raise SlackError("not_supported_in_sandbox", "[ERROR] only one user per DM")
            channel, existed = self.workspace.open_im(users[0])
        body: JsonDict = {
            "channel": channel.to_api() if args.flag("return_im") else {"id": channel.id}
        }
        if existed:
            body.update(no_op=True, already_open=True)
        return body

    def _conversations_history(self, args: _Args) -> JsonDict:
        messages = self.messages_in(args.req("channel"))
        oldest, latest = args.timestamp("oldest"), args.timestamp("latest")
        inclusive = args.flag("inclusive")
        if oldest is not None:
            messages = [m for m in messages if _after(m.ts, oldest, inclusive=inclusive)]
        if latest is not None:
            messages = [m for m in messages if _after(latest, m.ts, inclusive=inclusive)]
        newest_first = list(reversed(messages))
        limit = args.integer("limit", 100)
        return {
            "messages": [m.to_api() for m in newest_first[:limit]],
            "has_more": len(newest_first) > limit,
            "pin_count": 0,
            "response_metadata": {"next_cursor": ""},
        }

    def _conversations_replies(self, args: _Args) -> JsonDict:
        args.require("channel", "ts")
        messages = self.workspace.thread(args.req("channel"), args.req("ts"))
        limit = args.integer("limit", 1000)
        return {
            "messages": [m.to_api() for m in messages[:limit]],
            "has_more": len(messages) > limit,
            "response_metadata": {"next_cursor": ""},
        }

    def _users_lookup_by_email(self, args: _Args) -> JsonDict:
        user = self.workspace.lookup_by_email(args.req("email"))
        return {"user": user.to_api(self.workspace.team_id)}

    def _users_info(self, args: _Args) -> JsonDict:
        user = self.workspace.user(args.req("user"))
        return {"user": user.to_api(self.workspace.team_id)}

    def _usergroups_users_list(self, args: _Args) -> JsonDict:
        return {"users": self.workspace.usergroup_users(args.req("usergroup"))}

    def _trigger(self, args: _Args) -> str:
        args.require_one("trigger_id", "interactivity_pointer")
        return args.opt("trigger_id") or args.req("interactivity_pointer")

    def _views_open(self, args: _Args) -> JsonDict:
        trigger_id = self._trigger(args)
        args.require("view")
        return self._view(self.workspace.open_view(trigger_id, args.values["view"]))

    def _views_push(self, args: _Args) -> JsonDict:
        trigger_id = self._trigger(args)
        args.require("view")
        return self._view(self.workspace.push_view(trigger_id, args.values["view"]))

    def _views_update(self, args: _Args) -> JsonDict:
        args.require("view")
        args.require_one("view_id", "external_id")
        view = self.workspace.update_view(
            args.values["view"],
            view_id=args.opt("view_id"),
            external_id=args.opt("external_id"),
            hash=args.opt("hash"),
        )
        return self._view(view)

    def _files_get_upload_url_external(self, args: _Args) -> JsonDict:
        args.require("filename", "length")
        file = self.workspace.reserve_file(args.req("filename"), args.integer("length", 0))
        upload = UPLOAD_PATH.format(upload_id=file.upload_id)
        return {"upload_url": self.workspace.files_url + upload, "file_id": file.id}

    def _files_complete_upload_external(self, args: _Args) -> JsonDict:
        files = args.parsed("files", list)
        if not files or not all(isinstance(f, dict) for f in files):
            raise SlackError("invalid_arguments", "[ERROR] files must be a JSON list of objects")
        channel = args.opt("channel_id") or (args.opt("channels") or "").split(",")[0] or None
        done = self.workspace.complete_upload(
            files,
            channel=channel,
            initial_comment=args.opt("initial_comment"),
            thread_ts=args.opt("thread_ts"),
        )
        return {"files": [{"id": f.id, "title": f.title or f.name} for f in done]}

    def _views_publish(self, args: _Args) -> JsonDict:
        args.require("user_id", "view")
        view = self.workspace.publish_home(
            args.req("user_id"), args.values["view"], hash=args.opt("hash")
        )
        return self._view(view)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _decode_json_fields(raw: JsonDict) -> JsonDict:
    """Parse the JSON-string fields form-encoded requests carry (left as-is if not JSON)."""
    out = dict(raw)
    for name in _JSON_FIELDS:
        value = out.get(name)
        if isinstance(value, str) and value:
            # Bad JSON stays a string; the method reports it (invalid_blocks_format, ...).
            with contextlib.suppress(json.JSONDecodeError):
                out[name] = json.loads(value)
    return out


def _after(ts: str, other: str, *, inclusive: bool) -> bool:
    """Whether message timestamp ``ts`` comes after ``other`` (or equals it, if inclusive)."""
    key, other_key = float(ts), float(other)
    return key > other_key or (inclusive and key == other_key)


def _error_body(exc: SlackError) -> JsonDict:
    body: JsonDict = {"ok": False, "error": exc.error}
    if exc.messages:
        body["response_metadata"] = {"messages": exc.messages}
    return body


def _error_response(exc: SlackError) -> web.Response:
    return web.json_response(_error_body(exc))


def _failure_answer(failure: _Failure) -> tuple[int, JsonDict, dict[str, str]]:
    error = failure.error or _DEFAULT_FAILURE_ERRORS.get(failure.status, "internal_error")
    headers: dict[str, str] = {}
    if failure.retry_after is not None:
        headers["Retry-After"] = str(max(1, failure.retry_after))
    elif failure.status == 429:
        headers["Retry-After"] = "1"
    return failure.status, {"ok": False, "error": error}, headers
