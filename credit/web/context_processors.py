from credit.roles import is_regulator
from credit.selectors.accounts import active_memberships


def navigation(request):
    """Navigation links depend on who is signed in: the public, a member of subjects of
    some kinds, a regulator, or staff."""
    user = request.user
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
        if kinds & {"merchant", "warehouse_operator"}:
            links.append(("Warehouses", "/warehouses/"))
        if "warehouse_operator" in kinds:
            links.append(("My listings", "/warehouses/mine/"))
        if "payment_institution" in kinds:
            links.append(("API keys", "/institution/keys/"))
        if is_regulator(user):
            links.append(("Regulator console", "/regulator/"))
        if user.is_staff:
            links.append(("Admin", "/admin/"))
    links.append(("API docs", "/api/docs/"))
    return {"nav_links": links, "nav_memberships": memberships, "nav_is_regulator": is_regulator(user)}
