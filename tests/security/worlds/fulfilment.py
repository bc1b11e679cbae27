"""URL parameters of the fulfilment module for the security walk: a pick list of the world's order."""

from __future__ import annotations


def build(world) -> dict:
    from zaplecze.fulfilment.services import picklist_create

    pick_list = picklist_create(order_ids=[world.order.pk], actor=None)
    return {"picklist_id": pick_list.pk}
