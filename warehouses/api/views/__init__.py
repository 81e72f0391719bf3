"""Warehouse marketplace API, by sub-domain: listings (and warehouses), leases, transfers,
reviews, escrow (and disputes). Reads go through selectors (visibility rules); each write
is one view: input serializer -> service -> output serializer."""
