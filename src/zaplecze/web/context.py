"""Navigation for the app shell: the nine areas of the product; areas not built yet are not shown."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from zaplecze.core.permissions import user_has

# (key, label, url name, permissions: any one of them shows the entry).
# Modules add their entry here when they exist.
AREAS = [
    ("today", _("Today"), "today:index", ("dashboard.view",)),
    ("dashboard", _("Dashboard"), "web:dashboard", ("dashboard.view",)),
    ("orders", _("Orders"), "orders:queue", ("orders.view",)),
    ("products", _("Products"), "catalog:products", ("catalog.view",)),
    ("stock", _("Stock"), "web:stock", ("stock.view",)),
    ("purchasing", _("Purchasing"), "purchasing:index", ("purchasing.view",)),
    ("fulfilment", _("Pick & pack"), "fulfilment:index", ("fulfilment.pick",)),
    ("shipping", _("Shipping"), "shipping:list", ("shipping.view",)),
    ("service", _("Customer service"), "service:overview", ("service.view",)),
    ("analytics", _("Traffic"), "analytics:index", ("analytics.view",)),
    ("promotions", _("Promotions"), "promotions:index", ("promotions.view",)),
    ("reports", _("Reports"), "reports:index", ("reports.view",)),
    ("monitoring", _("Shop health"), "monitoring:index", ("monitoring.view",)),
    ("jobs", _("Jobs"), "web:jobs", ("jobs.view",)),
]
# Settings screens (key, url name, permission): one "Settings" entry at the right end of the bar leads to
# the first one the user may open, and is active on any of them. Modules add their screens here.
SETTINGS = [
    ("statuses", "orders:statuses", "settings.statuses"),
    ("channels", "orders:channels", "settings.channels"),
    ("automation", "orders:automation", "settings.automation"),
    ("today", "today:settings", "settings.automation"),
    ("audit_rules", "catalog:audit_rules", "settings.catalog"),
    ("integrations", "integrations:connections", "settings.integrations"),
]


def _settings_entry(user, path: str) -> dict | None:
    urls = []
    for _key, url_name, perm in SETTINGS:
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        if user_has(user, perm):
            urls.append(url)
    if not urls:
        return None
    return {
        "key": "settings",
        "label": _("Settings"),
        "url": urls[0],
        "active": any(path.startswith(u) for u in urls),
    }


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_areas": [], "nav_settings": None}
    items = []
    path = request.path
    for key, label, url_name, perms in AREAS:
        if not any(user_has(user, p) for p in perms):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        items.append({"key": key, "label": label, "url": url, "active": False})
    settings_entry = _settings_entry(user, path)
    if settings_entry is None or not settings_entry["active"]:
        # The longest matching prefix wins ("/" only matches itself).
        best = None
        for item in items:
            url = item["url"]
            if (path == url if url == "/" else path.startswith(url)) and (
                best is None or len(url) > len(best["url"])
            ):
                best = item
        if best is not None:
            best["active"] = True
    return {"nav_areas": items, "nav_settings": settings_entry}
