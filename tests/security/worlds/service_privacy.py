"""Path parameters of the customer pages (service.customers_urls): `customer_id`."""

from __future__ import annotations


def build(world) -> dict:
    from zaplecze.orders.models import Customer

    customer = world.order.customer or Customer.objects.create(name="Jan Nowak", email="jan@example.com")
    return {"customer_id": customer.pk}
