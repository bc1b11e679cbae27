"""Roles and what each may do. Deny by default: a permission not listed here is granted to nobody.

Every view and API endpoint declares one of these permissions; tests walk all of them per role.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    ORGANISER = "organiser", _("Sales organiser")
    WAREHOUSE = "warehouse", _("Warehouse")
    SERVICE = "service", _("Customer service")
    MARKETING = "marketing", _("Marketing")
    READONLY = "readonly", _("Read-only")


ALL = frozenset(Role.values)
_A, _O, _W, _S, _M = Role.ADMIN, Role.ORGANISER, Role.WAREHOUSE, Role.SERVICE, Role.MARKETING

PERMISSIONS: dict[str, frozenset[str]] = {
    # seeing things
    "dashboard.view": ALL,
    "orders.view": ALL,
    "catalog.view": ALL,
    "stock.view": ALL,
    "jobs.view": ALL,
    # orders
    "orders.create": frozenset({_A, _O, _S}),
    "orders.edit": frozenset({_A, _O, _S}),  # notes, tags, addresses, lines
    "orders.change_status": frozenset({_A, _O, _W, _S}),
    "orders.import": frozenset({_A, _O}),
    "orders.export": frozenset({_A, _O, _M}),
    "orders.bulk": frozenset({_A, _O}),
    # catalog and stock
    "catalog.edit": frozenset({_A, _O, _M}),
    "stock.adjust": frozenset({_A, _O, _W}),  # adjustments, transfers, bins
    "stock.count": frozenset(
        {_A, _O, _W}
    ),  # stocktakes: count sheets; posting differences needs stock.adjust
    # purchasing: suppliers, reorder list, purchase orders
    "purchasing.view": frozenset({_A, _O, _W, Role.READONLY}),
    "purchasing.manage": frozenset({_A, _O}),  # suppliers, POs, reorder parameters, send POs
    "purchasing.receive": frozenset({_A, _O, _W}),  # receive deliveries against a PO
    # fulfilment: pick lists and packing
    "fulfilment.pick": frozenset({_A, _O, _W}),
    # shipping
    "shipping.view": ALL,
    "shipping.manage": frozenset({_A, _O, _W}),  # create/cancel shipments, labels, tracking numbers, sync
    # customer service: returns, complaints, refunds
    "service.view": frozenset({_A, _O, _W, _S, Role.READONLY}),
    "service.manage": frozenset({_A, _O, _S}),  # create and decide returns and complaints, notes, e-mails
    "service.receive": frozenset({_A, _O, _W, _S}),  # receive and inspect returned goods (back into stock)
    "refunds.approve": frozenset({_A, _O, _S}),  # record, confirm and cancel refunds
    "customers.privacy": frozenset({_A, _O}),  # GDPR: export a person's data, erase (anonymise) it
    # traffic analytics
    "analytics.view": frozenset({_A, _O, _M, Role.READONLY}),
    # sales and operations reports
    "reports.view": frozenset({_A, _O, _M, Role.READONLY}),
    "reports.manage": frozenset({_A, _O}),  # report schedules (who gets which report e-mailed)
    "analytics.manage": frozenset({_A, _O}),  # sites, log imports
    # promotions: campaigns, discount codes, results
    "promotions.view": frozenset({_A, _O, _M, Role.READONLY}),
    "promotions.manage": frozenset({_A, _O, _M}),  # plan, check, launch, end campaigns; generate codes
    # shop health: storefront checks, incidents
    "monitoring.view": frozenset({_A, _O, Role.READONLY}),
    "monitoring.manage": frozenset({_A, _O}),  # add/change checks, close incidents
    # settings
    "settings.statuses": frozenset({_A, _O}),
    "settings.channels": frozenset({_A, _O}),
    "settings.shipping": frozenset({_A, _O}),  # carriers and delivery promises
    "settings.automation": frozenset({_A, _O}),  # automation rules
    "settings.catalog": frozenset({_A, _O}),  # catalog audit rules
    "settings.integrations": frozenset({_A, _O}),  # shop and marketplace connections, credentials
    "users.manage": frozenset({_A}),
    "audit.view": frozenset({_A, _O}),
}


def role_has(role: str | None, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"Unknown permission {permission!r}")
    return role is not None and role in PERMISSIONS[permission]


def user_has(user, permission: str) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return role_has(user.role, permission)
