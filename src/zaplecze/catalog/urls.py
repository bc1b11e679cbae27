"""Catalog screens, mounted under /products/: each area keeps its own URL module."""

from django.urls import include, path

from . import urls_audit, urls_feeds, urls_import, urls_prices, urls_products, urls_sitecheck

app_name = "catalog"
urlpatterns = [
    path("", include(urls_products)),
    path("prices/", include(urls_prices)),
    path("import/", include(urls_import)),
    path("audit/", include(urls_audit)),
    path("feeds/", include(urls_feeds)),
    path("site-check/", include(urls_sitecheck)),
]
