from django.contrib import admin
from django.urls import include, path

from zaplecze.api.api import api
from zaplecze.service import views_complaint_public
from zaplecze.web import auth_views

urlpatterns = [
    path("", include("zaplecze.web.urls")),
    path("stock/", include("zaplecze.inventory.urls")),
    path("products/", include("zaplecze.catalog.urls")),
    path("feeds/", include("zaplecze.catalog.public_urls")),
    path("orders/", include("zaplecze.orders.urls")),
    path("shipping/", include("zaplecze.shipping.urls")),
    path("service/", include("zaplecze.service.urls")),
    path("zwrot/", include("zaplecze.service.public_urls")),
    path("kontakt/", include("zaplecze.service.contact_urls")),
    path("reklamacja/", include("zaplecze.service.complaint_public_urls")),
    path("jezyk/", views_complaint_public.language, name="public_language"),
    path("service/customers/", include("zaplecze.service.customers_urls")),
    path("service/returns/", include("zaplecze.service.return_label_urls")),
    path("purchasing/", include("zaplecze.purchasing.urls")),
    path("fulfilment/", include("zaplecze.fulfilment.urls")),
    path("analytics/", include("zaplecze.analytics.urls")),
    path("integrations/", include("zaplecze.integrations.urls")),
    path("reports/", include("zaplecze.reports.urls")),
    path("promotions/", include("zaplecze.promotions.urls")),
    path("monitoring/", include("zaplecze.monitoring.urls")),
    path("today/", include("zaplecze.today.urls")),
    path("", include("zaplecze.monitoring.ops_urls")),
    path("hooks/", include("zaplecze.integrations.public_urls")),
    path("", include("zaplecze.analytics.public_urls")),
    path("login/", auth_views.login_view, name="login"),
    path("logout/", auth_views.logout_view, name="logout"),
    path("account/", auth_views.account_view, name="account"),
    path("account/password/", auth_views.password_change_view, name="password_change"),
    path("api/v1/", api.urls),
    path("django-admin/", admin.site.urls),
]
