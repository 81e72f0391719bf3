from django.contrib.auth import views as auth_views
from django.urls import include, path

from credit.web.views import accounts as views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", views.signup, name="signup"),
    path("account/", views.account, name="account"),
    path("account/memberships/<int:membership_id>/approve/", views.approve_membership, name="approve-membership"),
]

# Areas built separately: the public registry, the regulator console, the subject's own record.
urlpatterns += [
    path("", include("credit.web.registry_urls")),
    path("", include("credit.web.regulator_urls")),
    path("", include("credit.web.record_urls")),
]
