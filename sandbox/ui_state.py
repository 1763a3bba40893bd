"""What the sandbox page shows one person: their channels, DMs, ephemerals, modals and Home tab."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from sandbox.plisio import FakeInvoice, FakePlisio
from sandbox.slack_objects import Channel, JsonDict, Message, SlackError, View
from sandbox.slack_workspace import SlackWorkspace
from services.routing import RoutingConfig

__all__ = ["people", "snapshot"]

ROLE_ORDER = ("approver", "finance lead", "finance", "outsider")


def _routed(workspace: SlackWorkspace, routing: RoutingConfig) -> dict[str, list[str]]:
    """Channel id -> what the routing sends there (workflows, escalations)."""
    refs: dict[str, str] = {"default": routing.channels.default}
    if routing.channels.escalation:
        refs["escalations"] = routing.channels.escalation
    for name, value in (routing.channels.model_extra or {}).items():
        if value:
            refs[name.replace("_", " ")] = str(value)
    out: dict[str, list[str]] = {}
    for what, ref in refs.items():
        try:
            channel = workspace.resolve_channel(ref)
        except SlackError:
            continue
        out.setdefault(channel.id, []).append(what)
    return out


def _roles(workspace: SlackWorkspace, routing: RoutingConfig, user_id: str) -> list[str]:
    def members(groups: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for group in groups:
            if group in workspace.usergroups:
                found.update(workspace.usergroups[group].users)
        return found

    roles = []
    if user_id in routing.approvers.users or user_id in members(routing.approvers.usergroups):
        roles.append("approver")
    if user_id == routing.mentions.finance_lead:
        roles.append("finance lead")
    finance = routing.finance
    if not roles and (user_id in finance.users or user_id in members(finance.usergroups)):
        roles.append("finance")  # [finance]: may look things up, escalate, follow up
    return roles or ["outsider"]


def people(workspace: SlackWorkspace, routing: RoutingConfig) -> list[JsonDict]:
    """Everyone the visitor can act as, approvers first, each with their roles."""
    found = [
        {
            "id": u.id,
            "name": u.name,
            "real_name": u.real_name,
            "roles": _roles(workspace, routing, u.id),
        }
        for u in workspace.users.values()
        if not u.is_bot
    ]
    found.sort(key=lambda p: (ROLE_ORDER.index(p["roles"][0]), p["real_name"]))
    return found


def _message(workspace: SlackWorkspace, message: Message) -> JsonDict:
    return {
        "ts": message.ts,
        "user": message.user,
        "is_bot": message.bot_id is not None,
        "text": message.text,
        "blocks": message.blocks,
        "thread_ts": message.thread_ts,
        "reply_count": len(message.replies),
        "broadcast": message.reply_broadcast,
        "edited": message.edited is not None,
        "files": [_file(f) for f in message.files],
    }


def _file(file: JsonDict) -> JsonDict:
    # The page links to the download on its own host (the bot may reach the API by another).
    url = str(file.get("url_private_download") or "")
    return {
        "name": file.get("name"),
        "title": file.get("title"),
        "size": file.get("size"),
        "download": urlsplit(url).path if url else None,
    }


def _channel(workspace: SlackWorkspace, channel: Channel, routed: list[str]) -> JsonDict:
    top = channel.visible()
    threads = {
        m.ts: [_message(workspace, channel.messages[r]) for r in m.replies]
        for m in top
        if m.replies
    }
    return {
        "id": channel.id,
        "name": channel.name,
        "is_im": channel.is_im,
        "receives": routed,
        "messages": [_message(workspace, m) for m in top],
        "threads": threads,
    }


def _view(workspace: SlackWorkspace, view: View) -> JsonDict:
    return view.to_api(team_id=workspace.team_id, app_id=workspace.app_id, bot_id=workspace.bot_id)


def _modal(workspace: SlackWorkspace, user_id: str) -> JsonDict | None:
    mine = [stack for stack in workspace.open_modals() if stack and stack[0].user == user_id]
    if not mine:
        return None
    stack = mine[-1]
    return {**_view(workspace, stack[-1]), "depth": len(stack)}


def _invoice(invoice: FakeInvoice) -> JsonDict:
    return {
        "txn_id": invoice.txn_id,
        "order_number": invoice.order_number,
        "order_name": invoice.order_name,
        "amount": str(invoice.amount),
        "currency": invoice.currency,
        "source_amount": str(invoice.source_amount),
        "source_currency": invoice.source_currency,
        "status": invoice.status,
        "email": invoice.email,
        "invoice_url": invoice.invoice_url,
        "created_at": invoice.created_at,
    }


def snapshot(
    workspace: SlackWorkspace,
    plisio: FakePlisio,
    routing: RoutingConfig,
    user_id: str,
    *,
    version: int,
) -> JsonDict:
    """Everything the page renders for ``user_id``, as JSON."""
    routed = _routed(workspace, routing)
    dm, _ = workspace.open_im(user_id)
    channels = [c for c in workspace.channels.values() if not c.is_im]
    channels.sort(key=lambda c: c.name)
    ephemerals = [
        {
            "channel": e.channel,
            "ts": e.ts,
            "text": e.text,
            "blocks": e.blocks,
            "thread_ts": e.thread_ts,
        }
        for e in workspace.ephemerals
        if e.user == user_id
    ]
    home_id = workspace.home_views.get(user_id)
    invoices = sorted(plisio.invoices.values(), key=lambda i: i.seq, reverse=True)
    return {
        "version": version,
        "team": {"id": workspace.team_id, "name": workspace.team_name},
        "bot": {
            "user_id": workspace.bot_user_id,
            "name": workspace.users[workspace.bot_user_id].real_name,
        },
        "me": user_id,
        "people": people(workspace, routing),
        "users": {
            u.id: {"name": u.name, "real_name": u.real_name, "is_bot": u.is_bot, "tz": u.tz}
            for u in workspace.users.values()
        },
        "usergroups": {
            g.id: {"handle": g.handle, "name": g.name} for g in workspace.usergroups.values()
        },
        "channels": [_channel(workspace, c, routed.get(c.id, [])) for c in channels],
        "dm": _channel(workspace, dm, []),
        "ephemerals": ephemerals,
        "modal": _modal(workspace, user_id),
        "home": _view(workspace, workspace.views[home_id]) if home_id else None,
        "invoices": [_invoice(i) for i in invoices],
    }
