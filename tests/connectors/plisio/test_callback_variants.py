"""verify_hash of JSON callbacks: every reading Plisio's official sources sign with is accepted.

One callback body (keys in the order Plisio sends them, non-ASCII names, one JSON number) is
signed as each official source signs it, with the Node SDK's test key. The signed string of each
is written out below as that source produces it, and its digest is pinned.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from connectors.plisio.callbacks import (
    json_signing_variants,
    matching_json_variant,
    verify_and_parse_callback,
    verify_json_callback,
)
from connectors.plisio.errors import PlisioCallbackError

KEY = "8LEfCIhEwSApKj02NM0jI-1urGthaqprSArbfzTAcvAIpMQu_jGTkXEyE3TE26Ip"  # Plisio/nodejs-api-client
RAW = (
    '{"txn_id":"61b19fd3f609ba61f4282547","ipn_type":"invoice","merchant":"Café Zürich",'
    '"merchant_id":"5d09fcd84f1e66138d706ed8","order_number":"21120906",'
    '"order_name":"Rechnung für Müller","amount":"15.300000","currency":"USDT","psys_cid":"USDT",'
    '"source_amount":"15.00","source_currency":"USD","source_rate":"1.000000","confirmations":3,'
    '"status":"completed","comment":"Invoice details: '
    'https://plisio.net/account/transactions/61b19fd3f609ba61f4282547"}'
)
_SORTED_HEAD = '{"amount":"15.300000","comment":"Invoice details: https://plisio.net/account/transactions/61b19fd3f609ba61f4282547",'
_SORTED_TAIL = (
    '"currency":"USDT","ipn_type":"invoice","merchant":"{merchant}",'
    '"merchant_id":"5d09fcd84f1e66138d706ed8","order_name":"{order_name}",'
    '"order_number":"21120906","psys_cid":"USDT","source_amount":"15.00","source_currency":"USD",'
    '"source_rate":"1.000000","status":"completed","txn_id":"61b19fd3f609ba61f4282547"}'
)


def _sorted(confirmations: str, *, ascii_only: bool) -> str:
    merchant, name = (
        ("Caf\\u00e9 Z\\u00fcrich", "Rechnung f\\u00fcr M\\u00fcller")
        if ascii_only
        else ("Café Zürich", "Rechnung für Müller")
    )
    tail = _SORTED_TAIL.replace("{merchant}", merchant).replace("{order_name}", name)
    return f'{_SORTED_HEAD}"confirmations":{confirmations},{tail}'


VECTORS = [
    # The project contract / PHP json_encode(ksort($post), UNESCAPED_UNICODE|UNESCAPED_SLASHES).
    ("sorted", _sorted("3", ascii_only=False), "86d4e52c15d80ed1d566a58e98fe78a448700b8d"),
    # Plisio/nodejs-api-client src/utils/ResponseValidator.ts: keys sorted, obj[key] = data[key]
    # + "" (every value a string), then JSON.stringify; its test's vector is in test_callbacks.py.
    (
        "sorted_strings",
        _sorted('"3"', ascii_only=False),
        "42d20403156429ceec7ab0f4c33e437f65b4f4e8",
    ),
    # plisio.net documentation, Node.js verification example: const ordered = {...data};
    # delete ordered.verify_hash; JSON.stringify(ordered) (the order the keys arrived in).
    ("as_received", RAW, "4b6a68803a9118be4926e7e2202efe1a053668b3"),
    # PyPI plisio (Plisio/plisio-python) validate_callback: json.loads, del verify_hash,
    # json.dumps(obj, separators=(",", ":")): arrival order, non-ASCII escaped as \uXXXX.
    (
        "as_received_ascii",
        RAW.replace("Café Zürich", "Caf\\u00e9 Z\\u00fcrich").replace(
            "Rechnung für Müller", "Rechnung f\\u00fcr M\\u00fcller"
        ),
        "5f15e72e9c62738189fa97e3d4166fa7f10faf62",
    ),
    # The same SDK with the sort_keys=True it computes and discards.
    ("sorted_ascii", _sorted("3", ascii_only=True), "9516e76a55c6b590f03251499594c260d14d87f0"),
]


def _body(digest: str) -> dict[str, object]:
    body: dict[str, object] = json.loads(RAW)
    return {**body, "verify_hash": digest}


@pytest.mark.parametrize(("variant", "message", "digest"), VECTORS)
def test_each_official_reading_is_accepted(variant: str, message: str, digest: str) -> None:
    assert hmac.new(KEY.encode(), message.encode(), hashlib.sha1).hexdigest() == digest
    assert json_signing_variants(json.loads(RAW))[variant] == message
    body = _body(digest)
    assert matching_json_variant(body, KEY) == variant
    assert verify_json_callback(body, KEY) is True
    assert verify_and_parse_callback(body, KEY, form=False).txn_id == "61b19fd3f609ba61f4282547"


@pytest.mark.parametrize(("variant", "message", "digest"), VECTORS)
def test_each_reading_refuses_a_changed_field_or_another_key(
    variant: str, message: str, digest: str
) -> None:
    tampered = {**_body(digest), "amount": "1.000000"}
    assert verify_json_callback(tampered, KEY) is False
    assert verify_json_callback(_body(digest), "another-shop-key") is False
    with pytest.raises(PlisioCallbackError) as refused:
        verify_and_parse_callback(tampered, KEY, form=False)
    assert refused.value.http_status == 401


def test_the_variants_really_differ_for_this_body() -> None:
    assert len({digest for _, _, digest in VECTORS}) == len(VECTORS)


@pytest.mark.parametrize(
    ("value", "as_js_string"),
    [
        (3, "3"),
        (15.3, "15.3"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (True, "true"),
        (None, "null"),
        (["a", 1], "a,1"),
        ({"a": 1}, "[object Object]"),
    ],
)
def test_node_sdk_stringifies_values_as_javascript_does(value: object, as_js_string: str) -> None:
    body = {"status": "completed", "txn_id": "t", "x": value}
    assert json.loads(json_signing_variants(body)["sorted_strings"])["x"] == as_js_string
