"""A beat batch (warehouses.services.locks.each_locked) acts on every row it can: a row a
domain rule refuses is skipped and logged, and never stops the rows after it, run after run."""

import logging

from core.errors import Busy, InvalidInput
from warehouses.services.locks import each_locked


def test_a_refused_row_does_not_stop_the_rows_after_it(caplog):
    seen = []

    def step(*, lease_id):
        seen.append(lease_id)
        if lease_id == 1:
            raise InvalidInput("An amount in JPY is a whole number.", code="invalid_amount")
        if lease_id == 2:
            raise Busy()
        return True

    with caplog.at_level(logging.INFO, logger="warehouses.services.locks"):
        done = each_locked(step, [1, 2, 3, 4], key="lease_id", what="Due lease")
    assert seen == [1, 2, 3, 4]
    assert done == 2
    levels = {record.levelno for record in caplog.records}
    assert logging.WARNING in levels  # the refusal is reported, with its reason
    assert "Due lease 2 is busy" in caplog.text
