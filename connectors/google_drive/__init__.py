"""Google Drive: invoice, receipt and credit-note PDFs in the customer's folder."""

from __future__ import annotations

from connectors.google_drive.client import DriveClient, DriveFile
from connectors.google_drive.connector import DriveConnector, drive_connector

__all__ = ["DriveClient", "DriveConnector", "DriveFile", "drive_connector"]
