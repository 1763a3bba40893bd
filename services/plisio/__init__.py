"""Plisio: API client, typed results, invoice lookup by email and callback verification."""

from __future__ import annotations

from services.plisio.callbacks import (
    PlisioCallback,
    canonical_json,
    parse_callback,
    php_serialize_str_map,
    sign_form_callback,
    sign_json_callback,
    verify_and_parse_callback,
    verify_form_callback,
    verify_json_callback,
)
from services.plisio.client import DEFAULT_BASE_URL, PlisioClient, build_http_client
from services.plisio.errors import (
    PlisioAPIError,
    PlisioCallbackError,
    PlisioError,
    PlisioTimeout,
    PlisioTransportError,
    redact,
)
from services.plisio.lookup import InvoiceLookup
from services.plisio.models import (
    KNOWN_STATUSES,
    PAID_STATUSES,
    Invoice,
    InvoiceDetails,
    Operation,
    OperationParams,
    OperationsPage,
    is_paid,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "KNOWN_STATUSES",
    "PAID_STATUSES",
    "Invoice",
    "InvoiceDetails",
    "InvoiceLookup",
    "Operation",
    "OperationParams",
    "OperationsPage",
    "PlisioAPIError",
    "PlisioCallback",
    "PlisioCallbackError",
    "PlisioClient",
    "PlisioError",
    "PlisioTimeout",
    "PlisioTransportError",
    "build_http_client",
    "canonical_json",
    "is_paid",
    "parse_callback",
    "php_serialize_str_map",
    "redact",
    "sign_form_callback",
    "sign_json_callback",
    "verify_and_parse_callback",
    "verify_form_callback",
    "verify_json_callback",
]
