"""Plisio: API client, typed results, invoice lookup by email and callback verification."""

from __future__ import annotations

from connectors.plisio.callbacks import (
    PlisioCallback,
    canonical_json,
    json_signing_variants,
    matching_json_variant,
    parse_callback,
    php_serialize_str_map,
    sign_form_callback,
    sign_json_callback,
    verify_and_parse_callback,
    verify_form_callback,
    verify_json_callback,
)
from connectors.plisio.client import (
    DEFAULT_BASE_URL,
    PlisioClient,
    build_http_client,
    invoice_page_base,
)
from connectors.plisio.errors import (
    PlisioAPIError,
    PlisioCallbackError,
    PlisioError,
    PlisioTimeout,
    PlisioTransportError,
    redact,
)
from connectors.plisio.lookup import InvoiceLookup
from connectors.plisio.models import (
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
    "invoice_page_base",
    "is_paid",
    "json_signing_variants",
    "matching_json_variant",
    "parse_callback",
    "php_serialize_str_map",
    "redact",
    "sign_form_callback",
    "sign_json_callback",
    "verify_and_parse_callback",
    "verify_form_callback",
    "verify_json_callback",
]
