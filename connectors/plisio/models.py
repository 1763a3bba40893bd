"""Typed results of the Plisio API.

Plisio adds fields over time, so every model keeps unknown fields (``extra="allow"``). Money is
``Decimal`` (parsed from the wire's strings; a stray JSON number goes through ``str()`` first, never
through float arithmetic). Times are aware UTC datetimes parsed from Unix seconds; a number that is
clearly milliseconds (> 1e11) is divided by 1000. Statuses stay plain strings so an unknown one
passes through unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

__all__ = [
    "KNOWN_STATUSES",
    "PAID_STATUSES",
    "Invoice",
    "InvoiceDetails",
    "Money",
    "Operation",
    "OperationParams",
    "OperationsPage",
    "UtcTimestamp",
    "is_paid",
    "parse_money",
    "parse_timestamp",
]

PAID_STATUSES: frozenset[str] = frozenset({"completed", "mismatch"})
KNOWN_STATUSES: frozenset[str] = frozenset(
    {
        "new",
        "pending",
        "pending internal",
        "expired",
        "completed",
        "mismatch",
        "error",
        "cancelled",
        "cancelled duplicate",
    }
)
_MILLISECONDS_THRESHOLD = 1e11


def is_paid(status: str | None) -> bool:
    """Return True when Plisio's status word alone says paid (``completed`` or ``mismatch``).

    The bot does not decide on the word: ``services.payments.assess`` compares the amounts.
    """
    return status is not None and status.strip().lower() in PAID_STATUSES


def parse_money(value: object) -> Decimal | None:
    """Parse a wire amount into a finite ``Decimal`` (``None`` for null or empty)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("an amount cannot be a boolean")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | float | str):
        text = str(value).strip()
        if not text:
            return None
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not a decimal amount: {text[:40]!r}") from None
    else:
        raise ValueError(f"not a decimal amount: {type(value).__name__}")
    if not result.is_finite():
        raise ValueError("an amount must be finite")
    return result


def parse_timestamp(value: object) -> datetime | None:
    """Parse Unix seconds (or milliseconds, or ISO 8601) into an aware UTC datetime."""
    try:
        return _timestamp(value)
    except (OverflowError, OSError):  # beyond year 9999, infinite, or before year 1 in UTC
        raise ValueError("timestamp out of range") from None


def _timestamp(value: object) -> datetime | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str):
        text = value.strip()
        if not text or text in {"0", "null"}:
            return None
        try:
            number = float(text)
        except ValueError:
            parsed = datetime.fromisoformat(text)
            return _timestamp(parsed)
    elif isinstance(value, int | float | Decimal):
        number = float(value)
    else:
        raise ValueError(f"not a timestamp: {type(value).__name__}")
    if number <= 0:
        return None
    if number > _MILLISECONDS_THRESHOLD:
        number /= 1000
    return datetime.fromtimestamp(number, UTC)


def _empty_to_none(value: object) -> object:
    return None if value == "" else value


Money = Annotated[Decimal | None, BeforeValidator(parse_money)]
UtcTimestamp = Annotated[datetime | None, BeforeValidator(parse_timestamp)]
OptionalStr = Annotated[str | None, BeforeValidator(_empty_to_none)]
OptionalInt = Annotated[int | None, BeforeValidator(_empty_to_none)]

_CONFIG = ConfigDict(extra="allow", coerce_numbers_to_str=True)


class OperationParams(BaseModel):
    """The ``params`` of an operation: what the shop sent when it created the invoice."""

    model_config = _CONFIG

    order_number: OptionalStr = None
    order_name: OptionalStr = None
    description: OptionalStr = None
    email: OptionalStr = None
    source_amount: Money = None
    source_currency: OptionalStr = None

    @model_validator(mode="before")
    @classmethod
    def _php_empty_array(cls, data: Any) -> Any:
        # PHP's json_encode turns an empty associative array into [].
        if data is None or (isinstance(data, list) and not data):
            return {}
        return data


class Operation(BaseModel):
    """One entry of ``GET /operations`` (or the answer of ``GET /operations/{id}``)."""

    model_config = _CONFIG

    id: str = Field(validation_alias=AliasChoices("id", "txn_id"))
    type: OptionalStr = None
    status: str
    status_code: OptionalInt = None
    currency: OptionalStr = None
    psys_cid: OptionalStr = None
    amount: Money = None
    source_amount: Money = None
    source_currency: OptionalStr = None
    params: OperationParams = Field(default_factory=OperationParams)
    created_at: UtcTimestamp = Field(
        default=None, validation_alias=AliasChoices("created_at_utc", "created_at")
    )
    expire_at: UtcTimestamp = Field(
        default=None, validation_alias=AliasChoices("expire_at_utc", "expire_at", "expire_utc")
    )
    finished_at: UtcTimestamp = Field(
        default=None, validation_alias=AliasChoices("finished_at_utc", "finished_at")
    )
    invoice_url: OptionalStr = None
    tx_url: str | list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _lift_params(cls, data: Any) -> Any:
        # source_amount / source_currency often live only inside params.
        if not isinstance(data, dict):
            return data
        params = data.get("params")
        if not isinstance(params, dict):
            return data
        lifted = dict(data)
        for key in ("source_amount", "source_currency"):
            if lifted.get(key) in (None, "") and params.get(key) not in (None, ""):
                lifted[key] = params[key]
        return lifted

    @property
    def order_number(self) -> str | None:
        """The shop's order number (``params.order_number``)."""
        return self.params.order_number

    @property
    def email(self) -> str | None:
        """The payer email the invoice was created with (``params.email``)."""
        return self.params.email

    @property
    def is_paid(self) -> bool:
        """True when the status counts as paid."""
        return is_paid(self.status)


class OperationsPage(BaseModel):
    """One page of ``GET /operations``, with the paging ``_meta`` flattened."""

    model_config = _CONFIG

    operations: list[Operation] = Field(default_factory=list)
    current_page: int = 1
    page_count: int = 1
    total_count: int = 0
    per_page: int = 0
    next_url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _flatten_meta(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        flat: dict[str, Any] = {k: v for k, v in data.items() if k not in ("_meta", "_links")}
        operations = data.get("operations")
        if operations is None:
            operations = []
            flat["operations"] = operations
        raw_meta = data.get("_meta")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        aliases = {
            "current_page": ("currentPage", "current_page"),
            "page_count": ("pageCount", "page_count"),
            "total_count": ("totalCount", "total_count"),
            "per_page": ("perPage", "per_page"),
        }
        for field, keys in aliases.items():
            for key in keys:
                if meta.get(key) is not None:
                    flat[field] = meta[key]
                    break
        count = len(operations) if isinstance(operations, list) else 0
        flat.setdefault("total_count", count)
        flat.setdefault("per_page", count)
        links = data.get("_links")
        if isinstance(links, dict) and isinstance(links.get("next"), dict):
            href = links["next"].get("href")
            flat["next_url"] = href if isinstance(href, str) else None
        return flat

    @property
    def has_next(self) -> bool:
        """True when Plisio reports pages after this one."""
        return self.current_page < self.page_count


class Invoice(BaseModel):
    """The answer of ``GET /invoices/new`` (white-label fields are present only for such shops)."""

    model_config = _CONFIG

    txn_id: str
    invoice_url: str
    invoice_total_sum: Money = None
    amount: Money = None
    pending_amount: Money = None
    invoice_sum: Money = None
    source_rate: Money = None
    wallet_hash: OptionalStr = None
    psys_cid: OptionalStr = None
    currency: OptionalStr = None
    status: OptionalStr = None
    source_currency: OptionalStr = None
    expire_utc: UtcTimestamp = None
    qr_code: OptionalStr = None
    verify_hash: OptionalStr = None


class InvoiceDetails(BaseModel):
    """``data.invoice`` of ``GET /invoices/{id}``."""

    model_config = _CONFIG

    txn_id: OptionalStr = Field(default=None, validation_alias=AliasChoices("txn_id", "id"))
    status: str
    amount: Money = None
    pending_amount: Money = None
    received_amount: Money = None
    remaining_amount: Money = None
    invoice_total_sum: Money = None
    currency: OptionalStr = None
    psys_cid: OptionalStr = None
    source_amount: Money = None
    source_currency: OptionalStr = None
    order_number: OptionalStr = None
    order_name: OptionalStr = None
    email: OptionalStr = None
    invoice_url: OptionalStr = None
    created_at: UtcTimestamp = Field(
        default=None, validation_alias=AliasChoices("created_at_utc", "created_at")
    )
    expire_at: UtcTimestamp = Field(
        default=None, validation_alias=AliasChoices("expire_at_utc", "expire_at", "expire_utc")
    )
    tx_url: str | list[str] | None = None

    @property
    def is_paid(self) -> bool:
        """True when the status counts as paid."""
        return is_paid(self.status)
