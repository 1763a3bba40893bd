"""A small page object for the sandbox page, so the journeys read like what a person does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Locator, Page, expect

from sandbox.slack_state import Demo

__all__ = ["SandboxPage", "Sent"]


@dataclass(frozen=True)
class Sent:
    """What the DialNexa panel reported for one handoff."""

    status: int
    call_id: str
    handoff_id: str


class SandboxPage:
    """Drives ``/sandbox`` the way a visitor would: pick a person, click, type."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.url = url

    def open(self, user: str = Demo.APPROVER_1, channel: str = Demo.FINANCE) -> SandboxPage:
        """Load the page as ``user`` looking at ``channel``."""
        self.page.goto(f"{self.url}?as={user}&c={channel}")
        expect(self.page.locator("body[data-ready=true]")).to_be_attached()
        return self

    def act_as(self, user: str) -> None:
        """Switch person with the picker."""
        self.page.select_option("#acting-user", user)
        expect(self.page.locator(f"body[data-me={user}]")).to_be_attached()

    def go(self, channel: str) -> None:
        """Open a channel from the sidebar."""
        self.page.locator(f"[data-channel-id={channel}]").click()
        expect(self.page.locator(f"[data-channel-id={channel}].active")).to_be_visible()

    def open_app(self, tab: str = "Messages") -> None:
        """Open the bot's app entry (its Home tab or the DMs with it)."""
        self.page.locator("[data-app=finance-bot]").click()
        self.page.get_by_role("tab", name=tab).click()

    # -- DialNexa panel --

    def send_handoff(
        self,
        example: str | None = None,
        *,
        body: dict[str, Any] | None = None,
        new_call: bool = True,
    ) -> Sent:
        """Send an example (or ``body``) from the DialNexa panel; return the bot's answer."""
        if example is not None:
            self.page.select_option("#example-select", example)
        if body is not None:
            self.page.fill("#handoff-json", json.dumps(body))
        self.page.locator("#as-new-call").set_checked(new_call)
        self.page.locator("#handoff-result").evaluate("node => node.replaceChildren()")
        self.page.click("#send-handoff")
        result = self.page.locator("#handoff-result .answer")
        expect(result).to_be_visible()
        return Sent(
            status=int(result.get_attribute("data-status") or 0),
            call_id=result.get_attribute("data-call-id") or "",
            handoff_id=result.get_attribute("data-handoff-id") or "",
        )

    # -- the timeline --

    def message(self, text: str) -> Locator:
        """The one top-level message in the open channel that contains ``text``."""
        found = self.page.locator("#timeline [data-testid=message]", has_text=text)
        expect(found).to_have_count(1)
        return found

    def ephemerals(self) -> Locator:
        """The acting person's ephemeral messages in the open channel."""
        return self.page.locator("#timeline [data-testid=ephemeral]")

    def click(self, message: Locator, button: str, *, confirm: str | None = None) -> None:
        """Click a button on a message, answering its confirm dialog if it has one."""
        message.get_by_role("button", name=button, exact=True).click()
        if confirm is not None:
            dialog = self.page.get_by_role("alertdialog")
            expect(dialog).to_be_visible()
            dialog.get_by_role("button", name=confirm, exact=True).click()
            expect(dialog).to_have_count(0)

    def approve(
        self, message: Locator, button: str = "Approve", *, says: str | None = None
    ) -> None:
        """Click Approve; the bot checks the click, then its modal says what it will do: submit."""
        message.get_by_role("button", name=button, exact=True).click()
        modal = self.modal("Approve handoff")
        if says is not None:
            expect(modal).to_contain_text(says)
        self.submit(modal)
        expect(self.page.get_by_role("dialog")).to_have_count(0)

    def thread(self, message: Locator) -> Locator:
        """Open a message's thread and return the thread pane."""
        message.get_by_test_id("replies").click()
        pane = self.page.locator("#thread-body")
        expect(pane).to_be_visible()
        return pane

    def close_thread(self) -> None:
        """Close the thread pane."""
        self.page.locator("#thread-close").click()

    def type(self, text: str) -> None:
        """Type a message or slash command in the message box and send it."""
        self.page.fill("#composer-input", text)
        self.page.press("#composer-input", "Enter")

    # -- modals --

    def modal(self, title: str) -> Locator:
        """The open modal, checked by its title."""
        dialog = self.page.get_by_role("dialog")
        expect(dialog.get_by_role("heading", name=title)).to_be_visible()
        return dialog

    def submit(self, modal: Locator) -> None:
        """Press the modal's submit button."""
        modal.locator(".modal-submit").click()
