"""Payments writes. Each service owns its transaction and audit entry.

Split by sub-domain:
- `institutions` (profile, licences, corridors, reserves, screening threshold), `filings`
  (ending them: withdraw a licence or corridor, close a reserve account), `compliance_runs`
  (runs, the institution status lifecycle, suspension and reinstatement), `keys` (API keys),
  `reports` (payment outcomes), `screening` (decisions stored);
- `webhook_endpoints` (watchlist and endpoints), `webhook_deliveries` (the outbox and
  delivery), `domain_events` (credit's events into webhooks and checks);
- `ledger` (double-entry accounts and journal transactions), `escrow` (paying in, paying
  out, freezing, transfers), `disputes` (the dispute lifecycle);
- `common` holds what the institution services share.

The institution services are re-exported here (`payments.services.X`); escrow, ledger,
disputes, filings, screening and deliveries are used by module (`from payments.services
import escrow`). A test that patches a name must patch it where it is looked up: the
submodule, not this re-export."""

import logging

from payments.services.common import lock_profile, request_compliance_check, require_manager
from payments.services.compliance_runs import (
    reinstate_institution,
    request_check_by_regulator,
    run_compliance_check,
    suspend_institution,
)
from payments.services.domain_events import DOMAIN_EVENT_CURSOR, TRIGGER_BY_EVENT, process_domain_events
from payments.services.institutions import (
    add_corridor,
    add_reserve_account,
    register_institution,
    save_licence,
    set_kyb_status,
    set_screening_threshold,
    submit_reserve_report,
)
from payments.services.keys import issue_api_key, revoke_api_key
from payments.services.reports import report_payment_outcome
from payments.services.webhook_endpoints import (
    create_webhook_endpoint,
    delete_webhook_endpoint,
    rotate_webhook_secret,
    unwatch_subject,
    update_webhook_endpoint,
    watch_subject,
)

logger = logging.getLogger(__name__)

__all__ = [
    "DOMAIN_EVENT_CURSOR",
    "TRIGGER_BY_EVENT",
    "add_corridor",
    "add_reserve_account",
    "create_webhook_endpoint",
    "delete_webhook_endpoint",
    "issue_api_key",
    "lock_profile",
    "process_domain_events",
    "register_institution",
    "reinstate_institution",
    "report_payment_outcome",
    "request_check_by_regulator",
    "request_compliance_check",
    "require_manager",
    "revoke_api_key",
    "rotate_webhook_secret",
    "run_compliance_check",
    "save_licence",
    "set_kyb_status",
    "set_screening_threshold",
    "submit_reserve_report",
    "suspend_institution",
    "unwatch_subject",
    "update_webhook_endpoint",
    "watch_subject",
]
