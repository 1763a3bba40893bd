"""Each writable vendor double's dump/load round trip, and the world snapshot that carries them."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx

from sandbox.google import FakeGoogle
from sandbox.google_drive_gmail import FakeDriveGmail, GmailMessage
from sandbox.plisio import FakePlisio
from sandbox.quickbooks import FakeQuickBooks
from sandbox.slack_state import SlackWorkspace
from sandbox.snapshot import Persistent, dump_world, load_world
from sandbox.zendesk import FakeZendesk

TICKET = {
    "ticket": {
        "subject": "Refund: Harbor & Finch",
        "comment": {"body": "Finance handoff", "public": False},
        "requester": {"email": "ap@harborfinch.example"},
        "external_id": "call-1",
        "tags": ["dialnexa"],
    }
}


def stored(double: Persistent) -> dict[str, Any]:
    """What the sandbox database holds for ``double`` (through JSON, as saved)."""
    data: dict[str, Any] = json.loads(json.dumps(double.dump()))
    return data


async def test_zendesk_keeps_tickets_notes_and_idempotency_keys() -> None:
    zendesk = FakeZendesk("bot@example.com", "token")
    async with zendesk.running() as url:
        auth = httpx.BasicAuth("bot@example.com/token", "token")
        async with httpx.AsyncClient(base_url=url, auth=auth) as http:
            first = await http.post(
                "/api/v2/tickets.json", json=TICKET, headers={"Idempotency-Key": "k1"}
            )
            ticket_id = first.json()["ticket"]["id"]
            data = stored(zendesk)

    again = FakeZendesk("bot@example.com", "token")
    again.load(data)
    assert again.snapshot() == zendesk.snapshot()
    async with again.running() as url, httpx.AsyncClient(base_url=url, auth=auth) as http:
        # A retry after the restart finds the same ticket; a new one gets a new id.
        retry = await http.post(
            "/api/v2/tickets.json", json=TICKET, headers={"Idempotency-Key": "k1"}
        )
        assert retry.headers["x-idempotency-lookup"] == "hit"
        assert retry.json()["ticket"]["id"] == ticket_id
        other = await http.post("/api/v2/tickets.json", json={**TICKET})
        assert other.json()["ticket"]["id"] > ticket_id
    assert len(again.tickets) == 2
    again.reset()
    assert stored(again)["tickets"] == []


async def _quickbooks_writes(qb: FakeQuickBooks, url: str) -> tuple[str, str]:
    """Refresh the token (a rotation), then create a customer and an invoice; returns the
    rotated refresh token and the invoice's id."""
    async with httpx.AsyncClient(base_url=url) as http:
        token = await http.post(
            "/oauth2/v1/tokens/bearer",
            data={"grant_type": "refresh_token", "refresh_token": "RT1-seed"},
            auth=("app", "secret"),
        )
        tokens = token.json()
        bearer = {"Authorization": "Bearer " + tokens["access_token"]}
        base = f"/v3/company/{qb.realm}"
        customer = await http.post(
            f"{base}/customer",
            params={"minorversion": "75", "requestid": "r1"},
            json={"DisplayName": "Harbor & Finch"},
            headers=bearer,
        )
        line = {
            "DetailType": "SalesItemLineDetail",
            "Amount": 4200.10,
            "SalesItemLineDetail": {"Qty": 1, "UnitPrice": 4200.10},
        }
        invoice = await http.post(
            f"{base}/invoice",
            params={"minorversion": "75", "requestid": "r2"},
            content=json.dumps(
                {"CustomerRef": {"value": customer.json()["Customer"]["Id"]}, "Line": [line]}
            ),
            headers={**bearer, "Content-Type": "application/json"},
        )
        return str(tokens["refresh_token"]), str(invoice.json()["Invoice"]["Id"])


def _quickbooks(seed: str = "RT1-seed") -> FakeQuickBooks:
    return FakeQuickBooks(
        client_id="app", client_secret="secret", realm="123", refresh_token=seed, grace=0.0
    )


async def test_quickbooks_keeps_records_decimals_requestids_and_the_current_refresh_token() -> None:
    qb = _quickbooks()
    changes: list[None] = []
    qb.on_change.append(lambda: changes.append(None))
    async with qb.running() as url:
        rotated, invoice_id = await _quickbooks_writes(qb, url)
    assert len(changes) == 3  # the rotation, the customer, the invoice
    data = stored(qb)

    again = _quickbooks(seed="RT1-another-run")  # a restart: the settings seed a new token
    again.load(data)
    assert again.summary() == qb.summary()
    assert again.invoices[invoice_id]["TotalAmt"] == Decimal("4200.10")
    assert isinstance(again.invoices[invoice_id]["Line"][0]["Amount"], Decimal)
    assert set(again.current_refresh_tokens()) == {rotated, "RT1-another-run"}
    async with again.running() as url, httpx.AsyncClient(base_url=url) as http:

        async def refresh(token: str) -> httpx.Response:
            return await http.post(
                "/oauth2/v1/tokens/bearer",
                data={"grant_type": "refresh_token", "refresh_token": token},
                auth=("app", "secret"),
            )

        assert (await refresh("RT1-seed")).json() == {"error": "invalid_grant"}  # retired
        answer = await refresh(rotated)  # what the bot stored: still good
        assert answer.status_code == 200
        bearer = {"Authorization": "Bearer " + answer.json()["access_token"]}
        # The same requestid after the restart answers the same customer, not a duplicate.
        same = await http.post(
            f"/v3/company/{again.realm}/customer",
            params={"minorversion": "75", "requestid": "r1"},
            json={"DisplayName": "Harbor & Finch"},
            headers=bearer,
        )
        assert same.json()["Customer"]["Id"] == "1"
    assert len(again.customers) == 1

    again.reset()
    assert again.summary() == {
        "customers": [],
        "invoices": [],
        "payments": [],
        "credit_memos": [],
        "refund_receipts": [],
    }
    assert "RT1-another-run" in again.current_refresh_tokens()


def test_the_google_sheet_keeps_its_cells_and_its_configured_tabs() -> None:
    google = FakeGoogle(public_url="http://127.0.0.1:1/google")
    sheet = google.add_spreadsheet("book", tabs=("Exceptions", "Other")).sheets["Exceptions"]
    sheet.write(1, 1, [["Call ID", "Status"], ["call-1", "Awaiting payment"]])
    data = stored(google)

    again = FakeGoogle(key=google.key, public_url="http://127.0.0.1:1/google")
    again.add_spreadsheet("book", tabs=("Exceptions", "Review"))  # set up from the settings
    again.load(data)
    assert again.rows("book") == [["Call ID", "Status"], ["call-1", "Awaiting payment"]]
    assert set(again.spreadsheets["book"].sheets) == {"Exceptions", "Other", "Review"}
    assert again.spreadsheets["book"].sheets["Other"].sheet_id == 1001
    again.reset()
    assert again.rows("book") == []


def test_drive_and_gmail_keep_folders_pdfs_sent_mail_and_drafts() -> None:
    fake = FakeDriveGmail()
    folder = fake._new_folder("Harbor & Finch", [fake.root_folder])
    pdf = fake._store(
        {"name": "invoice.pdf", "mimeType": "application/pdf", "parents": [folder]},
        b"%PDF-1.7\x00\xff binary",
    )
    pdf.app_properties["callId"] = "call-1"
    raw = b"To: ap@harborfinch.example\r\nSubject: Invoice\r\n\r\nHello"
    fake.messages["m1"] = GmailMessage("m1", "m1", "me", raw, ["SENT"])
    fake.drafts["r1"] = fake.messages["m2"] = GmailMessage("m2", "m2", "me", raw, ["DRAFT"])
    data = stored(fake)

    again = FakeDriveGmail()
    again.load(data)
    assert again.files == fake.files
    assert again.files[pdf.id].content == b"%PDF-1.7\x00\xff binary"
    assert [m.header("To") for m in again.sent()] == ["ap@harborfinch.example"]
    assert again.drafts["r1"] is again.messages["m2"]
    again.reset()
    assert [f.id for f in again.files.values()] == [again.root_folder]
    assert again.messages == {} and again.drafts == {}


def test_an_older_snapshot_without_the_doubles_loads_and_leaves_them_empty() -> None:
    ws, plisio = SlackWorkspace.demo(), FakePlisio("secret")
    zendesk = FakeZendesk("bot@example.com", "token")
    zendesk.add_ticket("Hello", "ap@harborfinch.example")
    drive = FakeDriveGmail()
    drive._store({"name": "a.pdf"}, b"x")
    older = dump_world(ws, plisio)  # as saved before the doubles were kept
    assert "zendesk" not in older
    load_world(ws, plisio, json.loads(json.dumps(older)), {"zendesk": zendesk, "drive": drive})
    assert zendesk.tickets == {} and drive.documents() == []


def test_a_damaged_double_starts_empty_and_the_rest_still_loads() -> None:
    ws, plisio = SlackWorkspace.demo(), FakePlisio("secret")
    zendesk = FakeZendesk("bot@example.com", "token")
    zendesk.add_ticket("Hello", "ap@harborfinch.example")
    qb = _quickbooks()
    qb.customers["1"] = {"Id": "1", "DisplayName": "Kept", "Balance": Decimal("1.50")}
    doubles: dict[str, Persistent] = {"zendesk": zendesk, "quickbooks": qb}
    data = json.loads(json.dumps(dump_world(ws, plisio, doubles)))
    data["zendesk"]["tickets"] = [{"id": 1}]  # damaged
    zendesk.add_ticket("Since", "ap@harborfinch.example")
    qb.customers.clear()
    load_world(ws, plisio, data, doubles)
    assert zendesk.tickets == {}
    assert qb.customers["1"]["Balance"] == Decimal("1.50")
