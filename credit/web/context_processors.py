from django.contrib.auth.models import AnonymousUser

from core.roles import is_regulator
from credit.selectors.accounts import active_memberships


def navigation(request):
    """Navigation links depend on who is signed in: the public, a member of subjects of
    some kinds, a regulator, or staff."""
    # Error pages can render before the authentication middleware has run.
    user = getattr(request, "user", None) or AnonymousUser()
    links = [
        ("Registry", "/registry/"),
        ("Blacklist", "/registry/blacklist/"),
        ("Methodology", "/registry/methodology/"),
    ]
    memberships = []
    if user.is_authenticated:
        memberships = list(active_memberships(user=user))
        kinds = {kind for m in memberships for kind in m.subject.kinds}
        if memberships:
            links.append(("My subject", "/account/"))
            links.append(("My record", "/account/record/"))
        if kinds & {"merchant", "warehouse_operator"}:
            links.append(("Warehouses", "/warehouses/"))
            links.append(("My leases", "/warehouses/leases/"))
        if "warehouse_operator" in kinds:
            links.append(("My listings", "/warehouses/mine/"))
        if "payment_institution" in kinds:
            links.append(("Compliance", "/institution/"))
            links.append(("API keys", "/institution/keys/"))
        if is_regulator(user):
            links.append(("Regulator console", "/regulator/"))
            links.append(("Payment institutions", "/regulator/institutions/"))
        if user.is_staff:
            links.append(("Disputes", "/warehouses/disputes/"))  # escrow disputes to decide
            links.append(("Admin", "/admin/"))
    links.append(("API docs", "/api/docs/"))
    return {"nav_links": links, "nav_memberships": memberships, "nav_is_regulator": is_regulator(user)}
