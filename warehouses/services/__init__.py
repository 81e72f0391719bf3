"""Warehouse writes: `listings` (warehouses, listings, capacity), `leases` (the lease
lifecycle), `ledger` (the per-day capacity ledger and the listing lock), `gate` (credit)."""
