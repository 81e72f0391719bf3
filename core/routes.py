"""URL helper for a family of routes that follow the naming rule: the route `prefix + slug + "/"`
is named `name + "-" + slug` (the empty slug names the prefix itself). So
`routes("leases/<int:lease_id>/", "api-lease", {"": Detail, "approve": Approve})` declares
`leases/<int:lease_id>/` as api-lease and `leases/<int:lease_id>/approve/` as api-lease-approve.
A route whose name does not follow the rule is declared with a plain `path()`."""

from django.urls import URLPattern, path


def routes(prefix: str, name: str, views: dict) -> list[URLPattern]:
    """One `path()` a slug of `views`, in order; class-based views are turned into views."""
    return [
        path(
            f"{prefix}{slug}/" if slug else prefix,
            view.as_view() if hasattr(view, "as_view") else view,
            name=f"{name}-{slug}" if slug else name,
        )
        for slug, view in views.items()
    ]
