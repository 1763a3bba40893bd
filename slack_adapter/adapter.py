"""The Slack adapter, assembled: everything the bot says in Slack on its own goes through here.

Services decide and record; the adapter builds Block Kit messages from what they return and
posts them: handoff posts (``poster``), message updates and thread notes (``messages``,
``notes``), the digest (``digest``), reminder DMs (``nudges``) and approval requests copied to
approvers' DMs (``approver_dms``). ``register`` names its outbox
handlers to the worker, and ``lanes`` keeps each channel's posts in order and in pace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient

from services.approver_dms import ApproverDmRecords, ApproverPrefs
from services.db.engine import Database
from services.digest import DigestService
from services.events import EventLog, OutboxKind
from services.handoffs import HandoffService
from services.nudges import NudgeRecords
from services.outbox import Outbox
from services.posts import PostRecords
from services.routing import RoutingConfig
from services.telemetry import NO_TELEMETRY, Telemetry
from services.worker import Worker
from slack_adapter.approver_dms import ApproverDmSender, DmCopies
from slack_adapter.digest import DigestPoster
from slack_adapter.directory import SlackDirectory
from slack_adapter.dm import NudgeSender, StandIn
from slack_adapter.messages import HandoffMessages
from slack_adapter.notes import ThreadNotes
from slack_adapter.pacing import ChannelLanes, Pacers
from slack_adapter.poster import HandoffPoster, no_retry_client

__all__ = ["SlackAdapter", "build_slack_adapter"]


@dataclass
class SlackAdapter:
    slack: AsyncWebClient  # Slack's retrying client: reads, updates, DMs
    directory: SlackDirectory
    posts: PostRecords
    pacers: Pacers
    lanes: ChannelLanes
    notes: ThreadNotes
    messages: HandoffMessages
    poster: HandoffPoster
    digest: DigestPoster
    nudges: NudgeSender
    approver_dms: ApproverDmSender  # approval requests copied to approvers' DMs, kept in step

    def register(self, worker: Worker) -> None:
        """Name the adapter's outbox handlers to the worker."""
        worker.register(OutboxKind.POST_HANDOFF, self.poster.post_handoff)
        worker.register(OutboxKind.THREAD_NOTE, self.notes.deliver)
        worker.register(OutboxKind.DIGEST, self.digest.deliver)
        worker.register(OutboxKind.NUDGE, self.nudges.deliver)
        worker.register(OutboxKind.APPROVER_DM, self.approver_dms.deliver)


def build_slack_adapter(
    *,
    db: Database,
    outbox: Outbox,
    handoffs: HandoffService,
    slack: AsyncWebClient,
    directory: SlackDirectory,
    clock: Callable[[], datetime],
    digest: DigestService,
    routing: Callable[[], RoutingConfig],
    events: EventLog | None = None,
    fallback_channel: str | None = None,
    post_rate: float = 1.0,
    poster: AsyncWebClient | None = None,
    telemetry: Telemetry = NO_TELEMETRY,
    stand_in: StandIn | None = None,
) -> SlackAdapter:
    """The adapter over ``slack``; posts go through ``poster`` (default: ``slack`` without
    automatic retries)."""
    posting = poster or no_retry_client(slack)
    posts = PostRecords(db, clock=clock, events=events)
    pacers = Pacers(post_rate)
    notes = ThreadNotes(
        db,
        outbox,
        handoffs,
        slack=slack,
        poster=posting,
        clock=clock,
        pacers=pacers,
        telemetry=telemetry,
    )
    dm_records = ApproverDmRecords(db, clock=clock, events=events)
    dm_copies = DmCopies(dm_records, slack, clock=clock)
    messages = HandoffMessages(handoffs, slack, notes, clock=clock, copies=dm_copies)
    nudges = NudgeSender(
        outbox=outbox,
        handoffs=handoffs,
        records=NudgeRecords(db, clock=clock, events=events),
        posts=posts,
        messages=messages,
        slack=slack,
        directory=directory,
        routing=routing,
        clock=clock,
        stand_in=stand_in,
    )
    return SlackAdapter(
        slack=slack,
        directory=directory,
        posts=posts,
        pacers=pacers,
        lanes=ChannelLanes(posts, pacers),
        notes=notes,
        messages=messages,
        poster=HandoffPoster(
            outbox=outbox,
            handoffs=handoffs,
            posts=posts,
            slack=slack,
            poster=posting,
            directory=directory,
            messages=messages,
            pacers=pacers,
            clock=clock,
            fallback_channel=fallback_channel,
            telemetry=telemetry,
        ),
        digest=DigestPoster(digest, outbox, slack, clock=clock),
        nudges=nudges,
        approver_dms=ApproverDmSender(
            outbox=outbox,
            handoffs=handoffs,
            records=dm_copies.records,
            prefs=ApproverPrefs(db, clock=clock),
            slack=slack,
            routing=routing,
            clock=clock,
            copies=dm_copies,
        ),
    )
