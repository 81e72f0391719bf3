"""The blacklist's declared lifecycles (entries, appeals, repair applications) hold for
every transition from every state: from one of its sources it reaches its target and
writes its audit row; at its target (and not a source) it changes nothing; from any other
state it is refused with a Conflict and writes nothing."""

import pytest

from core.errors import Conflict
from core.models import AuditEntry
from credit.models import Appeal, BlacklistEntry, RepairApplication
from credit.services import blacklist as services
from tests.credit.blacklist_helpers import make_entry

pytestmark = pytest.mark.django_db

LIFECYCLES = {
    "entry": services.ENTRY,
    "appeal": services.APPEALS.lifecycle,
    "repair": services.REPAIRS.lifecycle,
}
MODELS = {"entry": BlacklistEntry, "appeal": Appeal, "repair": RepairApplication}


def _cases():
    for kind, lifecycle in LIFECYCLES.items():
        for name in lifecycle.transitions:
            for state in MODELS[kind].Status.values:
                yield pytest.param(kind, name, state, id=f"{kind}-{name}-from-{state}")


def test_the_tables_are_the_documented_ones():
    """credit/services/blacklist/entries.py and reviews.py document these tables."""
    assert LIFECYCLES["entry"].table() == [
        ("lift", ("active",), "lifted", "blacklist.entry_lifted"),
        ("expire", ("active",), "expired", "blacklist.entry_expired"),
        ("repair", ("active",), "repaired", "blacklist.entry_repaired"),
        ("shorten", ("active",), "active", "blacklist.period_shortened"),
    ]
    assert LIFECYCLES["appeal"].table() == [
        ("reply", ("filed",), "acknowledged", "appeal.replied"),
        ("uphold", ("acknowledged",), "upheld", "appeal.upheld"),
        ("dismiss", ("acknowledged",), "dismissed", "appeal.dismissed"),
    ]
    assert LIFECYCLES["repair"].table() == [
        ("reply", ("filed",), "acknowledged", "repair.replied"),
        ("approve", ("acknowledged",), "approved", "repair.approved"),
        ("reject", ("acknowledged",), "rejected", "repair.rejected"),
    ]


def _subject_of(kind: str, regulator, member):
    entry = make_entry(regulator, member.subject, severity="minor")
    if kind == "entry":
        return entry
    if kind == "appeal":
        return services.file_appeal(actor=member, entry_id=entry.pk, challenge="content", grounds="Not us.")
    return services.apply_for_repair(actor=member, entry_id=entry.pk, correction_evidence="Fixed.", commitment="Never.")


@pytest.mark.parametrize(("kind", "name", "state"), list(_cases()))
def test_every_transition_from_every_state(kind, name, state, regulator, member):
    lifecycle = LIFECYCLES[kind]
    transition = lifecycle.transitions[name]
    obj = _subject_of(kind, regulator, member)
    type(obj).objects.filter(pk=obj.pk).update(status=state)
    audited = AuditEntry.objects.filter(target_id=str(obj.pk), action=transition.action)

    if state in transition.sources:
        result = lifecycle.run(name, actor=regulator, pk=obj.pk, reason="Checked.")
        assert result.status == transition.target
        assert audited.count() == 1
    elif state == transition.target:
        result = lifecycle.run(name, actor=regulator, pk=obj.pk, reason="Again.")
        assert result.status == state
        assert not audited.exists()
    else:
        with pytest.raises(Conflict):
            lifecycle.run(name, actor=regulator, pk=obj.pk, reason="Refused.")
        obj.refresh_from_db()
        assert obj.status == state
        assert not audited.exists()
