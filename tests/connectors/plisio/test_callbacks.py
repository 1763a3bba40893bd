from __future__ import annotations

import hashlib
import hmac
import json
from decimal import Decimal

import pytest

from connectors.plisio.callbacks import (
    canonical_json,
    parse_callback,
    php_serialize_str_map,
    sign_form_callback,
    sign_json_callback,
    verify_and_parse_callback,
    verify_form_callback,
    verify_json_callback,
)
from connectors.plisio.errors import PlisioCallbackError

# Plisio's Node SDK test vector.
NODE_KEY = "8LEfCIhEwSApKj02NM0jI-1urGthaqprSArbfzTAcvAIpMQu_jGTkXEyE3TE26Ip"
NODE_JSON = (
    '{"amount":"15.300000","comment":"Invoice details: '
    'https://plisio.loc/account/transactions/61b19fd3f609ba61f4282547","confirmations":"0",'
    '"currency":"USDT","ipn_type":"invoice","merchant":"Test shop",'
    '"merchant_id":"5d09fcd84f1e66138d706ed8","order_name":"test USDT","order_number":"21120906",'
    '"psys_cid":"USDT","source_amount":"15.00","source_currency":"USD","source_rate":"1.000000",'
    '"status":"completed","txn_id":"61b19fd3f609ba61f4282547"}'
)
NODE_HASH = "6c53ff3472d694bfa13851ef266ec67389d25e2f"
SECRET = "shop-secret"


def _hmac(message: str, key: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha1).hexdigest()


def _signed_node_body() -> dict[str, object]:
    body: dict[str, object] = json.loads(NODE_JSON)
    # Plisio puts verify_hash among the other fields; it must be dropped before hashing.
    return {"verify_hash": NODE_HASH, **body}


def test_node_sdk_vector_signs_and_verifies() -> None:
    body = _signed_node_body()
    assert canonical_json(body) == NODE_JSON
    assert sign_json_callback(body, NODE_KEY) == NODE_HASH
    assert verify_json_callback(body, NODE_KEY) is True


def test_key_order_of_the_body_does_not_matter() -> None:
    body = dict(reversed(list(_signed_node_body().items())))
    assert verify_json_callback(body, NODE_KEY) is True


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "15.300001"),
        ("status", "mismatch"),
        ("order_number", "21120907"),
        ("txn_id", "61b19fd3f609ba61f4282548"),
        ("extra", "added"),
    ],
)
def test_json_tampered_field_fails(field: str, value: str) -> None:
    body = _signed_node_body()
    body[field] = value
    assert verify_json_callback(body, NODE_KEY) is False


@pytest.mark.parametrize(
    "verify_hash",
    [None, "", NODE_HASH[:-1], "0" * 40, "é" * 40, 12345],
)
def test_json_bad_or_missing_hash_fails(verify_hash: object) -> None:
    body = _signed_node_body()
    if verify_hash is None:
        del body["verify_hash"]
    else:
        body["verify_hash"] = verify_hash
    assert verify_json_callback(body, NODE_KEY) is False


def test_json_wrong_or_empty_secret_fails() -> None:
    assert verify_json_callback(_signed_node_body(), NODE_KEY + "x") is False
    assert verify_json_callback(_signed_node_body(), "") is False


def test_json_uppercase_hash_is_accepted() -> None:
    body = _signed_node_body()
    body["verify_hash"] = NODE_HASH.upper()
    assert verify_json_callback(body, NODE_KEY) is True


def test_json_non_ascii_and_slashes_are_not_escaped() -> None:
    body: dict[str, object] = {
        "txn_id": "abc",
        "order_name": "Счёт №5 — café 🚀",
        "comment": "see https://x.test/a/b",
    }
    expected_text = (
        '{"comment":"see https://x.test/a/b","order_name":"Счёт №5 — café 🚀","txn_id":"abc"}'
    )
    assert canonical_json(body) == expected_text
    digest = sign_json_callback(body, SECRET)
    assert digest == _hmac(expected_text, SECRET)
    assert verify_json_callback({**body, "verify_hash": digest}, SECRET) is True
    assert (
        verify_json_callback({**body, "order_name": "Счет №5", "verify_hash": digest}, SECRET)
        is False
    )


def test_php_serialize_uses_utf8_byte_lengths() -> None:
    assert php_serialize_str_map({}) == "a:0:{}"
    assert (
        php_serialize_str_map({"a": "b", "ключ": "é", "q": 'say "hi";'})
        == 'a:3:{s:1:"a";s:1:"b";s:8:"ключ";s:2:"é";s:1:"q";s:9:"say "hi";";}'
    )


def test_php_serialize_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        php_serialize_str_map({"a": 1})  # type: ignore[dict-item]


def test_form_signature_is_hmac_of_sorted_php_serialisation() -> None:
    fields = {"txn_id": "t1", "amount": "1.5", "status": "completed", "verify_hash": "ignored"}
    serialised = 'a:3:{s:6:"amount";s:3:"1.5";s:6:"status";s:9:"completed";s:6:"txn_id";s:2:"t1";}'
    assert sign_form_callback(fields, SECRET) == _hmac(serialised, SECRET)


def test_form_round_trip_and_tampering() -> None:
    fields: dict[str, str] = json.loads(NODE_JSON)
    fields["order_name"] = "Заказ «тест»"
    fields["verify_hash"] = sign_form_callback(fields, NODE_KEY)
    assert verify_form_callback(fields, NODE_KEY) is True
    assert verify_form_callback({**fields, "amount": "16.000000"}, NODE_KEY) is False
    assert verify_form_callback({**fields, "order_name": "Заказ"}, NODE_KEY) is False
    assert verify_form_callback(fields, "other-key") is False
    no_hash = {k: v for k, v in fields.items() if k != "verify_hash"}
    assert verify_form_callback(no_hash, NODE_KEY) is False


def test_the_two_serialisations_are_not_interchangeable() -> None:
    body: dict[str, str] = json.loads(NODE_JSON)
    assert sign_form_callback(body, NODE_KEY) != NODE_HASH
    assert verify_form_callback({**body, "verify_hash": NODE_HASH}, NODE_KEY) is False


def test_form_accepts_html_decoded_tx_urls_reading() -> None:
    decoded = {"txn_id": "t1", "tx_urls": '["https://x.test/tx?a=1&b=2"]'}
    digest = sign_form_callback(decoded, SECRET)
    encoded = {**decoded, "tx_urls": "[&quot;https://x.test/tx?a=1&amp;b=2&quot;]"}
    assert verify_form_callback({**encoded, "verify_hash": digest}, SECRET) is True
    assert verify_form_callback({**encoded, "verify_hash": "0" * 40}, SECRET) is False


def test_parse_callback_types_values() -> None:
    callback = parse_callback(_signed_node_body())
    assert callback.txn_id == "61b19fd3f609ba61f4282547"
    assert callback.amount == Decimal("15.300000")
    assert callback.source_amount == Decimal("15.00")
    assert callback.source_rate == Decimal("1.000000")
    assert callback.confirmations == 0
    assert callback.order_number == "21120906"
    assert callback.is_paid is True
    assert callback.model_extra == {}


def test_parse_callback_keeps_unknown_status_and_fields() -> None:
    callback = parse_callback({"txn_id": "t", "status": "frozen by bank", "new_field": "x"})
    assert callback.status == "frozen by bank"
    assert callback.is_paid is False
    assert callback.model_extra == {"new_field": "x"}
    assert callback.amount is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "new"}, "txn_id"),
        ({"txn_id": "t", "status": "new", "amount": "lots"}, "amount"),
        ({"txn_id": "t", "status": "new", "confirmations": "many"}, "confirmations"),
    ],
)
def test_parse_callback_names_the_bad_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(PlisioCallbackError) as info:
        parse_callback(body)
    assert info.value.field == field
    assert info.value.http_status == 422


def test_verify_and_parse_rejects_bad_signature_with_401() -> None:
    body = _signed_node_body()
    assert verify_and_parse_callback(body, NODE_KEY, form=False).status == "completed"
    body["status"] = "mismatch"
    with pytest.raises(PlisioCallbackError) as info:
        verify_and_parse_callback(body, NODE_KEY, form=False)
    assert info.value.http_status == 401
    assert info.value.field == "verify_hash"


def test_verify_and_parse_form() -> None:
    fields = {"txn_id": "t1", "status": "pending", "amount": "0.5"}
    signed = {**fields, "verify_hash": sign_form_callback(fields, SECRET)}
    assert verify_and_parse_callback(signed, SECRET, form=True).amount == Decimal("0.5")
    with pytest.raises(PlisioCallbackError):
        verify_and_parse_callback(signed, SECRET, form=False)
    with pytest.raises(PlisioCallbackError):
        verify_and_parse_callback(fields, SECRET, form=True)
