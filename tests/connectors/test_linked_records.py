"""How /handoff names a linked record."""

from __future__ import annotations

from blocks.status import linked_record
from services.external_refs import LinkedRecord


def test_a_linked_record_is_a_named_link() -> None:
    ref = LinkedRecord("plisio", "invoice", "abc123", "https://plisio.net/invoice/abc123")
    assert linked_record(ref) == "Plisio invoice <https://plisio.net/invoice/abc123|abc123>"


def test_a_record_without_url_or_with_odd_text_stays_inert() -> None:
    ref = LinkedRecord("google_sheets", "exception_row", "<!channel>", None)
    assert linked_record(ref) == "Google Sheets exception row &lt;!channel&gt;"
    odd = LinkedRecord("zendesk", "ticket", "7", "https://x.test/a|b>c")
    assert linked_record(odd) == "Zendesk ticket <https://x.test/a%7Cb%3Ec|7>"
