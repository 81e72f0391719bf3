"""One mechanism for every lifecycle: leases, transfers, blacklist entries, appeals and
repair applications, disputes, institutions.

A model's lifecycle is declared once, as a table of named transitions. Each names the
states it leaves from, the state it reaches, the guards that must hold, the audit action,
the work done in the same transaction and what runs after commit. A service names the
transition; the mechanism does the rest in one order, which nothing copies:

    lock (the lifecycle's own lock order) → already there? return it (safe to repeat)
    → state allowed? → guards → write the state and the fields → work in the transaction
    → audit row with the old and new snapshot → on_commit callbacks

    LEASE = Lifecycle(
        model=Lease,
        lock=lock_lease,                 # takes the listing's lock, then the lease's
        snapshot=lease_snapshot,
        subject_id=lambda lease: lease.tenant_id,
        transitions={
            "approve": Transition(
                sources=("held",), target="approved", action="lease.approved",
                guards=(operator_may_answer,), on_commit=(notify_tenant,),
            ),
        },
    )
    lease = LEASE.run("approve", actor=user, pk=lease_id, reason="")

A transition reached twice returns the object unchanged (services are idempotent), unless
its target is also one of its sources (a repeatable step such as "extend"). That early
return comes before the guards, so guards hold business rules only: who may act is checked
by the service before it calls `run` or `apply` (under the lock, where the object must be
read first), so that a stranger learns nothing, not even that a step was already taken.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.db import models, transaction

from core.errors import Conflict

Guard = Callable[..., None]  # guard(obj, *, actor, **context): raises a DomainError to refuse
Work = Callable[..., None]  # work(obj, *, actor, **context): the step's other writes (ledger, escrow)
AfterCommit = Callable[[Any], None]  # called with the object's primary key


@dataclass(frozen=True)
class Transition:
    sources: tuple[str, ...]
    target: str
    action: str
    guards: tuple[Guard, ...] = ()
    work: tuple[Work, ...] = ()
    on_commit: tuple[AfterCommit, ...] = ()
    # Stamp these fields with the transition's time (e.g. "decided_at").
    stamp: tuple[str, ...] = ()


@dataclass
class Lifecycle:
    model: type[models.Model]
    lock: Callable[[Any], models.Model]
    snapshot: Callable[[models.Model], dict]
    transitions: dict[str, Transition]
    subject_id: Callable[[models.Model], int | None] = lambda obj: getattr(obj, "subject_id", None)
    state_field: str = "status"
    refuse: Callable[[models.Model, str], Exception] | None = None
    audit: Callable[..., Any] | None = field(default=None, repr=False)

    def run(
        self, name: str, *, actor, pk, reason: str = "", fields: dict | None = None, note: dict | None = None, **context
    ):
        """Lock the object by its key and apply the transition, in one transaction (joined
        without a savepoint inside core.db.all_or_nothing())."""
        from core.db import service_atomic

        with service_atomic():
            obj = self.lock(pk)
            return self.apply(name, obj, actor=actor, reason=reason, fields=fields, note=note, **context)

    def apply(
        self,
        name: str,
        obj,
        *,
        actor,
        reason: str = "",
        fields: dict | None = None,
        note: dict | None = None,
        **context,
    ):
        """Apply the transition to an object the caller has locked, inside its transaction.
        `note` adds to the audit row's new side what the snapshot cannot show (the missed
        deadline, the leases a transfer made)."""
        transition = self.transitions[name]
        state = getattr(obj, self.state_field)
        if state == transition.target and state not in transition.sources:
            return obj
        if state not in transition.sources:
            raise self._refusal(obj, name)
        for guard in transition.guards:
            guard(obj, actor=actor, **context)
        old = self.snapshot(obj)
        changed = {self.state_field}
        setattr(obj, self.state_field, transition.target)
        for attname, value in (fields or {}).items():
            setattr(obj, attname, value)
            changed.add(attname)
        if transition.stamp:
            from django.utils import timezone

            now = timezone.now()
            for attname in transition.stamp:
                setattr(obj, attname, now)
                changed.add(attname)
        if any(f.attname == "updated_at" for f in obj._meta.concrete_fields):
            changed.add("updated_at")
        obj.save(update_fields=sorted(changed))
        for work in transition.work:
            work(obj, actor=actor, **context)
        self._audit(actor=actor, action=transition.action, target=obj, old=old, reason=reason, note=note)
        for callback in transition.on_commit:
            transaction.on_commit(partial(callback, obj.pk))
        return obj

    def table(self) -> list[tuple[str, tuple[str, ...], str, str]]:
        """(name, from states, to state, audit action): the lifecycle as documentation."""
        return [(name, t.sources, t.target, t.action) for name, t in self.transitions.items()]

    def _audit(self, *, actor, action, target, old, reason, note):
        from core.audit import record_audit

        record = self.audit or record_audit
        record(
            actor=actor,
            action=action,
            target=target,
            subject_id=self.subject_id(target),
            old=old,
            new={**self.snapshot(target), **(note or {})},
            reason=reason,
        )

    def _refusal(self, obj, name: str) -> Exception:
        if self.refuse is not None:
            return self.refuse(obj, name)
        state = getattr(obj, self.state_field)
        label = getattr(obj, f"get_{self.state_field}_display", lambda: state)()
        return Conflict(
            f"This {obj._meta.verbose_name} is {str(label).lower()}: it cannot be moved by '{name}'.",
            code="invalid_transition",
        )
