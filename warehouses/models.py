"""Overseas-warehouse capacity marketplace (issue 5)."""
