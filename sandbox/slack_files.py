"""Files in a loopback Slack workspace, the way ``files_upload_v2`` sends them.

Slack's current upload is three steps: ``files.getUploadURLExternal`` reserves a file id and an
upload URL for a name and a length; the bytes are POSTed to that URL; and
``files.completeUploadExternal`` finishes the upload and shares the file in a channel (a message
with the file, and the initial comment as its text). Anything else (the old ``files.upload``) is
not answered.
"""

from __future__ import annotations

import secrets

from sandbox.slack_objects import JsonDict, Message, SlackError, SlackFile
from sandbox.slack_store import SlackStore

__all__ = ["MAX_FILE_BYTES", "SlackFiles"]

MAX_FILE_BYTES = 1024**3  # Slack's limit: 1 GB


class SlackFiles(SlackStore):
    """The ``files.*`` side of the workspace."""

    def reserve_file(self, filename: str, length: int, *, user: str | None = None) -> SlackFile:
        """Step 1: a file id and the secret of its upload URL."""
        if not filename.strip():
            raise SlackError("invalid_arguments", "[ERROR] missing required field: filename")
        if length < 1 or length > MAX_FILE_BYTES:
            raise SlackError("invalid_arguments", "[ERROR] length must be between 1 and 1 GB")
        file = SlackFile(
            id=f"F{self._next_serial():010d}",
            upload_id=secrets.token_urlsafe(16),
            name=filename.strip()[:255],
            length=length,
            user=user or self.bot_user_id,
            created=int(self.clock()),
        )
        self.files[file.id] = file
        return file

    def receive_upload(self, upload_id: str, content: bytes) -> SlackFile | None:
        """Step 2: the bytes sent to an upload URL (None: no such URL, or already completed)."""
        for file in self.files.values():
            if file.upload_id == upload_id and not file.completed:
                file.content = content
                return file
        return None

    def complete_upload(
        self,
        files: list[JsonDict],
        *,
        channel: str | None = None,
        initial_comment: str | None = None,
        thread_ts: str | None = None,
    ) -> list[SlackFile]:
        """Step 3: finish the uploads and, given a channel, share them there in one message."""
        if not files:
            raise SlackError("invalid_arguments", "[ERROR] files must list at least one file")
        done: list[SlackFile] = []
        for entry in files:
            file = self.files.get(str(entry.get("id") or ""))
            if file is None or file.content is None:
                raise SlackError("file_not_found")
            if len(file.content) != file.length:
                raise SlackError("file_upload_size_mismatch")
            done.append(file)
        target = self.resolve_channel(channel) if channel else None
        for file, entry in zip(done, files, strict=True):
            file.completed = True
            if entry.get("title"):
                file.title = str(entry["title"])[:255]
            if target is not None and target.id not in file.channels:
                file.channels.append(target.id)
        if target is not None:
            self._share(target.id, done, initial_comment or "", thread_ts)
        return done

    def file_api(self, file: SlackFile) -> JsonDict:
        """The file as Slack's API shows it."""
        return file.to_api(team_id=self.team_id, files_url=self.files_url)

    def file_by_ref(self, ref: str) -> SlackFile | None:
        """A shared file by its ``files-pri`` reference (``{team}-{file id}``)."""
        team, _, file_id = ref.partition("-")
        file = self.files.get(file_id)
        if team != self.team_id or file is None or not file.completed:
            return None
        return file

    def _share(
        self, channel: str, files: list[SlackFile], text: str, thread_ts: str | None
    ) -> None:
        target = self.resolve_channel(channel)
        parent = target.messages.get(thread_ts) if thread_ts else None
        if thread_ts and parent is None:
            raise SlackError("thread_not_found")
        message = Message(
            channel=target.id,
            ts=self.next_ts(),
            text=text,
            user=self.bot_user_id,
            bot_id=self.bot_id,
            thread_ts=parent.ts if parent is not None else None,
            files=[self.file_api(f) for f in files],
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
