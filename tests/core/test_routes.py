from django.urls import resolve, reverse
from django.views import View

from core.routes import routes


def detail(request, lease_id): ...


class Approve(View): ...


def test_routes_name_each_path_after_its_slug():
    patterns = routes("leases/<int:lease_id>/", "api-lease", {"": detail, "check-in": Approve})

    assert [(str(p.pattern), p.name) for p in patterns] == [
        ("leases/<int:lease_id>/", "api-lease"),
        ("leases/<int:lease_id>/check-in/", "api-lease-check-in"),
    ]
    assert patterns[0].callback is detail
    assert patterns[1].callback.view_class is Approve


def test_routed_names_reverse_to_the_same_urls():
    assert reverse("api-lease", args=[7]) == "/api/v1/warehouses/leases/7/"
    assert reverse("api-lease-no-show", args=[7]) == "/api/v1/warehouses/leases/7/no-show/"
    assert reverse("api-licence-withdraw", args=[3]) == "/api/v1/licences/3/withdraw/"
    assert reverse("regulator-institution-kyb", args=[2]) == "/regulator/institutions/2/kyb/"
    assert reverse("warehouses:lease-pay", args=[5]) == "/warehouses/leases/5/pay/"
    assert reverse("warehouses:lease-action", args=[5, "cancel"]) == "/warehouses/leases/5/cancel/"
    # The named lease pages still come before the lease action catch-all.
    assert resolve("/warehouses/leases/5/pay/").url_name == "lease-pay"
