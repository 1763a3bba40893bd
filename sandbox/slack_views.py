"""Modals and App Home in a loopback Slack workspace: trigger ids, view stacks, hashes.

Trigger ids are single-use and expire after three seconds, modals stack at most three deep, and a
stale ``hash`` is refused with ``hash_conflict``, as in Slack.
"""

from __future__ import annotations

from sandbox.slack_objects import JsonDict, SlackError, Trigger, View
from sandbox.slack_store import SlackStore
from sandbox.slack_validate import validate_view

__all__ = ["MODAL_STACK_LIMIT", "TRIGGER_TTL_SECONDS", "SlackViews"]

TRIGGER_TTL_SECONDS = 3.0
MODAL_STACK_LIMIT = 3


class SlackViews(SlackStore):
    """The ``views.*`` side of the workspace."""

    def issue_trigger_id(self, user: str | None, *, view_id: str | None = None) -> str:
        """A single-use trigger id for ``user`` (from inside ``view_id``), valid for 3 seconds."""
        trigger_id = f"{self._next_serial()}.{int(self.clock())}.sandbox"
        self._triggers[trigger_id] = Trigger(user, view_id, self.clock())
        return trigger_id

    def _exchange(self, trigger_id: str) -> Trigger:
        # Unknown ids (made up by a test) are accepted; issued ones are single-use and expire.
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            return Trigger(None, None, self.clock())
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self.clock() - trigger.issued_at > TRIGGER_TTL_SECONDS:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger

    def _new_hash(self) -> str:
        return f"{int(self.clock())}.{self._next_serial():08x}"

    def _build_view(self, payload: JsonDict, view_id: str, user: str | None) -> View:
        return View(
            id=view_id,
            type=str(payload["type"]),
            user=user,
            hash=self._new_hash(),
            blocks=list(payload.get("blocks", [])),
            callback_id=str(payload.get("callback_id", "")),
            private_metadata=str(payload.get("private_metadata", "")),
            external_id=str(payload.get("external_id", "")),
            title=payload.get("title"),
            submit=payload.get("submit"),
            close=payload.get("close"),
            notify_on_close=bool(payload.get("notify_on_close", False)),
            clear_on_close=bool(payload.get("clear_on_close", False)),
        )

    def _register(self, view: View) -> None:
        if view.external_id and any(
            v.external_id == view.external_id and v.id != view.id for v in self.views.values()
        ):
            raise SlackError("duplicate_external_id")
        self.views[view.id] = view

    def open_view(self, trigger_id: str, payload: object) -> View:
        """Open a modal as the root of a new stack."""
        checked = validate_view(payload, expect_type="modal")
        trigger = self._exchange(trigger_id)
        view = self._build_view(checked, f"V{self._next_serial():08d}", trigger.user)
        view.root_view_id = view.id
        self._register(view)
        self._modal_stacks.append([view.id])
        self._notify({"type": "view_opened", "view_id": view.id, "user": view.user})
        return view

    def push_view(self, trigger_id: str, payload: object) -> View:
        """Push a modal on the stack the trigger came from (else the user's latest stack)."""
        checked = validate_view(payload, expect_type="modal")
        trigger = self._exchange(trigger_id)
        stack = self._stack_for(trigger)
        if len(stack) >= MODAL_STACK_LIMIT:
            raise SlackError("push_limit_reached")
        top = self.views[stack[-1]]
        view = self._build_view(checked, f"V{self._next_serial():08d}", top.user)
        view.root_view_id = top.root_view_id
        view.previous_view_id = top.id
        self._register(view)
        stack.append(view.id)
        self._notify({"type": "view_pushed", "view_id": view.id, "user": view.user})
        return view

    def _stack_for(self, trigger: Trigger) -> list[str]:
        for stack in reversed(self._modal_stacks):
            if trigger.view_id is not None and trigger.view_id in stack:
                return stack
        for stack in reversed(self._modal_stacks):
            if trigger.user is None or self.views[stack[0]].user == trigger.user:
                return stack
        raise SlackError("not_found")

    def update_view(
        self,
        payload: object,
        *,
        view_id: str | None = None,
        external_id: str | None = None,
        hash: str | None = None,
    ) -> View:
        """Replace a view's content, refusing a stale ``hash`` with ``hash_conflict``."""
        current = self._find_view(view_id, external_id)
        checked = validate_view(payload, expect_type=current.type)
        if hash is not None and hash != current.hash:
            raise SlackError("hash_conflict")
        view = self._build_view(checked, current.id, current.user)
        view.root_view_id = current.root_view_id
        view.previous_view_id = current.previous_view_id
        view.state = current.state
        if not view.external_id:
            view.external_id = current.external_id
        self._register(view)
        self._notify({"type": "view_updated", "view_id": view.id, "user": view.user})
        return view

    def _find_view(self, view_id: str | None, external_id: str | None) -> View:
        if view_id is not None:
            found = self.views.get(view_id)
        else:
            found = next((v for v in self.views.values() if v.external_id == external_id), None)
        if found is None:
            raise SlackError("not_found")
        return found

    def publish_home(self, user_id: str, payload: object, *, hash: str | None = None) -> View:
        """Publish a member's Home tab, keeping its view id across publishes."""
        self.user(user_id)
        checked = validate_view(payload, expect_type="home")
        current_id = self.home_views.get(user_id)
        current = self.views.get(current_id) if current_id is not None else None
        if hash is not None and (current is None or hash != current.hash):
            raise SlackError("hash_conflict")
        view_id = current.id if current is not None else f"V{self._next_serial():08d}"
        view = self._build_view(checked, view_id, user_id)
        self._register(view)
        self.home_views[user_id] = view.id
        self._notify({"type": "view_published", "view_id": view.id, "user": user_id})
        return view

    def close_view(self, view_id: str) -> None:
        """Close a modal as its user would (the top view; the whole stack if it is the root)."""
        for stack in self._modal_stacks:
            if view_id in stack:
                closing = stack[stack.index(view_id) :]
                del stack[stack.index(view_id) :]
                if not stack:
                    self._modal_stacks.remove(stack)
                for closed in closing:
                    self._notify({"type": "view_closed", "view_id": closed})
                return
        raise SlackError("not_found")

    def open_modals(self) -> list[list[View]]:
        """The open modal stacks, root first in each, most recently opened stack last."""
        return [[self.views[v] for v in stack] for stack in self._modal_stacks]
