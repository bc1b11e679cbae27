"""Public, unauthenticated analytics endpoints (the tracking script, /collect, the pixel)."""

app_name = "analytics_public"
urlpatterns: list = []
