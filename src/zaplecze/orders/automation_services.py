"""Writes of order automation: rules (create, change, switch on/off, reorder, delete), the default rules,
and assigning an order's warehouse. Each function is one transaction with its audit row."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zaplecze.core.errors import Conflict, DomainError, NotFound
from zaplecze.core.models import User
from zaplecze.core.services import audit_record, diff

from .automation import CONDITIONS, TRIGGER_PARAMS, action_types, clean_params
from .models import AutomationRule, AutomationTrigger, Order, OrderEvent

MAX_CONDITIONS = 20
MAX_ACTIONS = 10
AUDIT_TYPE = "orders.automation_rule"


def _label(actor: User | None, source: str) -> str:
    return actor.username if actor is not None else source


def rule_clean(
    *, name: str, trigger: str, trigger_params: Any, conditions: Any, actions: Any
) -> dict[str, Any]:
    """Validate a rule definition; returns the normalised fields. Errors name the place (`actions[1].tag`)."""
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Give the rule a name"), field="name")
    if len(name) > 120:
        raise DomainError(_("The name is longer than 120 characters"), field="name")
    if trigger not in AutomationTrigger.values:
        raise DomainError(_("Unknown trigger %(value)s") % {"value": trigger}, field="trigger")
    params = clean_params(TRIGGER_PARAMS[trigger], trigger_params or {}, "trigger_params")
    if not isinstance(conditions, list):
        raise DomainError(_("Conditions must be a list"), field="conditions")
    if len(conditions) > MAX_CONDITIONS:
        raise DomainError(_("At most %(n)s conditions") % {"n": MAX_CONDITIONS}, field="conditions")
    clean_conditions = []
    for i, cond in enumerate(conditions):
        where = f"conditions[{i}]"
        ctype = CONDITIONS.get(cond.get("type", "") if isinstance(cond, dict) else "")
        if ctype is None:
            raise DomainError(
                _("%(where)s: unknown condition type %(type)s")
                % {"where": where, "type": cond.get("type") if isinstance(cond, dict) else cond},
                field=f"{where}.type",
            )
        clean_conditions.append({"type": ctype.code, **clean_params(ctype.params, cond, where)})
    if not isinstance(actions, list) or not actions:
        raise DomainError(_("Give at least one action"), field="actions")
    if len(actions) > MAX_ACTIONS:
        raise DomainError(_("At most %(n)s actions") % {"n": MAX_ACTIONS}, field="actions")
    types = action_types()
    clean_actions = []
    for i, action in enumerate(actions):
        where = f"actions[{i}]"
        atype = types.get(action.get("type", "") if isinstance(action, dict) else "")
        if atype is None:
            raise DomainError(
                _("%(where)s: unknown action type %(type)s")
                % {"where": where, "type": action.get("type") if isinstance(action, dict) else action},
                field=f"{where}.type",
            )
        clean_actions.append({"type": atype.code, **clean_params(atype.params, action, where)})
    return {
        "name": name,
        "trigger": trigger,
        "trigger_params": params,
        "conditions": clean_conditions,
        "actions": clean_actions,
    }


def _snapshot(rule: AutomationRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "trigger": rule.trigger,
        "trigger_params": rule.trigger_params,
        "conditions": rule.conditions,
        "actions": rule.actions,
        "stop_processing": rule.stop_processing,
        "enabled": rule.enabled,
        "position": rule.position,
    }


def rule_create(
    *,
    name: str,
    trigger: str,
    trigger_params: Any = None,
    conditions: Any = (),
    actions: Any = (),
    stop_processing: bool = False,
    enabled: bool = False,
    actor: User | None,
) -> AutomationRule:
    """A new rule at the end of the list (switched off unless `enabled`)."""
    fields = rule_clean(
        name=name,
        trigger=trigger,
        trigger_params=trigger_params,
        conditions=list(conditions),
        actions=list(actions),
    )
    now = timezone.now()
    with transaction.atomic():
        # Lock the rules (no aggregate: PostgreSQL refuses FOR UPDATE with one), so two new rules never share
        # a position.
        last = max(AutomationRule.objects.select_for_update().values_list("position", flat=True), default=0)
        rule = AutomationRule.objects.create(
            **fields,
            stop_processing=bool(stop_processing),
            enabled=bool(enabled),
            enabled_at=now if enabled else None,
            position=last + 10,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        audit_record(
            obj_type=AUDIT_TYPE,
            obj_id=rule.pk,
            action="created",
            actor=actor,
            changes={k: [None, v] for k, v in _snapshot(rule).items()},
        )
    return rule


def _lock(rule_id: int, expected_version: int | None = None) -> AutomationRule:
    rule = AutomationRule.objects.select_for_update().filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(_("No such automation rule"))
    if expected_version is not None and rule.version != expected_version:
        raise Conflict(
            _(
                "The rule “%(name)s” was changed by someone else in the meantime; reload it and apply your change again."
            )
            % {"name": rule.name},
            current_version=rule.version,
        )
    return rule


def rule_update(
    *,
    rule_id: int,
    name: str,
    trigger: str,
    trigger_params: Any = None,
    conditions: Any = (),
    actions: Any = (),
    stop_processing: bool = False,
    enabled: bool | None = None,
    expected_version: int | None = None,
    actor: User | None,
) -> AutomationRule:
    """Replace a rule's definition (optimistic version check when `expected_version` is given)."""
    fields = rule_clean(
        name=name,
        trigger=trigger,
        trigger_params=trigger_params,
        conditions=list(conditions),
        actions=list(actions),
    )
    with transaction.atomic():
        rule = _lock(rule_id, expected_version)
        before = _snapshot(rule)
        for k, v in fields.items():
            setattr(rule, k, v)
        rule.stop_processing = bool(stop_processing)
        if enabled is not None and bool(enabled) != rule.enabled:
            rule.enabled = bool(enabled)
            if rule.enabled:
                rule.enabled_at = timezone.now()
        changes = diff(before, _snapshot(rule))
        if not changes:
            return rule
        rule.version += 1
        rule.updated_at = timezone.now()
        rule.save()
        audit_record(obj_type=AUDIT_TYPE, obj_id=rule.pk, action="edited", actor=actor, changes=changes)
    return rule


def rule_set_enabled(*, rule_id: int, enabled: bool, actor: User | None) -> AutomationRule:
    """Switch a rule on or off. Time-based rules count from the moment they are switched on."""
    with transaction.atomic():
        rule = _lock(rule_id)
        if rule.enabled == bool(enabled):
            return rule
        rule.enabled = bool(enabled)
        now = timezone.now()
        if rule.enabled:
            rule.enabled_at = now
        rule.version += 1
        rule.updated_at = now
        rule.save(update_fields=["enabled", "enabled_at", "version", "updated_at"])
        audit_record(
            obj_type=AUDIT_TYPE,
            obj_id=rule.pk,
            action="enabled" if rule.enabled else "disabled",
            actor=actor,
            changes={"enabled": [not rule.enabled, rule.enabled]},
        )
    return rule


def rule_move(*, rule_id: int, direction: str, actor: User | None) -> AutomationRule:
    """Move a rule one place up or down the list (positions are renumbered 10, 20, 30, ...)."""
    if direction not in ("up", "down"):
        raise DomainError(_("Direction must be up or down"), field="direction")
    with transaction.atomic():
        rules = list(AutomationRule.objects.select_for_update().order_by("position", "id"))
        index = next((i for i, r in enumerate(rules) if r.pk == rule_id), None)
        if index is None:
            raise NotFound(_("No such automation rule"))
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(rules):
            rules[index], rules[other] = rules[other], rules[index]
        moved = None
        for i, r in enumerate(rules):
            position = (i + 1) * 10
            if r.pk == rule_id:
                moved = r
                before = r.position
            if r.position != position:
                AutomationRule.objects.filter(pk=r.pk).update(position=position)
                r.position = position
        assert moved is not None
        if moved.position != before:
            audit_record(
                obj_type=AUDIT_TYPE,
                obj_id=moved.pk,
                action="moved",
                actor=actor,
                changes={"position": [before, moved.position]},
            )
    return moved


def rule_delete(*, rule_id: int, actor: User | None) -> None:
    """Delete a rule. Its log rows stay (with the rule's name)."""
    with transaction.atomic():
        rule = _lock(rule_id)
        snapshot = _snapshot(rule)
        rule.delete()
        audit_record(
            obj_type=AUDIT_TYPE,
            obj_id=rule_id,
            action="deleted",
            actor=actor,
            changes={k: [v, None] for k, v in snapshot.items()},
        )


# --- warehouse -------------------------------------------------------------------------------------------


def order_warehouse_assign(
    *, order_id: int, warehouse_code: str, actor: User | None, source: str = "ui"
) -> Order:
    """Record which warehouse fulfils the order (empty code: none). Recorded on the order and audited.
    Reservations already made stay where they are."""
    from zaplecze.inventory.selectors import warehouse_by_code

    warehouse = None
    if warehouse_code:
        warehouse = warehouse_by_code(warehouse_code)
        if warehouse is None:
            raise DomainError(_("Unknown warehouse %(code)s") % {"code": warehouse_code}, field="warehouse")
    label = _label(actor, source)
    with transaction.atomic():
        if Order.objects.select_for_update().filter(pk=order_id).values_list("pk", flat=True).first() is None:
            raise NotFound(_("Order not found"))
        order = Order.objects.select_related("warehouse").get(pk=order_id)
        before = order.warehouse.code if order.warehouse else ""
        after = warehouse.code if warehouse else ""
        if before == after:
            return order
        order.warehouse = warehouse
        order.version += 1
        order.updated_at = timezone.now()
        order.save(update_fields=["warehouse", "version", "updated_at"])
        OrderEvent.objects.create(
            order=order,
            kind=OrderEvent.Kind.EDITED,
            actor=actor,
            actor_label=label,
            message=_("Warehouse: %(warehouse)s") % {"warehouse": warehouse.name if warehouse else "—"},
            data={"fields": ["warehouse"]},
        )
        audit_record(
            obj_type="orders.order",
            obj_id=order.pk,
            action="warehouse_assigned",
            actor=actor,
            label=label,
            changes={"warehouse": [before or None, after or None]},
        )
    return order
