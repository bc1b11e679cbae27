"""Path parameters of the analytics URLs: one tracked site."""


def build(world) -> dict:
    from zaplecze.analytics.services import site_create

    site = site_create(domain="walk.example", name="Walk", allowed_origins="", actor=None)
    return {"site_id": site.pk}
