"""Sections of the product page contributed by catalog areas and by modules above the catalog.

Each registers, at the extension point ``"catalog.product_panels"``, a callable
``panel(request, product) -> dict | None`` returning ``{"title": str, "template": str, "context": dict,
"order": int}`` (None hides the panel, e.g. for lack of permission). The product page renders them sorted
by ``order``; the template receives ``product`` and ``request`` plus the panel's context.

Modules above the catalog (stock levels, return exclusions) register from their own ``AppConfig.ready()``.
"""

from __future__ import annotations

from typing import Any

from zaplecze.core import extensions

POINT = "catalog.product_panels"


def register(name: str, panel) -> None:
    extensions.register(POINT, name, panel)


def product_panels(request, product) -> list[dict[str, Any]]:
    panels = []
    for name, panel in extensions.registered(POINT).items():
        spec = panel(request, product)
        if spec:
            panels.append({"name": name, "order": 100, "context": {}, **spec})
    return sorted(panels, key=lambda p: (p["order"], p["name"]))
