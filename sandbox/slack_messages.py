"""Messages and threads in a loopback Slack workspace: post, update, ephemeral, permalink, thread.

Posts are checked as Slack checks them (``validate_blocks``, ``no_text``); message text is cut
where Slack cuts it.
"""

from __future__ import annotations

from sandbox.slack_objects import Ephemeral, JsonDict, Message, SlackError
from sandbox.slack_store import SlackStore
from sandbox.slack_validate import MESSAGE_BLOCK_LIMIT, validate_blocks

__all__ = ["TEXT_LIMIT", "SlackMessages"]

TEXT_LIMIT = 40_000  # Slack truncates message text after this many characters


class SlackMessages(SlackStore):
    """The ``chat.*`` and ``conversations.replies`` side of the workspace."""

    def post_message(
        self,
        channel: str,
        *,
        text: str | None = None,
        blocks: object = None,
        attachments: list[JsonDict] | None = None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        metadata: JsonDict | None = None,
        user: str | None = None,
    ) -> Message:
        """Post a message (as the bot unless ``user`` is given), top level or in a thread."""
        target = self.resolve_channel(channel)
        checked = self._content(text, blocks, attachments)
        parent: Message | None = None
        if thread_ts is not None:
            parent = target.messages.get(thread_ts)
            if parent is None:
                raise SlackError("thread_not_found")
            if parent.is_reply and parent.thread_ts is not None:
                parent = target.messages[parent.thread_ts]
        author = user or self.bot_user_id
        message = Message(
            channel=target.id,
            ts=self.next_ts(),
            text=(text or "")[:TEXT_LIMIT],
            blocks=checked,
            user=author,
            bot_id=self.bot_id if author == self.bot_user_id else None,
            thread_ts=parent.ts if parent is not None else None,
            reply_broadcast=reply_broadcast and parent is not None,
            metadata=metadata or None,
            attachments=list(attachments or []),
        )
        if parent is not None:
            parent.thread_ts = parent.ts
            parent.replies.append(message.ts)
        target.messages[message.ts] = message
        self._notify(
            {
                "type": "message_posted",
                "channel": target.id,
                "ts": message.ts,
                "thread_ts": message.thread_ts,
            }
        )
        return message

    def update_message(
        self,
        channel: str,
        ts: str,
        *,
        text: str | None = None,
        blocks: object = None,
        attachments: list[JsonDict] | None = None,
        metadata: JsonDict | None = None,
        user: str | None = None,
    ) -> Message:
        """Replace a message's text and blocks (metadata is kept unless given), as Slack does."""
        target = self.resolve_channel(channel)
        message = target.messages.get(ts)
        if message is None:
            raise SlackError("message_not_found")
        author = user or self.bot_user_id
        if message.user != author:
            raise SlackError("cant_update_message")
        checked = self._content(text, blocks, attachments)
        message.text = (text or "")[:TEXT_LIMIT]
        message.blocks = checked
        message.attachments = list(attachments or [])
        if metadata is not None:
            message.metadata = metadata or None
        message.edited = {"user": author, "ts": self.next_ts()}
        self._notify({"type": "message_updated", "channel": target.id, "ts": ts})
        return message

    def post_ephemeral(
        self,
        channel: str,
        user: str,
        *,
        text: str | None = None,
        blocks: object = None,
        attachments: list[JsonDict] | None = None,
        thread_ts: str | None = None,
    ) -> Ephemeral:
        """Show a message to one member in a channel."""
        target = self.resolve_channel(channel)
        self.user(user)
        checked = self._content(text, blocks, attachments)
        ephemeral = Ephemeral(
            target.id, user, self.next_ts(), (text or "")[:TEXT_LIMIT], checked, thread_ts
        )
        self.ephemerals.append(ephemeral)
        self._notify(
            {"type": "ephemeral_posted", "channel": target.id, "user": user, "ts": ephemeral.ts}
        )
        return ephemeral

    def _content(
        self, text: str | None, blocks: object, attachments: list[JsonDict] | None
    ) -> list[JsonDict]:
        checked = [] if blocks is None else validate_blocks(blocks, limit=MESSAGE_BLOCK_LIMIT)
        if not text and not checked and not attachments:
            raise SlackError("no_text")
        return checked

    def permalink(self, channel: str, ts: str) -> str:
        """The message's web link, with ``thread_ts`` for replies like Slack's."""
        message = self.message(channel, ts)
        link = f"https://{self.domain}.slack.com/archives/{message.channel}/p{ts.replace('.', '')}"
        if message.is_reply:
            link += f"?thread_ts={message.thread_ts}&cid={message.channel}"
        return link

    def thread(self, channel: str, ts: str) -> list[Message]:
        """Parent then replies, oldest first, else ``thread_not_found``."""
        target = self.resolve_channel(channel)
        parent = target.messages.get(ts)
        if parent is None:
            raise SlackError("thread_not_found")
        if parent.is_reply and parent.thread_ts is not None:
            parent = target.messages[parent.thread_ts]
        return [parent, *(target.messages[r] for r in parent.replies)]
