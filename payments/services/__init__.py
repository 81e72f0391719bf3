"""Payment-institution writes. Each service owns its transaction and audit entry.

Split by topic: `keys` (API keys), `institutions` (profile, licences, corridors, reserves,
screening threshold), `compliance_runs` (runs and status), `domain_events` (credit's events
into webhooks and checks), `reports` (payment outcomes), `webhook_endpoints` (watchlist and
endpoints); `_common` holds the helpers they share. Every name is re-exported here, so
callers use `payments.services.X`. A test that patches a name must patch it where it is
looked up: inside this package, that is the submodule, not this re-export."""

import logging

from payments.services._common import (
    _lock_profile,
    _require_manager,
    request_compliance_check,
)
from payments.services.compliance_runs import (
    due_compliance_checks,
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
    "_lock_profile",
    "_require_manager",
    "add_corridor",
    "add_reserve_account",
    "create_webhook_endpoint",
    "delete_webhook_endpoint",
    "due_compliance_checks",
    "issue_api_key",
    "process_domain_events",
    "register_institution",
    "reinstate_institution",
    "report_payment_outcome",
    "request_check_by_regulator",
    "request_compliance_check",
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
