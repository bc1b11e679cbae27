"""Navigation for the app shell: the nine areas of the product; areas not built yet are not shown."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from zaplecze.core.permissions import user_has

# (key, label, url name, permission). Modules add their entry here when they exist.
AREAS = [
    ("dashboard", _("Dashboard"), "web:dashboard", "dashboard.view"),
    ("orders", _("Orders"), "orders:queue", "orders.view"),
    ("stock", _("Stock"), "web:stock", "stock.view"),
    ("jobs", _("Jobs"), "web:jobs", "jobs.view"),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_areas": []}
    items = []
    path = request.path
    for key, label, url_name, perm in AREAS:
        if not user_has(user, perm):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        active = path == url if url == "/" else path.startswith(url)
        items.append({"key": key, "label": label, "url": url, "active": active})
    return {"nav_areas": items}
