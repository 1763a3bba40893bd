"""QuickBooks Online: invoices, payments, credit memos, refund receipts and billing addresses in the
books."""
