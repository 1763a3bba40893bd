"""A loopback Slack workspace: the store, its messages and its views, and the demo seed.

``SlackWorkspace`` is the state behind ``sandbox.slack_api``; ``SlackWorkspace.demo()`` seeds the
plausible Acme finance workspace whose ids are in ``Demo``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sandbox.slack_files import SlackFiles
from sandbox.slack_messages import SlackMessages
from sandbox.slack_objects import Demo
from sandbox.slack_views import SlackViews

__all__ = ["SlackWorkspace"]


class SlackWorkspace(SlackMessages, SlackViews, SlackFiles):
    """State behind the loopback Slack API: pure, synchronous, observable via ``on_change``."""

    @classmethod
    def demo(cls, *, clock: Callable[[], float] = time.time) -> SlackWorkspace:
        """A plausible Acme finance workspace (ids in ``Demo``)."""
        ws = cls(clock=clock)
        for channel_id, name in (
            (Demo.FINANCE, "finance"),
            (Demo.DISPUTES, "finance-disputes"),
            (Demo.COLLECTIONS_CHANNEL, "finance-collections"),
            (Demo.ESCALATIONS, "finance-escalations"),
            (Demo.BILLING_OPS_CHANNEL, "billing-ops"),
        ):
            ws.add_channel(channel_id, name)
        people = (
            (Demo.APPROVER_1, "ana", "Ana Lopez", "ana@acme.example", "Europe/Madrid", 3600),
            (Demo.APPROVER_2, "ben", "Ben Okoro", "ben@acme.example", "Africa/Lagos", 3600),
            (Demo.FIN_LEAD, "farah", "Farah Nasser", "lead@acme.example", "Europe/Berlin", 3600),
            (Demo.OUTSIDER, "olga", "Olga Agent", "olga@agency.example", "Europe/Warsaw", 3600),
            (Demo.AP_LEAD, "arjun", "Arjun Patel", "ap-lead@acme.example", "Asia/Kolkata", 19800),
            (
                Demo.BILLING_OPS,
                "bea",
                "Bea Lindqvist",
                "billing-ops@acme.example",
                "America/New_York",
                -18000,
            ),
            (
                Demo.COLLECTIONS,
                "carlos",
                "Carlos Mendes",
                "collections@acme.example",
                "America/Sao_Paulo",
                -10800,
            ),
        )
        for user_id, name, real_name, email, tz, offset in people:
            ws.add_user(user_id, name, real_name, email=email, tz=tz, tz_offset=offset)
        ws.add_usergroup(
            Demo.APPROVERS_GROUP, "finance-approvers", [Demo.APPROVER_1, Demo.APPROVER_2]
        )
        finance = [
            Demo.APPROVER_1,
            Demo.APPROVER_2,
            Demo.FIN_LEAD,
            Demo.AP_LEAD,
            Demo.BILLING_OPS,
            Demo.COLLECTIONS,
        ]
        ws.add_usergroup(Demo.FINANCE_GROUP, "finance", finance)
        return ws
