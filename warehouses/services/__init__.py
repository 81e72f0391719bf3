"""Warehouse writes: `listings` (warehouses, listings, capacity), `leases` (requests and the
lease services), `transfers` (lease transfers), `escrow` (paying in, releases, refunds,
disputes), `reviews`, `payment_deadline`, `credit_events` (the registry's events), `ledger`
(the per-day capacity ledger and the listing lock), `gate` (credit). The lifecycles are
declared once in `lease_lifecycle` and `transfer_lifecycle` (core.transitions); `locks`
holds the lock order, `transfer_split` the execution of a transfer."""
