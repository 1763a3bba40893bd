"""Google APIs shared by the Sheets, Drive and Gmail connectors: service-account credentials,
one error tree, and ``GOOGLE_API_BASE`` (one root that replaces every Google host)."""

from __future__ import annotations

from connectors.google.auth import GoogleAuth, google_url
from connectors.google.errors import GoogleAPIError, GoogleAuthError, GoogleError

__all__ = ["GoogleAPIError", "GoogleAuth", "GoogleAuthError", "GoogleError", "google_url"]
