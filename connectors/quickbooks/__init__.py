"""QuickBooks Online: invoices, payments, credit memos and billing addresses in the books."""
