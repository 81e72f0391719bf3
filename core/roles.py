"""Who someone is on the platform. Regulators are users in the `regulators` group;
platform staff are Django staff; everyone else acts through subject memberships."""

REGULATORS_GROUP = "regulators"


def is_regulator(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    cached = getattr(user, "_is_regulator", None)
    if cached is None:
        cached = user.groups.filter(name=REGULATORS_GROUP).exists()
        user._is_regulator = cached
    return cached
