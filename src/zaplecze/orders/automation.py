"""Automation rules for orders: when (a trigger) + if (conditions, all must hold) -> then (actions).

* Triggers: order created, order paid, status changed (optionally to one status), tag added (optionally one
  tag) -- emitted by `orders.services` after commit (see `automation_events`) and evaluated by a worker
  job -- and "in status X for N hours", checked by a periodic job every 10 minutes (`due_run`), once per
  entry of an order into the status.
* Conditions are small named functions `condition_<type>(order, params) -> bool` (CONDITIONS).
* Actions are `ActionType`s: the built-in ones here (set status, add/remove tag, assign warehouse) and the
  ones higher modules register at the extension point ``"automation.action"`` (shipping: create shipment;
  service: send an e-mail from a template) -- `orders` may not import them.
* Hooks: callables registered at ``"orders.paid"`` get ``order_ids=[...]`` when orders become paid
  (shipping recomputes the ship-by time there).

Every rule looked at for an order writes a row to the rule log (`AutomationRun`: matched or not, which
condition failed, what each action did, the error); each action done is also an `OrderEvent` in the order's
history. A rule's actions run in one transaction: all of them or none.

Loop guard: an action can cause another event (a status set by a rule is a status change), which runs the
rules again, one level deeper. A chain stops at MAX_DEPTH, and a rule never runs twice for the same order in
one chain."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zaplecze.core import extensions
from zaplecze.core.errors import DomainError

from . import automation_events as events
from .models import (
    OPEN_STAGES,
    AutomationRule,
    AutomationRun,
    AutomationTrigger,
    Channel,
    CustomerType,
    DeliveryMethod,
    Order,
    OrderEvent,
    OrderStatus,
    PaymentMethod,
    PaymentStatus,
)

log = logging.getLogger("zaplecze.automation")

MAX_DEPTH = 5  # an event caused by rules caused by rules ... stops here
ACTOR_LABEL = "automation"
ACTION_POINT = "automation.action"
PAID_HOOK_POINT = "orders.paid"
DRY_RUN_LIST_LIMIT = 500
MAX_HOURS = 24 * 90

TRIGGER_OF_EVENT = {
    events.CREATED: AutomationTrigger.ORDER_CREATED,
    events.PAID: AutomationTrigger.ORDER_PAID,
    events.STATUS_CHANGED: AutomationTrigger.STATUS_CHANGED,
    events.TAG_ADDED: AutomationTrigger.TAG_ADDED,
}


# =========================================================================================================
# Parameters (one description drives the form, the API validation and the text shown in lists)
# =========================================================================================================


def _status_choices() -> list[tuple[str, str]]:
    return [(s.code, s.name) for s in OrderStatus.objects.order_by("position", "id")]


def _channel_choices() -> list[tuple[str, str]]:
    return [(c.code, c.name) for c in Channel.objects.order_by("name")]


def _warehouse_choices() -> list[tuple[str, str]]:
    from zaplecze.inventory.models import Warehouse

    return [(w.code, w.name) for w in Warehouse.objects.order_by("priority", "id")]


def _static(choices) -> Callable[[], list[tuple[str, str]]]:
    return lambda: [(str(v), str(label)) for v, label in choices]


@dataclass(frozen=True)
class Param:
    """One parameter of a trigger, condition or action.

    kind: "multi" (one or more of `choices`), "choice" (one of `choices`), "text", "codes" (comma-separated
    two-letter codes, e.g. countries), "amount" (a money amount >= 0), "hours" (whole hours 1..2160)."""

    name: str
    label: Any
    kind: str
    choices: Callable[[], list[tuple[str, str]]] | None = None
    required: bool = True
    help: Any = ""


@dataclass(frozen=True)
class ConditionType:
    code: str
    label: Any
    params: tuple[Param, ...]
    check: Callable[[Order, dict[str, Any]], bool]


@dataclass
class ActionContext:
    """What an action gets: the order (fresh), the rule and this run's log row (its id makes keys unique)."""

    order: Order
    rule: AutomationRule
    run: AutomationRun
    index: int


@dataclass(frozen=True)
class ActionType:
    """An action. `run(ctx, params)` does it (through services) and returns what it did, for the logs; a
    DomainError fails the rule's run (all its actions are rolled back). Register higher-module actions with
    ``extensions.register("automation.action", code, ActionType(...))``."""

    code: str
    label: Any
    params: tuple[Param, ...]
    run: Callable[[ActionContext, dict[str, Any]], str]


def clean_params(params_spec: Iterable[Param], raw: dict[str, Any], where: str) -> dict[str, Any]:
    """Validate and normalise parameters; errors name the place, e.g. ``conditions[2].amount``."""
    if not isinstance(raw, dict):
        raise DomainError(_("%(where)s must be an object") % {"where": where}, field=where)
    out: dict[str, Any] = {}
    spec = list(params_spec)
    known = {p.name for p in spec} | {"type"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise DomainError(
            _("%(where)s: unknown parameter %(name)s") % {"where": where, "name": unknown[0]},
            field=f"{where}.{unknown[0]}",
        )
    for p in spec:
        here = f"{where}.{p.name}"
        value = raw.get(p.name)
        empty = value in (None, "", [])
        if empty:
            if p.required:
                raise DomainError(
                    _("%(where)s: %(label)s is required") % {"where": where, "label": p.label}, field=here
                )
            out[p.name] = [] if p.kind in ("multi", "codes") else ""
            continue
        out[p.name] = _clean_value(p, value, here)
    return out


def _clean_value(p: Param, value: Any, here: str) -> Any:
    if p.kind == "multi":
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise DomainError(_("%(where)s must be a list of codes") % {"where": here}, field=here)
        allowed = {c for c, _label in p.choices()} if p.choices else None
        for v in values:
            if allowed is not None and v not in allowed:
                raise DomainError(
                    _("%(where)s: unknown value %(value)s") % {"where": here, "value": v}, field=here
                )
        return list(dict.fromkeys(values))
    if p.kind == "choice":
        if not isinstance(value, str):
            raise DomainError(_("%(where)s must be a code") % {"where": here}, field=here)
        if p.choices and value not in {c for c, _label in p.choices()}:
            raise DomainError(
                _("%(where)s: unknown value %(value)s") % {"where": here, "value": value}, field=here
            )
        return value
    if p.kind == "text":
        if not isinstance(value, str) or len(value.strip()) > 50:
            raise DomainError(
                _("%(where)s must be text of at most 50 characters") % {"where": here}, field=here
            )
        return value.strip()
    if p.kind == "codes":
        parts = value.replace(";", ",").split(",") if isinstance(value, str) else value
        if not isinstance(parts, list):
            raise DomainError(_("%(where)s must be a list of codes") % {"where": here}, field=here)
        codes = [str(c).strip().upper() for c in parts if str(c).strip()]
        if not codes or any(len(c) != 2 or not c.isalpha() for c in codes):
            raise DomainError(
                _("%(where)s: give two-letter country codes such as PL, DE") % {"where": here}, field=here
            )
        return list(dict.fromkeys(codes))
    if p.kind == "amount":
        try:
            amount = Decimal(str(value).replace(",", ".").replace(" ", ""))
        except (InvalidOperation, ValueError):
            raise DomainError(
                _("%(where)s: %(value)s is not an amount") % {"where": here, "value": value}, field=here
            )
        if not amount.is_finite() or amount < 0 or amount > Decimal("100000000"):
            raise DomainError(_("%(where)s: the amount must be 0 or more") % {"where": here}, field=here)
        return str(amount.quantize(Decimal("0.01")))
    if p.kind == "hours":
        try:
            hours = int(str(value).strip())
        except ValueError:
            raise DomainError(
                _("%(where)s: %(value)s is not a whole number") % {"where": here, "value": value}, field=here
            )
        if not 1 <= hours <= MAX_HOURS:
            raise DomainError(
                _("%(where)s: give 1 to %(max)s hours") % {"where": here, "max": MAX_HOURS}, field=here
            )
        return hours
    raise AssertionError(f"unknown parameter kind {p.kind}")


def describe_params(spec: Iterable[Param], params: dict[str, Any]) -> str:
    """The parameters as people read them: "Cash on delivery, BLIK"."""
    parts = []
    for p in spec:
        value = params.get(p.name)
        if value in (None, "", []):
            continue
        labels = dict(p.choices()) if p.choices else {}
        if isinstance(value, list):
            parts.append(", ".join(str(labels.get(v, v)) for v in value))
        else:
            parts.append(str(labels.get(value, value)))
    return "; ".join(parts)


# =========================================================================================================
# Triggers
# =========================================================================================================

TRIGGER_PARAMS: dict[str, tuple[Param, ...]] = {
    AutomationTrigger.ORDER_CREATED: (),
    AutomationTrigger.ORDER_PAID: (),
    AutomationTrigger.STATUS_CHANGED: (
        Param(
            "status",
            gettext_lazy("to status"),
            "choice",
            _status_choices,
            required=False,
            help=gettext_lazy("Empty: any status change"),
        ),
    ),
    AutomationTrigger.TAG_ADDED: (
        Param("tag", gettext_lazy("tag"), "text", required=False, help=gettext_lazy("Empty: any tag")),
    ),
    AutomationTrigger.IN_STATUS_FOR: (
        Param("status", gettext_lazy("status"), "choice", _status_choices),
        Param("hours", gettext_lazy("hours"), "hours"),
    ),
}


def trigger_matches(rule: AutomationRule, data: dict[str, Any]) -> bool:
    """Does this event (its data) fit the rule's trigger parameters?"""
    params = rule.trigger_params or {}
    if rule.trigger == AutomationTrigger.STATUS_CHANGED and params.get("status"):
        return data.get("to") == params["status"]
    if rule.trigger == AutomationTrigger.TAG_ADDED and params.get("tag"):
        wanted = params["tag"].casefold()
        return any(str(t).casefold() == wanted for t in data.get("tags", []))
    return True


def describe_trigger(rule: AutomationRule) -> str:
    label = AutomationTrigger(rule.trigger).label
    p = rule.trigger_params or {}
    if rule.trigger == AutomationTrigger.IN_STATUS_FOR:
        status = OrderStatus.objects.filter(code=p.get("status")).first()
        return _("In status “%(status)s” for %(hours)s h") % {
            "status": status.name if status else p.get("status"),
            "hours": p.get("hours"),
        }
    if rule.trigger == AutomationTrigger.STATUS_CHANGED and p.get("status"):
        status = OrderStatus.objects.filter(code=p["status"]).first()
        return _("Status changed to “%(status)s”") % {"status": status.name if status else p["status"]}
    if rule.trigger == AutomationTrigger.TAG_ADDED and p.get("tag"):
        return _("Tag “%(tag)s” added") % {"tag": p["tag"]}
    return str(label)


# =========================================================================================================
# Conditions: each a small named function of (order, params)
# =========================================================================================================


def condition_channel(order: Order, params: dict[str, Any]) -> bool:
    return order.channel.code in params["channels"]


def condition_payment_method(order: Order, params: dict[str, Any]) -> bool:
    return order.payment_method in params["methods"]


def condition_payment_status(order: Order, params: dict[str, Any]) -> bool:
    return order.payment_status in params["statuses"]


def condition_delivery_method(order: Order, params: dict[str, Any]) -> bool:
    return order.delivery_method in params["methods"]


def condition_total_at_least(order: Order, params: dict[str, Any]) -> bool:
    return order.total_gross >= Decimal(params["amount"])


def condition_total_at_most(order: Order, params: dict[str, Any]) -> bool:
    return order.total_gross <= Decimal(params["amount"])


def condition_shipping_country(order: Order, params: dict[str, Any]) -> bool:
    return (order.shipping_country or "PL").upper() in params["countries"]


def _tag_names(order: Order) -> set[str]:
    return {t.name.casefold() for t in order.tags.all()}


def condition_has_tag(order: Order, params: dict[str, Any]) -> bool:
    return params["tag"].casefold() in _tag_names(order)


def condition_lacks_tag(order: Order, params: dict[str, Any]) -> bool:
    return params["tag"].casefold() not in _tag_names(order)


def condition_all_in_stock(order: Order, params: dict[str, Any]) -> bool:
    """Every line can be served: its units are already reserved for it, or the rest is available (on hand
    minus reserved, summed over all warehouses). A line with an unknown SKU is not in stock."""
    from zaplecze.inventory.models import Reservation
    from zaplecze.inventory.selectors import available_by_variant

    lines = list(order.lines.all())
    if not lines or any(line.variant_id is None for line in lines):
        return False
    held_by_ref: dict[str, int] = {}
    for ref, quantity in Reservation.objects.filter(
        reference__in=[line.reservation_ref for line in lines], state=Reservation.State.ACTIVE
    ).values_list("reference", "quantity"):
        held_by_ref[ref] = held_by_ref.get(ref, 0) + quantity
    missing: dict[int, int] = {}
    for line in lines:
        held = held_by_ref.get(line.reservation_ref, 0)
        if held < line.quantity:
            missing[line.variant_id] = missing.get(line.variant_id, 0) + line.quantity - held
    if not missing:
        return True
    available = available_by_variant(missing)
    return all(available.get(v, 0) >= qty for v, qty in missing.items())


def condition_customer_type(order: Order, params: dict[str, Any]) -> bool:
    return order.customer_type in params["types"]


def condition_status_is(order: Order, params: dict[str, Any]) -> bool:
    return order.status.code in params["statuses"]


CONDITIONS: dict[str, ConditionType] = {
    c.code: c
    for c in (
        ConditionType(
            "channel",
            gettext_lazy("Sales channel is"),
            (Param("channels", gettext_lazy("channels"), "multi", _channel_choices),),
            condition_channel,
        ),
        ConditionType(
            "payment_method",
            gettext_lazy("Payment method is"),
            (Param("methods", gettext_lazy("methods"), "multi", _static(PaymentMethod.choices)),),
            condition_payment_method,
        ),
        ConditionType(
            "payment_status",
            gettext_lazy("Payment status is"),
            (Param("statuses", gettext_lazy("payment statuses"), "multi", _static(PaymentStatus.choices)),),
            condition_payment_status,
        ),
        ConditionType(
            "delivery_method",
            gettext_lazy("Delivery method is"),
            (Param("methods", gettext_lazy("methods"), "multi", _static(DeliveryMethod.choices)),),
            condition_delivery_method,
        ),
        ConditionType(
            "total_at_least",
            gettext_lazy("Order total (gross) at least"),
            (Param("amount", gettext_lazy("amount"), "amount"),),
            condition_total_at_least,
        ),
        ConditionType(
            "total_at_most",
            gettext_lazy("Order total (gross) at most"),
            (Param("amount", gettext_lazy("amount"), "amount"),),
            condition_total_at_most,
        ),
        ConditionType(
            "shipping_country",
            gettext_lazy("Shipping country is"),
            (Param("countries", gettext_lazy("countries"), "codes", help=gettext_lazy("e.g. PL, DE, CZ")),),
            condition_shipping_country,
        ),
        ConditionType(
            "has_tag",
            gettext_lazy("Has tag"),
            (Param("tag", gettext_lazy("tag"), "text"),),
            condition_has_tag,
        ),
        ConditionType(
            "lacks_tag",
            gettext_lazy("Does not have tag"),
            (Param("tag", gettext_lazy("tag"), "text"),),
            condition_lacks_tag,
        ),
        ConditionType("all_in_stock", gettext_lazy("All lines in stock"), (), condition_all_in_stock),
        ConditionType(
            "customer_type",
            gettext_lazy("Customer type is"),
            (Param("types", gettext_lazy("customer types"), "multi", _static(CustomerType.choices)),),
            condition_customer_type,
        ),
        ConditionType(
            "status_is",
            gettext_lazy("Status is"),
            (Param("statuses", gettext_lazy("statuses"), "multi", _status_choices),),
            condition_status_is,
        ),
    )
}


def first_failing(conditions: list[dict[str, Any]], order: Order) -> dict[str, Any] | None:
    """The first condition that does not hold (None: all hold). An unknown condition type never holds.
    The stock check (queries) is looked at after the others (plain field comparisons)."""
    for cond in sorted(conditions, key=lambda c: c.get("type") == "all_in_stock"):
        ctype = CONDITIONS.get(cond.get("type", ""))
        if ctype is None or not ctype.check(order, cond):
            return cond
    return None


def describe_condition(cond: dict[str, Any]) -> str:
    ctype = CONDITIONS.get(cond.get("type", ""))
    if ctype is None:
        return _("Unknown condition %(type)s") % {"type": cond.get("type")}
    detail = describe_params(ctype.params, cond)
    return f"{ctype.label}: {detail}" if detail else str(ctype.label)


# =========================================================================================================
# Actions
# =========================================================================================================


def action_set_status(ctx: ActionContext, params: dict[str, Any]) -> str:
    from .services import order_transition

    if ctx.order.status.code == params["status"]:
        return _("Status already “%(status)s”") % {"status": ctx.order.status.name}
    order = order_transition(
        order_id=ctx.order.pk,
        status_code=params["status"],
        actor=None,
        source=ACTOR_LABEL,
        reason=_("Automation rule “%(rule)s”") % {"rule": ctx.rule.name},
    )
    return _("Status set to “%(status)s”") % {"status": order.status.name}


def action_add_tag(ctx: ActionContext, params: dict[str, Any]) -> str:
    from .services import order_tags_change

    changed = order_tags_change(order_ids=[ctx.order.pk], add=[params["tag"]], actor=None, source=ACTOR_LABEL)
    if not changed:
        return _("Tag “%(tag)s” was already there") % {"tag": params["tag"]}
    return _("Tag “%(tag)s” added") % {"tag": params["tag"]}


def action_remove_tag(ctx: ActionContext, params: dict[str, Any]) -> str:
    from .services import order_tags_change

    changed = order_tags_change(
        order_ids=[ctx.order.pk], remove=[params["tag"]], actor=None, source=ACTOR_LABEL
    )
    if not changed:
        return _("Tag “%(tag)s” was not there") % {"tag": params["tag"]}
    return _("Tag “%(tag)s” removed") % {"tag": params["tag"]}


def action_assign_warehouse(ctx: ActionContext, params: dict[str, Any]) -> str:
    from .automation_services import order_warehouse_assign

    order = order_warehouse_assign(
        order_id=ctx.order.pk, warehouse_code=params["warehouse"], actor=None, source=ACTOR_LABEL
    )
    return _("Warehouse “%(warehouse)s” assigned") % {"warehouse": order.warehouse.name}


BUILTIN_ACTIONS: dict[str, ActionType] = {
    a.code: a
    for a in (
        ActionType(
            "set_status",
            gettext_lazy("Set status"),
            (Param("status", gettext_lazy("status"), "choice", _status_choices),),
            action_set_status,
        ),
        ActionType(
            "add_tag", gettext_lazy("Add tag"), (Param("tag", gettext_lazy("tag"), "text"),), action_add_tag
        ),
        ActionType(
            "remove_tag",
            gettext_lazy("Remove tag"),
            (Param("tag", gettext_lazy("tag"), "text"),),
            action_remove_tag,
        ),
        ActionType(
            "assign_warehouse",
            gettext_lazy("Assign warehouse"),
            (Param("warehouse", gettext_lazy("warehouse"), "choice", _warehouse_choices),),
            action_assign_warehouse,
        ),
    )
}


def action_types() -> dict[str, ActionType]:
    """Built-in actions and those registered by higher modules (shipping, service)."""
    out = dict(BUILTIN_ACTIONS)
    for code, item in extensions.registered(ACTION_POINT).items():
        if isinstance(item, ActionType):
            out[code] = item
    return out


def describe_action(action: dict[str, Any]) -> str:
    atype = action_types().get(action.get("type", ""))
    if atype is None:
        return _("Unknown action %(type)s (its module is not installed)") % {"type": action.get("type")}
    detail = describe_params(atype.params, action)
    return f"{atype.label}: {detail}" if detail else str(atype.label)


def order_language(order: Order) -> str:
    """The language to write to the customer in: Polish for Polish addresses, English otherwise."""
    country = (order.shipping_country or (order.billing_address or {}).get("country") or "PL").upper()
    return "pl" if country == "PL" else "en"


# =========================================================================================================
# Running rules
# =========================================================================================================


def _load(order_id: int) -> Order | None:
    return (
        Order.objects.select_related("channel", "status", "warehouse")
        .prefetch_related("tags", "lines")
        .filter(pk=order_id)
        .first()
    )


def _rules(trigger: str) -> list[AutomationRule]:
    return list(AutomationRule.objects.filter(trigger=trigger, enabled=True).order_by("position", "id"))


def needs_run(event: str) -> bool:
    """Is there anything to do for this event (an enabled rule, or a hook)? Checked before queueing."""
    if event == events.PAID and extensions.registered(PAID_HOOK_POINT):
        return True
    trigger = TRIGGER_OF_EVENT.get(event)
    return trigger is not None and AutomationRule.objects.filter(trigger=trigger, enabled=True).exists()


@dataclass
class RunOutcome:
    looked_at: int = 0
    matched: int = 0
    failed: int = 0
    skipped: int = 0
    run_ids: list[int] = field(default_factory=list)


PASS_CHUNK = 200  # orders loaded (with tags and lines) per query; log rows of non-matches written per chunk


def _load_many(order_ids: list[int]) -> dict[int, Order]:
    return {
        o.pk: o
        for o in Order.objects.select_related("channel", "status", "warehouse")
        .prefetch_related("tags", "lines")
        .filter(pk__in=order_ids)
    }


class _Pass:
    """One evaluation pass: log rows of rules that did not match (or were skipped) are collected and written
    in one INSERT per chunk of orders; condition texts are worked out once per pass."""

    def __init__(self, trigger: str, chain: events.Chain, outcome: RunOutcome) -> None:
        self.trigger, self.chain, self.outcome = trigger, chain, outcome
        self.rows: list[AutomationRun] = []
        self._texts: dict[tuple[int, int], str] = {}

    def note(self, rule: AutomationRule, order: Order, result: str, error: str, dedupe_key: str = "") -> None:
        self.rows.append(
            AutomationRun(
                rule=rule,
                rule_name=rule.name,
                order=order,
                trigger=self.trigger,
                matched=False,
                result=result,
                error=error[:4000],
                depth=self.chain.depth,
                dedupe_key=dedupe_key,
            )
        )

    def condition_text(self, rule: AutomationRule, cond: dict[str, Any]) -> str:
        key = (rule.pk, id(cond))
        if key not in self._texts:
            self._texts[key] = describe_condition(cond)
        return self._texts[key]

    def flush(self) -> None:
        if self.rows:
            # ignore_conflicts: a "once per entry" key already taken by a concurrent pass is not an error.
            AutomationRun.objects.bulk_create(self.rows, batch_size=500, ignore_conflicts=True)
            self.rows = []


def event_process(
    *,
    event: str,
    order_ids: list[int],
    data: dict[str, Any] | None = None,
    depth: int = 0,
    fired: Iterable[Iterable[int]] = (),
) -> RunOutcome:
    """Handle one event for some orders (the worker job calls this): paid hooks first, then the enabled
    rules of the event's trigger, in order."""
    data = data or {}
    chain = events.Chain(depth=depth, fired=tuple(tuple(p) for p in fired))  # type: ignore[misc]
    outcome = RunOutcome()
    if event == events.PAID:
        for name, hook in extensions.registered(PAID_HOOK_POINT).items():
            try:
                hook(order_ids=list(order_ids))
            except Exception:
                log.exception("paid hook %s failed for %s", name, list(order_ids)[:10])
    trigger = TRIGGER_OF_EVENT.get(event)
    if trigger is None:
        return outcome
    rules = [r for r in _rules(trigger) if trigger_matches(r, data)]
    if not rules:
        return outcome
    run = _Pass(trigger, chain, outcome)
    ids = list(order_ids)
    for start in range(0, len(ids), PASS_CHUNK):
        chunk = ids[start : start + PASS_CHUNK]
        orders = _load_many(chunk)
        for order_id in chunk:
            if order_id in orders:
                _order_pass(orders[order_id], rules, run)
        run.flush()
    return outcome


def _order_pass(order: Order, rules: list[AutomationRule], run: _Pass, *, dedupe_key: str = "") -> None:
    chain, outcome = run.chain, run.outcome
    for rule in rules:
        outcome.looked_at += 1
        if chain.depth >= MAX_DEPTH or (rule.pk, order.pk) in chain.fired:
            reason = (
                _("Not run: %(n)s rules in a row were caused by each other") % {"n": chain.depth}
                if chain.depth >= MAX_DEPTH
                else _("Not run: this rule already ran for this order in the same chain of events")
            )
            outcome.skipped += 1
            run.note(rule, order, AutomationRun.Result.SKIPPED, reason)
            continue
        failing = first_failing(rule.conditions or [], order)
        if failing is not None:
            error = _("Condition not met: %(condition)s") % {"condition": run.condition_text(rule, failing)}
            run.note(rule, order, AutomationRun.Result.NO_MATCH, error, dedupe_key)
            continue
        outcome.matched += 1
        run.flush()  # the log keeps its order: what did not match before this rule acted comes first
        run_id, ok = _execute(rule, order, run.trigger, chain, dedupe_key=dedupe_key)
        if run_id:
            outcome.run_ids.append(run_id)
        if not ok:
            outcome.failed += 1
        if rule.stop_processing:
            break
        fresh = _load(order.pk)
        if fresh is None:
            return
        order = fresh


def _log(
    rule: AutomationRule,
    order: Order,
    trigger: str,
    chain: events.Chain,
    *,
    result: str,
    error: str = "",
    matched: bool = False,
    actions_done: list | None = None,
    dedupe_key: str = "",
) -> AutomationRun | None:
    try:
        with transaction.atomic():
            return AutomationRun.objects.create(
                rule=rule,
                rule_name=rule.name,
                order=order,
                trigger=trigger,
                matched=matched,
                actions_done=actions_done or [],
                result=result,
                error=error[:4000],
                depth=chain.depth,
                dedupe_key=dedupe_key,
            )
    except IntegrityError:  # the once-per-entry key was taken by a concurrent pass
        return None


def _execute(
    rule: AutomationRule, order: Order, trigger: str, chain: events.Chain, *, dedupe_key: str = ""
) -> tuple[int | None, bool]:
    """Run the rule's actions in one transaction; returns (log row id, succeeded)."""
    inner = events.Chain(depth=chain.depth + 1, fired=(*chain.fired, (rule.pk, order.pk)))
    types = action_types()
    done: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    try:
        with transaction.atomic():
            try:
                with transaction.atomic():
                    run = AutomationRun.objects.create(
                        rule=rule,
                        rule_name=rule.name,
                        order=order,
                        trigger=trigger,
                        matched=True,
                        result=AutomationRun.Result.DONE,
                        depth=chain.depth,
                        dedupe_key=dedupe_key,
                    )
            except IntegrityError:
                return None, True  # a concurrent pass already handled this entry
            with events.running(inner):
                for i, action in enumerate(rule.actions or []):
                    current = action
                    atype = types.get(action.get("type", ""))
                    if atype is None:
                        raise DomainError(
                            _("Unknown action %(type)s (its module is not installed)")
                            % {"type": action.get("type")}
                        )
                    message = atype.run(ActionContext(order=order, rule=rule, run=run, index=i), action)
                    done.append({"type": atype.code, "message": message})
                    OrderEvent.objects.create(
                        order=order,
                        kind=OrderEvent.Kind.AUTOMATION,
                        actor_label=ACTOR_LABEL,
                        message=_("Rule “%(rule)s”: %(what)s") % {"rule": rule.name, "what": message},
                        data={"rule_id": rule.pk, "run_id": run.pk, "action": atype.code},
                    )
                    fresh = _load(order.pk)
                    if fresh is None:
                        raise DomainError(_("The order was deleted"))
                    order = fresh
            run.actions_done = done
            run.save(update_fields=["actions_done"])
        return run.pk, True
    except Exception as exc:
        message = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, DomainError):
            log.exception("automation rule %s failed for order %s", rule.pk, order.pk)
        failed = {"type": current.get("type", ""), "error": str(message)}
        with transaction.atomic():
            row = _log(
                rule,
                order,
                trigger,
                chain,
                result=AutomationRun.Result.FAILED,
                matched=True,
                error=str(message),
                actions_done=[{**d, "rolled_back": True} for d in done] + [failed],
                dedupe_key=dedupe_key,
            )
            OrderEvent.objects.create(
                order=order,
                kind=OrderEvent.Kind.AUTOMATION,
                actor_label=ACTOR_LABEL,
                message=_("Rule “%(rule)s” failed, nothing was changed: %(error)s")
                % {"rule": rule.name, "error": message},
                data={"rule_id": rule.pk, "run_id": row.pk if row else None, "failed": True},
            )
        return (row.pk if row else None), False


# --- in status X for N hours ---------------------------------------------------------------------------


def _entered_at_subquery(status_code: str) -> Subquery:
    return Subquery(
        OrderEvent.objects.filter(
            order=OuterRef("pk"),
            to_status=status_code,
            kind__in=[OrderEvent.Kind.STATUS, OrderEvent.Kind.CREATED],
        )
        .order_by("-at", "-id")
        .values("at")[:1]
    )


def _entry_key(status_code: str, entered_at: dt.datetime) -> str:
    return f"{status_code}@{int(entered_at.timestamp() * 1000)}"


def orders_in_status_since(rule: AutomationRule, now: dt.datetime) -> list[tuple[int, dt.datetime]]:
    """(order id, entered at) of orders in the rule's status for at least its hours, oldest first. Only
    entries that became due after the rule was switched on count (no flood of old orders on switch-on)."""
    params = rule.trigger_params or {}
    code, hours = params.get("status"), int(params.get("hours") or 0)
    if not code or hours < 1:
        return []
    limit = now - dt.timedelta(hours=hours)
    qs = (
        Order.objects.filter(status__code=code)
        .annotate(entered_at=_entered_at_subquery(code))
        .filter(entered_at__lte=limit)
    )
    if rule.enabled_at is not None:
        qs = qs.filter(entered_at__gte=rule.enabled_at - dt.timedelta(hours=hours))
    return list(qs.order_by("entered_at", "id").values_list("pk", "entered_at"))


@dataclass
class DueReport:
    rules: int = 0
    orders: int = 0
    matched: int = 0
    failed: int = 0


def due_run(*, now: dt.datetime | None = None) -> DueReport:
    """The periodic pass: every enabled "in status X for N hours" rule, for each order that has been in X
    for N hours -- once per entry into X (the log row's key holds the entry time)."""
    now = now or timezone.now()
    report = DueReport()
    for rule in _rules(AutomationTrigger.IN_STATUS_FOR):
        report.rules += 1
        code = rule.trigger_params.get("status")
        due = orders_in_status_since(rule, now)
        if not due:
            continue
        keys = {oid: _entry_key(code, at) for oid, at in due}
        done = set(
            AutomationRun.objects.filter(
                rule=rule, order_id__in=list(keys), dedupe_key__in=set(keys.values())
            ).values_list("order_id", "dedupe_key")
        )
        todo = [oid for oid, key in keys.items() if (oid, key) not in done]
        outcome = RunOutcome()
        run = _Pass(AutomationTrigger.IN_STATUS_FOR, events.Chain(), outcome)
        for start in range(0, len(todo), PASS_CHUNK):
            orders = _load_many(todo[start : start + PASS_CHUNK])
            for oid in todo[start : start + PASS_CHUNK]:
                if oid in orders:
                    report.orders += 1
                    _order_pass(orders[oid], [rule], run, dedupe_key=keys[oid])
            run.flush()
        report.matched += outcome.matched
        report.failed += outcome.failed
    return report


# --- dry run --------------------------------------------------------------------------------------------


@dataclass
class DryRunMatch:
    order: Order
    note: str = ""


@dataclass
class DryRunResult:
    rule: AutomationRule
    checked: int
    matches: list[DryRunMatch]
    matched: int
    actions: list[str]
    truncated: bool


def dry_run(*, rule_id: int, actor=None, record: bool = True) -> DryRunResult:
    """Which open orders would match the rule now (its conditions; for "in status X for N hours" also the
    time in X). Nothing is done to any order; with `record`, one summary row goes to the rule log."""
    rule = AutomationRule.objects.filter(pk=rule_id).first()
    if rule is None:
        from zaplecze.core.errors import NotFound

        raise NotFound(_("No such automation rule"))
    now = timezone.now()
    qs = (
        Order.objects.filter(stage__in=OPEN_STAGES)
        .select_related("channel", "status")
        .prefetch_related("tags", "lines")
        .order_by("placed_at", "id")
    )
    if rule.trigger == AutomationTrigger.IN_STATUS_FOR:
        params = rule.trigger_params or {}
        code, hours = params.get("status", ""), int(params.get("hours") or 0)
        qs = (
            qs.filter(status__code=code)
            .annotate(entered_at=_entered_at_subquery(code))
            .filter(entered_at__lte=now - dt.timedelta(hours=hours))
        )
    checked = 0
    matches: list[DryRunMatch] = []
    matched = 0
    for order in qs.iterator(chunk_size=500):
        checked += 1
        if first_failing(rule.conditions or [], order) is not None:
            continue
        matched += 1
        if len(matches) < DRY_RUN_LIST_LIMIT:
            note = ""
            entered = getattr(order, "entered_at", None)
            if entered is not None:
                note = _("in this status for %(h)s h") % {"h": int((now - entered).total_seconds() // 3600)}
            matches.append(DryRunMatch(order=order, note=note))
    result = DryRunResult(
        rule=rule,
        checked=checked,
        matches=matches,
        matched=matched,
        actions=[describe_action(a) for a in rule.actions or []],
        truncated=matched > len(matches),
    )
    if record:
        AutomationRun.objects.create(
            rule=rule,
            rule_name=rule.name,
            order=None,
            trigger=rule.trigger,
            matched=bool(matched),
            result=AutomationRun.Result.DRY_RUN,
            dry_run=True,
            actor=actor if getattr(actor, "pk", None) else None,
            actions_done=[
                {"checked": checked, "matched": matched, "order_ids": [m.order.pk for m in matches[:50]]}
            ],
        )
    return result


def rule_summary(rule: AutomationRule) -> dict[str, Any]:
    """The rule in words, for lists and the CLI."""
    return {
        "trigger": describe_trigger(rule),
        "conditions": [describe_condition(c) for c in rule.conditions or []],
        "actions": [describe_action(a) for a in rule.actions or []],
    }


__all__ = [
    "ActionContext",
    "ActionType",
    "CONDITIONS",
    "ConditionType",
    "Param",
    "action_types",
    "clean_params",
    "dry_run",
    "due_run",
    "event_process",
    "order_language",
]
