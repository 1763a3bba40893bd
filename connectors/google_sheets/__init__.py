"""Google Sheets: the exception review queue (one row per call that takes a review path)."""

from __future__ import annotations

from connectors.google_sheets.connector import GoogleSheetsConnector, build

__all__ = ["GoogleSheetsConnector", "build"]
