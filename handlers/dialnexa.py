"""POST /dialnexa/handoffs: the signed finance handoff webhook.

When one deployment serves several Slack workspaces, a delivery names its workspace with the
``X-Slack-Team-Id`` header or the ``?team=T…`` query parameter (neither is covered by the
signature, which signs the body); without either it goes to the only installed workspace, and is
refused (422, naming ``team``) when several are installed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import cast

from aiohttp import web

from services.db.engine import DatabaseUnavailable
from services.intake import (
    MAX_BODY_BYTES,
    FieldProblem,
    HandoffIntake,
    IntakeError,
    parse_delivery,
)
from services.telemetry import NO_TELEMETRY, Telemetry
from services.workspaces import TeamResolver, WorkspaceUnknown

__all__ = ["PATH", "TEAM_HEADER", "TEAM_PARAMETER", "register"]

logger = logging.getLogger(__name__)

PATH = "/dialnexa/handoffs"
TEAM_HEADER = "X-Slack-Team-Id"
TEAM_PARAMETER = "team"


async def _team(request: web.Request, teams: TeamResolver | None) -> str | None:
    """The installed workspace a delivery is for (None: single-token mode)."""
    if teams is None:
        return None
    named = request.headers.get(TEAM_HEADER) or request.query.get(TEAM_PARAMETER) or None
    try:
        return await teams.resolve(named.strip() if named else None)
    except WorkspaceUnknown as exc:
        raise IntakeError(
            422,
            "unknown_team",
            f"{exc} (header {TEAM_HEADER} or query parameter {TEAM_PARAMETER})",
            [FieldProblem(TEAM_PARAMETER, str(exc))],
        ) from None


async def _read_limited(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise IntakeError(413, "payload_too_large", f"body exceeds {MAX_BODY_BYTES} bytes")
    # read(n) returns what has arrived so far, not n bytes: read on to the end of the body.
    body = bytearray()
    while chunk := await request.content.read(MAX_BODY_BYTES + 1 - len(body)):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise IntakeError(413, "payload_too_large", f"body exceeds {MAX_BODY_BYTES} bytes")
    return bytes(body)


def make_handler(
    intake: HandoffIntake,
    secret: str,
    *,
    on_accepted: Callable[[], None] = lambda: None,
    now: Callable[[], float] = time.time,
    teams: TeamResolver | None = None,
) -> Callable[[web.Request], object]:
    """The aiohttp handler for one intake service and webhook secret."""

    async def handle(request: web.Request) -> web.Response:
        try:
            body = await _read_limited(request)
            handoff = parse_delivery(
                body=body,
                content_type=request.headers.get("Content-Type"),
                timestamp=request.headers.get("X-DialNexa-Timestamp"),
                signature=request.headers.get("X-DialNexa-Signature"),
                secret=secret,
                now=now(),
            )
            team_id = await _team(request, teams)
            result = await intake.store(handoff, team_id=team_id)
        except IntakeError as exc:
            if exc.status == 401 or exc.error == "unknown_team":
                logger.warning("refused DialNexa delivery: %s", exc.message)
            return web.json_response(exc.to_json(), status=exc.status)
        except DatabaseUnavailable:
            return web.json_response(
                {"error": "unavailable", "message": "storage is busy; retry shortly"},
                status=503,
                headers={"Retry-After": "5"},
            )
        if result.duplicate:
            return web.json_response(
                {"handoff_id": result.handoff_id, "status": "accepted", "duplicate": True},
                status=200,
            )
        on_accepted()
        return web.json_response(
            {"handoff_id": result.handoff_id, "status": "accepted"}, status=202
        )

    return handle


def register(
    web_app: web.Application,
    intake: HandoffIntake,
    secret: str,
    *,
    on_accepted: Callable[[], None] = lambda: None,
    teams: TeamResolver | None = None,
    telemetry: Telemetry = NO_TELEMETRY,
) -> None:
    """Add the webhook route; ``on_accepted`` wakes the poster after a new handoff is stored;
    ``teams`` names the workspace of each delivery when several are installed; ``telemetry``
    counts every answer by its HTTP status."""
    handler = cast(
        Callable[[web.Request], Awaitable[web.StreamResponse]],
        make_handler(intake, secret, on_accepted=on_accepted, teams=teams),
    )

    async def counted(request: web.Request) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            telemetry.intake_answered(exc.status)
            raise
        except Exception:
            telemetry.intake_answered(500)  # aiohttp answers an unhandled error with a 500
            raise
        telemetry.intake_answered(response.status)
        return response

    web_app.router.add_post(PATH, counted)
