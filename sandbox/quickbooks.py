"""A loopback double of QuickBooks Online: OAuth 2 token rotation and the Accounting API.

What it keeps like Intuit's (field names and nesting as in the published schema):

- ``POST /oauth2/v1/tokens/bearer``: Basic client auth; each refresh answers a new refresh token
  and retires the old one after a short grace (``invalid_grant`` after that, or when revoked);
  access tokens last an hour; a wrong bearer gets the 401 ``{"fault": ...}`` shape;
- ``/v3/company/{realm}/``: ``query`` (the few ``select * from X where F = '...'`` statements the
  connector sends, ``Account`` included: active accounts only, as Intuit answers), ``customer``,
  ``invoice``, ``payment``, ``creditmemo``, ``refundreceipt`` create and read, sparse
  ``customer`` update (``SyncToken`` checked), ``preferences``; ``Fault`` bodies for validation
  errors; ``requestid`` idempotency (the same requestid answers the same entity);
- entities with ``Id``, ``SyncToken``, ``MetaData``, ``Line``/``SalesItemLineDetail``,
  ``CustomerRef``, ``CurrencyRef``, ``LinkedTxn``, ``BillAddr``, ``PrivateNote``, ``DocNumber``,
  ``DepositToAccountRef`` (a refund receipt's bank account, which must exist and be a Bank or
  Other Current Asset account in the home currency or the receipt's);
- a chart of accounts with a "Checking" Bank account and "Undeposited Funds" (``accounts``).

Sandbox mode signs the refresh tokens it issues with a key that is stable per database, so a
token rotated by an earlier run (and kept in the bot's credential store) is still accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from html import escape as html_escape
from typing import Any

from aiohttp import web

from bot.settings import Settings

__all__ = ["FakeQuickBooks", "RecordedCall"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TOKEN_PATH = "/oauth2/v1/tokens/bearer"  # noqa: S105 - a path
ENTITIES = {
    "customer": "Customer",
    "invoice": "Invoice",
    "payment": "Payment",
    "creditmemo": "CreditMemo",
    "refundreceipt": "RefundReceipt",
}
# Account types a refund receipt may pay out of (Intuit: "typically a checking account").
REFUND_FROM = frozenset({"Bank", "Other Current Asset"})
_QUERY = re.compile(
    r"^\s*select\s+\*\s+from\s+(\w+)(?:\s+where\s+(\w+)\s*=\s*'((?:[^'\\]|\\.)*)')?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RecordedCall:
    method: str
    path: str
    params: dict[str, str]


@dataclass
class _Failure:
    status: int
    after: bool  # True: do the write, then fail (the response is lost)
    drop: bool = False  # close the connection instead of answering
    fault: tuple[str, str, str] | None = None  # a ValidationFault (Message, Detail, code)


def default_accounts(home_currency: str) -> dict[str, dict[str, Any]]:
    """A new company's chart of accounts, as far as refunds need it (ids as Intuit's sandbox
    companies number them)."""

    def account(account_id: str, name: str, kind: str, sub: str) -> tuple[str, dict[str, Any]]:
        return account_id, {
            "Id": account_id,
            "Name": name,
            "FullyQualifiedName": name,
            "AccountType": kind,
            "AccountSubType": sub,
            "Classification": "Asset",
            "CurrencyRef": {"value": home_currency, "name": home_currency},
            "CurrentBalance": Decimal("0"),
            "Active": True,
            "SubAccount": False,
            "SyncToken": "0",
            "MetaData": {"CreateTime": "2024-01-01T00:00:00-00:00"},
        }

    return dict(
        [
            account("4", "Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
            account("35", "Checking", "Bank", "Checking"),
        ]
    )


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "-00:00")


def _fault(status: int, message: str, detail: str, code: str, kind: str) -> web.Response:
    body = {
        "Fault": {"Error": [{"Message": message, "Detail": detail, "code": code}], "type": kind},
        "time": _now_iso(),
    }
    return web.json_response(body, status=status, dumps=_dumps)


def _auth_fault(detail: str) -> web.Response:
    body: dict[str, Any] = {
        "warnings": None,
        "intuitObject": None,
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": detail,
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        },
        "report": None,
        "queryResponse": None,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": None,
        "requestId": None,
        "time": int(time.time() * 1000),
        "status": None,
        "cdcresponse": [],
    }
    return web.json_response(body, status=401, dumps=_dumps)


@dataclass
class FakeQuickBooks:
    """The double's state and routes (``app``); ``running()`` serves it on its own port."""

    client_id: str
    client_secret: str
    realm: str
    refresh_token: str | None = None  # the first refresh token (as the OAuth playground gives)
    signing_key: bytes | None = None  # sandbox: accept tokens an earlier run issued
    home_currency: str = "USD"
    currencies: set[str] = field(default_factory=set)  # more enabled currencies (multicurrency)
    grace: float = 120.0  # seconds an old refresh token still works after a rotation
    access_ttl: int = 3600
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    credit_memos: dict[str, dict[str, Any]] = field(default_factory=dict)
    refund_receipts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The chart of accounts (empty: a new company's, see ``default_accounts``).
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[RecordedCall] = field(default_factory=list)
    refreshes: int = 0
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        self._refresh: dict[str, float | None] = {}  # token -> retired at (None: current)
        self._access: dict[str, float] = {}  # token -> expires at
        self._requests: dict[str, tuple[int, dict[str, Any]]] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._ids = 0
        self._doc = 1037
        self.revoked = False
        if not self.accounts:
            self.accounts = default_accounts(self.home_currency)
        self.on_change: list[Callable[[], None]] = []  # told after every write and rotation
        if self.refresh_token:
            self._refresh[self.refresh_token] = None
        self.app = web.Application()
        self.app.router.add_post(TOKEN_PATH, self._token)
        root = "/v3/company/{realm}"
        self.app.router.add_get(f"{root}/query", self._api(self._query))
        self.app.router.add_get(f"{root}/preferences", self._api(self._preferences))
        self.app.router.add_post(root + "/{entity}", self._api(self._write))
        self.app.router.add_get(root + "/{entity}/{id}", self._api(self._read))
        self.app.router.add_get("/app/{page}", self._page)
        self.app.router.add_get("/ui", self._listing)
        self.base_url: str | None = None

    @classmethod
    def for_sandbox(cls, settings: Settings) -> FakeQuickBooks:
        """The sandbox's company, from the settings ``sandbox.setup`` made (EUR enabled too)."""
        secret = settings.quickbooks_client_secret
        seed = settings.quickbooks_refresh_token
        database = settings.effective_database_url().encode()
        return cls(
            client_id=str(settings.quickbooks_client_id),
            client_secret=secret.get_secret_value() if secret else "",
            realm=str(settings.quickbooks_realm_id),
            refresh_token=seed.get_secret_value() if seed else None,
            # Stable per sandbox database: tokens rotated by an earlier run stay good.
            signing_key=hashlib.sha256(b"quickbooks sandbox tokens\0" + database).digest(),
            currencies={"EUR", "GBP"},
        )

    # -- test and sandbox controls -----------------------------------------------------------

    def fail_next(self, entity: str, status: int, *, after: bool = False) -> None:
        """The next write of ``entity`` ("invoice", ...) fails with ``status``; ``after``: the
        write happens first (its answer is lost)."""
        self._failures.setdefault(entity, []).append(_Failure(status, after))

    def fault_next(self, entity: str, message: str, detail: str, code: str = "6000") -> None:
        """The next write of ``entity`` is refused with a ``ValidationFault``."""
        self._failures.setdefault(entity, []).append(
            _Failure(400, False, fault=(message, detail, code))
        )

    def drop_next(self, entity: str) -> None:
        """The next write of ``entity`` happens, then the connection closes without an answer."""
        self._failures.setdefault(entity, []).append(_Failure(0, True, drop=True))

    def revoke(self) -> None:
        """The company disconnected the app: every token stops working."""
        self.revoked = True
        self._refresh.clear()
        self._access.clear()
        self._changed()

    def dump(self) -> dict[str, Any]:
        """The company's records, ``requestid`` answers, counters and OAuth token state as JSON
        values (Decimals as strings), so a restarted sandbox still accepts the refresh token the
        bot stored and still answers a retried ``requestid`` with the same entity."""
        state: dict[str, Any] = _tagged(
            {
                "customers": self.customers,
                "invoices": self.invoices,
                "payments": self.payments,
                "credit_memos": self.credit_memos,
                "refund_receipts": self.refund_receipts,
                "accounts": self.accounts,
                "requests": {k: [status, body] for k, (status, body) in self._requests.items()},
                "ids": self._ids,
                "doc": self._doc,
                "refresh": self._refresh,
                "access": self._access,
                "revoked": self.revoked,
                "refreshes": self.refreshes,
            }
        )
        return state

    def load(self, data: dict[str, Any]) -> None:
        """Replace the state with ``data`` (from ``dump``); changes nothing if it cannot be read.

        This run's own first refresh token (``refresh_token``) stays current too, unless the
        company revoked the app."""
        plain = _untagged(data)
        stores = [
            {str(k): dict(v) for k, v in plain[name].items()}
            for name in ("customers", "invoices", "payments", "credit_memos")
        ]
        receipts = {str(k): dict(v) for k, v in plain.get("refund_receipts", {}).items()}
        accounts = {str(k): dict(v) for k, v in plain.get("accounts", {}).items()}
        requests = {str(k): (int(v[0]), dict(v[1])) for k, v in plain["requests"].items()}
        refresh = {str(k): None if v is None else float(v) for k, v in plain["refresh"].items()}
        access = {str(k): float(v) for k, v in plain["access"].items()}
        ids, doc, refreshes = int(plain["ids"]), int(plain["doc"]), int(plain["refreshes"])
        revoked = bool(plain["revoked"])
        self.customers, self.invoices, self.payments, self.credit_memos = stores
        self.refund_receipts = receipts
        self.accounts = accounts or default_accounts(self.home_currency)
        self._requests, self._ids, self._doc, self.refreshes = requests, ids, doc, refreshes
        self._refresh, self._access, self.revoked = refresh, access, revoked
        if self.refresh_token and not revoked:
            self._refresh.setdefault(self.refresh_token, None)

    def reset(self) -> None:
        """An empty company (Reset sandbox). The app stays connected: tokens already issued
        still work, and the first refresh token is current again (the bot's store is emptied
        too, so it starts again from it)."""
        self.customers, self.invoices, self.payments, self.credit_memos = {}, {}, {}, {}
        self.refund_receipts = {}
        self.accounts = default_accounts(self.home_currency)
        self._requests, self._failures = {}, {}
        self._ids, self._doc = 0, 1037
        self.calls.clear()
        self.revoked = False
        if self.refresh_token:
            self._refresh[self.refresh_token] = None
        self._changed()

    def _changed(self) -> None:
        for listener in self.on_change:
            listener()

    def current_refresh_tokens(self) -> list[str]:
        return [t for t, retired in self._refresh.items() if retired is None]

    def expire_access_tokens(self) -> None:
        self._access.clear()

    def summary(self) -> dict[str, list[dict[str, Any]]]:
        """What the sandbox page lists."""
        return {
            "customers": list(self.customers.values()),
            "invoices": list(self.invoices.values()),
            "payments": list(self.payments.values()),
            "credit_memos": list(self.credit_memos.values()),
            "refund_receipts": list(self.refund_receipts.values()),
        }

    # -- OAuth -----------------------------------------------------------------------------------

    def _issue(self) -> str:
        nonce = secrets.token_urlsafe(18)
        if self.signing_key is None:
            return "RT1-" + nonce
        mac = hmac.new(self.signing_key, nonce.encode(), hashlib.sha256).hexdigest()[:24]
        return f"RT1-{nonce}.{mac}"

    def _known(self, token: str, now: float) -> bool:
        if self.revoked:
            return False
        if token in self._refresh:
            retired = self._refresh[token]
            return retired is None or now < retired
        if self.signing_key is not None and "." in token:  # issued by an earlier sandbox run
            nonce, _, mac = token.removeprefix("RT1-").rpartition(".")
            good = hmac.new(self.signing_key, nonce.encode(), hashlib.sha256).hexdigest()[:24]
            return hmac.compare_digest(mac, good)
        return False

    async def _token(self, request: web.Request) -> web.StreamResponse:
        expected = (
            "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        )
        if not hmac.compare_digest(request.headers.get("Authorization", ""), expected):
            return web.json_response({"error": "invalid_client"}, status=401, dumps=_dumps)
        form = await request.post()
        if form.get("grant_type") != "refresh_token":
            return web.json_response({"error": "unsupported_grant_type"}, status=400, dumps=_dumps)
        token = str(form.get("refresh_token") or "")
        now = self.clock()
        if not self._known(token, now):
            return web.json_response({"error": "invalid_grant"}, status=400, dumps=_dumps)
        if self._refresh.get(token, None) is None:
            self._refresh[token] = now + self.grace  # retired after the grace
        new_refresh = self._issue()
        self._refresh[new_refresh] = None
        access = "AT-" + secrets.token_urlsafe(24)
        self._access[access] = now + self.access_ttl
        self.refreshes += 1
        self._changed()  # the rotation is kept: the bot stores the new refresh token
        return web.json_response(
            {
                "token_type": "bearer",
                "access_token": access,
                "expires_in": self.access_ttl,
                "refresh_token": new_refresh,
                "x_refresh_token_expires_in": 8726400,
            }
        )

    # -- API -------------------------------------------------------------------------------------

    def _api(self, handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            params = dict(request.query)
            self.calls.append(RecordedCall(request.method, request.path, params))
            header = request.headers.get("Authorization", "")
            token = header.removeprefix("Bearer ")
            expires = self._access.get(token)
            if not header.startswith("Bearer ") or expires is None or expires <= self.clock():
                return _auth_fault("Token expired or invalid")
            if request.match_info["realm"] != self.realm:
                return _fault(403, "Unauthorized", "wrong company", "3100", "AuthorizationFault")
            if "minorversion" not in params:
                return _fault(400, "minorversion missing", "send minorversion", "9999", "Fault")
            return await handler(request)

        return wrapped

    def _next_id(self) -> str:
        self._ids += 1
        return str(self._ids)

    def _meta(self) -> dict[str, str]:
        stamp = _now_iso()
        return {"CreateTime": stamp, "LastUpdatedTime": stamp}

    def _store(self, entity: str) -> dict[str, dict[str, Any]]:
        return {
            "Customer": self.customers,
            "Invoice": self.invoices,
            "Payment": self.payments,
            "CreditMemo": self.credit_memos,
            "RefundReceipt": self.refund_receipts,
            "Account": self.accounts,
        }[entity]

    async def _query(self, request: web.Request) -> web.StreamResponse:
        match = _QUERY.match(request.query.get("query", ""))
        if match is None:
            return _fault(
                400,
                "Error parsing query",
                f"QueryParserError: {request.query.get('query', '')[:80]}",
                "4000",
                "ValidationFault",
            )
        entity, field_name, raw = match.group(1), match.group(2), match.group(3)
        known = [*ENTITIES.values(), "Account", "CompanyCurrency"]
        canonical = {name.lower(): name for name in known}
        name = canonical.get(entity.lower())
        if name is None:
            return _fault(
                400, "Invalid query", f"unknown entity {entity}", "4001", "ValidationFault"
            )
        if name == "CompanyCurrency":
            rows = [
                {"Id": code, "Code": code, "Name": code, "Active": True}
                for code in sorted(self.currencies)
            ]
        elif name == "Account":  # a name list: Intuit answers active ones unless asked otherwise
            rows = [a for a in self.accounts.values() if a.get("Active", True)]
        else:
            rows = list(self._store(name).values())
        if field_name:
            value = re.sub(r"\\(.)", r"\1", raw)
            rows = [row for row in rows if _field(row, field_name) == value]
        answer: dict[str, Any] = {}
        if rows:
            answer = {name: rows, "startPosition": 1, "maxResults": len(rows)}
        return web.json_response({"QueryResponse": answer, "time": _now_iso()}, dumps=_dumps)

    async def _preferences(self, request: web.Request) -> web.StreamResponse:
        prefs = {
            "CurrencyPrefs": {
                "MultiCurrencyEnabled": bool(self.currencies),
                "HomeCurrency": {"value": self.home_currency},
            },
            "Id": "1",
            "SyncToken": "0",
        }
        return web.json_response({"Preferences": prefs, "time": _now_iso()})

    async def _read(self, request: web.Request) -> web.StreamResponse:
        name = ENTITIES.get(request.match_info["entity"].lower())
        found = self._store(name).get(request.match_info["id"]) if name else None
        if name is None or found is None:
            return _fault(400, "Object Not Found", "Object Not Found", "610", "ValidationFault")
        return web.json_response({name: found, "time": _now_iso()}, dumps=_dumps)

    async def _write(self, request: web.Request) -> web.StreamResponse:
        kind = request.match_info["entity"].lower()
        name = ENTITIES.get(kind)
        if name is None:
            return _fault(400, "Unsupported Operation", kind, "500", "ValidationFault")
        raw = await request.read()
        # Nothing awaited from here to the write: two calls with one requestid make one entity.
        requestid = request.query.get("requestid")
        if requestid and requestid in self._requests:
            status, body = self._requests[requestid]
            return web.json_response(body, status=status, dumps=_dumps)
        failure = self._failures.get(kind, [])
        planned = failure.pop(0) if failure else None
        if planned is not None and planned.fault is not None:
            return _fault(400, *planned.fault, "ValidationFault")
        if planned is not None and not planned.after:
            return web.Response(status=planned.status, text="Service Unavailable")
        try:
            body = json.loads(raw, parse_float=Decimal)
        except ValueError:
            return _fault(
                400,
                "Request has invalid or unsupported property",
                "bad JSON",
                "2010",
                "ValidationFault",
            )
        status, answer = self._apply(name, body)
        if requestid and status == 200:
            self._requests[requestid] = (status, answer)
        if status == 200:
            self._changed()
        if planned is not None:
            if planned.drop and request.transport is not None:
                request.transport.close()
            return web.Response(status=planned.status or 503, text="Service Unavailable")
        return web.json_response(answer, status=status, dumps=_dumps)

    def _apply(self, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            entity = self._validated(name, body)
        except _Invalid as invalid:
            fault = {
                "Fault": {
                    "Error": [
                        {"Message": invalid.message, "Detail": invalid.detail, "code": invalid.code}
                    ],
                    "type": "ValidationFault",
                },
                "time": _now_iso(),
            }
            return 400, fault
        return 200, {name: entity, "time": _now_iso()}

    def _currency_ok(self, code: str) -> bool:
        return code == self.home_currency or code in self.currencies

    def _validated(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        if name == "Customer":
            return self._customer(body)
        customer_id = str((body.get("CustomerRef") or {}).get("value") or "")
        customer = self.customers.get(customer_id)
        if customer is None:
            raise _Invalid("Invalid Reference Id", f"Invalid Customer Id : {customer_id}", "2500")
        currency = str((body.get("CurrencyRef") or {}).get("value") or self.home_currency)
        if not self._currency_ok(currency):
            raise _Invalid(
                "Business Validation Error",
                f"Currency {currency} is not enabled for this company",
                "6000",
            )
        if currency != customer["CurrencyRef"]["value"]:
            raise _Invalid(
                "Business Validation Error",
                "The currency of the transaction must match the customer's currency",
                "6000",
            )
        lines = body.get("Line") or []
        if not lines:
            raise _Invalid(
                "Required param missing, need to supply the required value for the API",
                "Required parameter Line is missing in the request",
                "2020",
            )
        entity = {
            **body,
            "Id": self._next_id(),
            "SyncToken": "0",
            "MetaData": self._meta(),
            "CurrencyRef": {"value": currency, "name": currency},
            "TxnDate": datetime.now(UTC).date().isoformat(),
        }
        entity["Line"] = [{"Id": str(n), "LineNum": n, **line} for n, line in enumerate(lines, 1)]
        total = sum((Decimal(str(line.get("Amount", 0))) for line in lines), Decimal("0"))
        if name == "RefundReceipt":
            self._refund_from(body, currency)
        if name in {"Invoice", "CreditMemo", "RefundReceipt"}:
            for line in lines:
                if line.get("DetailType") != "SalesItemLineDetail":
                    raise _Invalid("Invalid line", "DetailType must be SalesItemLineDetail", "2010")
                line.setdefault("SalesItemLineDetail", {}).setdefault(
                    "ItemRef", {"value": "1", "name": "Services"}
                )
            self._doc += 1
            entity.setdefault("DocNumber", str(self._doc))
            entity["TotalAmt"] = total
            entity["Balance"] = total if name == "Invoice" else Decimal("0")
            if name == "RefundReceipt":
                account = self.accounts[str(body["DepositToAccountRef"]["value"])]
                entity["DepositToAccountRef"] = {"value": account["Id"], "name": account["Name"]}
                account["CurrentBalance"] = Decimal(str(account["CurrentBalance"])) - total
            entity["RemainingCredit"] = total if name == "CreditMemo" else None
            if name == "CreditMemo":
                entity.pop("Balance", None)
            else:
                entity.pop("RemainingCredit", None)
        if name == "Payment":
            for line in lines:
                for linked in line.get("LinkedTxn") or []:
                    invoice = self.invoices.get(str(linked.get("TxnId")))
                    if invoice is None or linked.get("TxnType") != "Invoice":
                        raise _Invalid("Invalid Reference Id", "LinkedTxn: no such Invoice", "2500")
            for line in lines:
                for linked in line.get("LinkedTxn") or []:
                    invoice = self.invoices[str(linked["TxnId"])]
                    amount = Decimal(str(line.get("Amount", 0)))
                    invoice["Balance"] = max(Decimal("0"), invoice["Balance"] - amount)
                    invoice["SyncToken"] = str(int(invoice["SyncToken"]) + 1)
            entity["TotalAmt"] = Decimal(str(body.get("TotalAmt", total)))
            entity["UnappliedAmt"] = entity["TotalAmt"] - total
        self._store(name)[entity["Id"]] = entity
        return entity

    def _refund_from(self, body: dict[str, Any], currency: str) -> None:
        """A refund receipt's ``DepositToAccountRef``: required, an active Bank (or Other
        Current Asset) account in the home currency or the receipt's."""
        account_id = str((body.get("DepositToAccountRef") or {}).get("value") or "")
        if not account_id:
            raise _Invalid(
                "Required param missing, need to supply the required value for the API",
                "Required parameter DepositToAccountRef is missing in the request",
                "2020",
            )
        account = self.accounts.get(account_id)
        if account is None or not account.get("Active", True):
            raise _Invalid("Invalid Reference Id", f"Invalid Account Id : {account_id}", "2500")
        if account["AccountType"] not in REFUND_FROM:
            raise _Invalid(
                "Invalid Account Type",
                f"The account {account['Name']} cannot be used to refund money",
                "6000",
            )
        held = (account.get("CurrencyRef") or {}).get("value") or self.home_currency
        if held not in {currency, self.home_currency}:
            raise _Invalid(
                "Business Validation Error",
                f"The account {account['Name']} is in {held}, the refund in {currency}",
                "6000",
            )

    def _customer(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("sparse"):
            found = self.customers.get(str(body.get("Id")))
            if found is None:
                raise _Invalid("Object Not Found", "Object Not Found", "610")
            if str(body.get("SyncToken")) != found["SyncToken"]:
                raise _Invalid(
                    "Stale Object Error",
                    "You and another user were working on the same thing.",
                    "5010",
                )
            changes = {k: v for k, v in body.items() if k not in {"Id", "SyncToken", "sparse"}}
            found.update(changes)
            found["SyncToken"] = str(int(found["SyncToken"]) + 1)
            found["MetaData"]["LastUpdatedTime"] = _now_iso()
            return found
        name = str(body.get("DisplayName") or "").strip()
        if not name:
            raise _Invalid("Required param missing", "DisplayName is required", "2020")
        if any(c["DisplayName"] == name for c in self.customers.values()):
            raise _Invalid(
                "Duplicate Name Exists Error",
                "The name supplied already exists. : Another customer is already using this name.",
                "6240",
            )
        currency = str((body.get("CurrencyRef") or {}).get("value") or self.home_currency)
        if not self._currency_ok(currency):
            raise _Invalid(
                "Business Validation Error",
                f"Currency {currency} is not enabled for this company",
                "6000",
            )
        entity = {
            **body,
            "Id": self._next_id(),
            "SyncToken": "0",
            "MetaData": self._meta(),
            "DisplayName": name,
            "CurrencyRef": {"value": currency, "name": currency},
            "Balance": Decimal("0"),
            "Active": True,
        }
        self.customers[entity["Id"]] = entity
        return entity

    async def _page(self, request: web.Request) -> web.StreamResponse:
        """What a QuickBooks link opens in the sandbox: the record as JSON."""
        page = request.match_info["page"]
        wanted = request.query.get("txnId") or request.query.get("nameId") or ""
        store = {
            "customerdetail": self.customers,
            "invoice": self.invoices,
            "recvpayment": self.payments,
            "creditmemo": self.credit_memos,
            "refundreceipt": self.refund_receipts,
        }.get(page, {})
        found = store.get(wanted)
        text = _dumps(found, indent=2) if found else "not found"
        html = (
            "<!doctype html><meta charset='utf-8'><title>QuickBooks (sandbox)</title>"
            f"<h1>QuickBooks (sandbox): {html_escape(page)} {html_escape(wanted)}</h1>"
            f"<pre>{html_escape(text)}</pre>"
        )
        return web.Response(text=html, content_type="text/html", status=200 if found else 404)

    async def _listing(self, _request: web.Request) -> web.StreamResponse:
        """The sandbox page's QuickBooks section: every record, newest first (reloads itself)."""
        parts = [
            "<!doctype html><meta charset='utf-8'><meta http-equiv='refresh' content='3'>",
            "<style>body{font:13px system-ui;margin:0}h3{margin:.6em 0 .2em}"
            "td{padding:0 .5em 0 0}a{color:#1264a3}</style>",
        ]
        names = {c["Id"]: c["DisplayName"] for c in self.customers.values()}
        sections = (
            ("Customers", self.customers, "customerdetail?nameId", lambda e: e.get("DisplayName")),
            ("Invoices", self.invoices, "invoice?txnId", lambda e: f"#{e.get('DocNumber')}"),
            ("Payments", self.payments, "recvpayment?txnId", lambda e: f"payment {e['Id']}"),
            (
                "Credit memos",
                self.credit_memos,
                "creditmemo?txnId",
                lambda e: f"#{e.get('DocNumber')}",
            ),
            (
                "Refund receipts",
                self.refund_receipts,
                "refundreceipt?txnId",
                lambda e: f"#{e.get('DocNumber')}",
            ),
        )
        for title, store, page, label in sections:
            parts.append(f"<h3>{title} ({len(store)})</h3><table>")
            for entity in reversed(list(store.values())):
                who = names.get(str((entity.get("CustomerRef") or {}).get("value")), "")
                amount = entity.get("TotalAmt")
                money = (
                    f"{amount:,.2f} {entity['CurrencyRef']['value']}" if amount is not None else ""
                )
                bill = (entity.get("BillAddr") or {}).get("City", "")
                parts.append(
                    f"<tr><td><a target='_blank' href='../app/{page}={html_escape(entity['Id'])}'>"
                    f"{html_escape(str(label(entity)))}</a></td><td>{html_escape(who)}</td>"
                    f"<td>{html_escape(money)}</td><td>{html_escape(str(bill))}</td></tr>"
                )
            parts.append("</table>")
        return web.Response(text="".join(parts), content_type="text/html")

    @asynccontextmanager
    async def running(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve the double on ``host:port``; yields its base URL (API base and token host)."""
        runner = web.AppRunner(self.app)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            self.base_url = f"http://{host}:{runner.addresses[0][1]}"
            yield self.base_url
        finally:
            self.base_url = None
            await runner.cleanup()


class _Invalid(Exception):
    def __init__(self, message: str, detail: str, code: str) -> None:
        super().__init__(message)
        self.message, self.detail, self.code = message, detail, code


def _field(row: dict[str, Any], name: str) -> str | None:
    value = row.get(name)
    if isinstance(value, dict):
        value = value.get("Address", value.get("value"))
    return None if value is None else str(value)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def _dumps(value: Any, **kwargs: Any) -> str:
    return json.dumps(value, default=_plain, **kwargs)


_DECIMAL = "$decimal"


def _tagged(value: Any) -> Any:
    """``value`` as JSON values, each Decimal as ``{"$decimal": "12.50"}`` (exact)."""
    if isinstance(value, Decimal):
        return {_DECIMAL: str(value)}
    if isinstance(value, dict):
        return {str(k): _tagged(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_tagged(v) for v in value]
    return value


def _untagged(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_DECIMAL}:
            return Decimal(str(value[_DECIMAL]))
        return {k: _untagged(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untagged(v) for v in value]
    return value
