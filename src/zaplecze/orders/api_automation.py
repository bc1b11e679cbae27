"""Automation rules API (thin: validation and orchestration; writes go through orders.automation_services).

Routes (mounted at /api/v1/automation), all need `settings.automation`:
  GET    /automation/types                     triggers, condition and action types with their parameters
  GET    /automation/rules                     every rule, in the order they run
  POST   /automation/rules                     create a rule (at the end of the list)
  GET    /automation/rules/{id}                one rule
  PUT    /automation/rules/{id}                replace a rule's definition (409 on a stale `version`)
  DELETE /automation/rules/{id}                delete a rule (its log stays)
  POST   /automation/rules/{id}/enable         switch on or off: {"enabled": true|false}
  POST   /automation/rules/{id}/move           {"direction": "up"|"down"}
  POST   /automation/rules/{id}/dry-run        which open orders match now (nothing is changed)
  GET    /automation/log                       the rule log: filters, newest first, keyset cursor

A rule: {"name", "trigger", "trigger_params", "conditions": [{"type", ...params}], "actions": [{"type", ...}],
"stop_processing", "enabled"}. See GET /automation/types for what each type takes.
"""

import datetime as dt
from typing import Any, Literal

from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from zaplecze.api.permissions import allow
from zaplecze.api.schemas import Id, In, errors, text

from . import automation, automation_selectors, automation_services
from .models import AutomationRule, AutomationRun, AutomationTrigger

router = Router()
PERM = "settings.automation"


# --- output -------------------------------------------------------------------------------------------


class RuleOut(Schema):
    id: int
    name: str
    position: int
    enabled: bool
    trigger: str
    trigger_params: dict[str, Any]
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    stop_processing: bool
    version: int
    enabled_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    summary: dict[str, Any] = Field(description="The rule in words: trigger, conditions, actions")

    @staticmethod
    def resolve_summary(obj: AutomationRule) -> dict[str, Any]:
        return automation.rule_summary(obj)


class RunOut(Schema):
    id: int
    at: dt.datetime
    rule_id: int | None
    rule_name: str
    order_id: int | None
    order_number: str | None
    trigger: str
    matched: bool
    result: str
    actions_done: list[Any]
    error: str
    dry_run: bool
    depth: int

    @staticmethod
    def resolve_order_number(obj: AutomationRun) -> str | None:
        return obj.order.number if obj.order_id else None


class RunPageOut(Schema):
    items: list[RunOut]
    next_cursor: str | None


class MatchOut(Schema):
    order_id: int
    number: str
    status: str
    total_gross: str
    note: str


class DryRunOut(Schema):
    rule_id: int
    checked: int = Field(description="Open orders looked at")
    matched: int
    truncated: bool = Field(description="More matched than are listed")
    actions: list[str] = Field(description="What the rule would do to each")
    matches: list[MatchOut]


class ParamOut(Schema):
    name: str
    label: str
    kind: str
    required: bool
    choices: list[list[str]] | None


class TypeOut(Schema):
    code: str
    label: str
    params: list[ParamOut]


class TypesOut(Schema):
    triggers: list[TypeOut]
    conditions: list[TypeOut]
    actions: list[TypeOut]


# --- input --------------------------------------------------------------------------------------------


class RuleIn(In):
    name: text(120, 1)
    trigger: AutomationTrigger
    trigger_params: dict[str, Any] = Field(default_factory=dict)
    conditions: list[dict[str, Any]] = Field(default_factory=list, max_length=20)
    actions: list[dict[str, Any]] = Field(min_length=1, max_length=10)
    stop_processing: bool = False
    enabled: bool = False


class RuleUpdateIn(RuleIn):
    enabled: bool | None = Field(None, description="Leave out to keep the rule on or off as it is")  # type: ignore[assignment]
    version: int | None = Field(None, ge=1, le=2**31 - 1, description="As last read; 409 when stale")


class EnableIn(In):
    enabled: bool


class MoveIn(In):
    direction: Literal["up", "down"]


class DryRunIn(In):
    record: bool = Field(True, description="Write one summary row (who, how many matched) to the rule log")


class LogQuery(In):
    rule: Id | None = None
    result: AutomationRun.Result | None = None
    trigger: AutomationTrigger | None = None
    order: text(60) = Field("", description="Order number or id")
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    matched_only: bool = Field(False, description="Leave out rules that did not match")
    cursor: text(200) | None = None
    limit: int = Field(50, ge=1, le=500)


# --- operations ---------------------------------------------------------------------------------------


def _params(spec) -> list[dict[str, Any]]:
    return [
        {
            "name": p.name,
            "label": str(p.label),
            "kind": p.kind,
            "required": p.required,
            "choices": [[v, str(label)] for v, label in p.choices()] if p.choices else None,
        }
        for p in spec
    ]


@router.get("/types", response={200: TypesOut, **errors()}, summary="What rules can be made of")
@allow(PERM)
def types(request):
    return {
        "triggers": [
            {"code": v, "label": str(label), "params": _params(automation.TRIGGER_PARAMS[v])}
            for v, label in AutomationTrigger.choices
        ],
        "conditions": [
            {"code": c.code, "label": str(c.label), "params": _params(c.params)}
            for c in automation.CONDITIONS.values()
        ],
        "actions": [
            {"code": a.code, "label": str(a.label), "params": _params(a.params)}
            for a in automation.action_types().values()
        ],
    }


@router.get("/rules", response={200: list[RuleOut], **errors()}, summary="List rules (in running order)")
@allow(PERM)
def list_rules(request):
    return list(automation_selectors.rules())


@router.post("/rules", response={201: RuleOut, **errors(400, 422)}, summary="Create a rule")
@allow(PERM)
def create_rule(request, payload: RuleIn):
    rule = automation_services.rule_create(**payload.model_dump(), actor=request.auth)
    return Status(201, rule)


@router.get("/rules/{int:rule_id}", response={200: RuleOut, **errors(404, 422)}, summary="One rule")
@allow(PERM)
def get_rule(request, rule_id: Path[Id]):
    return automation_selectors.access_rule(request.auth, rule_id)


@router.put(
    "/rules/{int:rule_id}", response={200: RuleOut, **errors(400, 404, 409, 422)}, summary="Replace a rule"
)
@allow(PERM)
def update_rule(request, rule_id: Path[Id], payload: RuleUpdateIn):
    rule = automation_selectors.access_rule(request.auth, rule_id)
    data = payload.model_dump()
    version = data.pop("version")
    return automation_services.rule_update(
        rule_id=rule.pk, expected_version=version, **data, actor=request.auth
    )


@router.delete("/rules/{int:rule_id}", response={204: None, **errors(404, 422)}, summary="Delete a rule")
@allow(PERM)
def delete_rule(request, rule_id: Path[Id]):
    rule = automation_selectors.access_rule(request.auth, rule_id)
    automation_services.rule_delete(rule_id=rule.pk, actor=request.auth)
    return Status(204, None)


@router.post(
    "/rules/{int:rule_id}/enable", response={200: RuleOut, **errors(404, 422)}, summary="Switch on or off"
)
@allow(PERM)
def enable_rule(request, rule_id: Path[Id], payload: EnableIn):
    rule = automation_selectors.access_rule(request.auth, rule_id)
    return automation_services.rule_set_enabled(rule_id=rule.pk, enabled=payload.enabled, actor=request.auth)


@router.post(
    "/rules/{int:rule_id}/move", response={200: list[RuleOut], **errors(400, 404, 422)}, summary="Reorder"
)
@allow(PERM)
def move_rule(request, rule_id: Path[Id], payload: MoveIn):
    """Moves the rule one place; answers the whole list in its new order."""
    rule = automation_selectors.access_rule(request.auth, rule_id)
    automation_services.rule_move(rule_id=rule.pk, direction=payload.direction, actor=request.auth)
    return list(automation_selectors.rules())


@router.post(
    "/rules/{int:rule_id}/dry-run",
    response={200: DryRunOut, **errors(404, 422)},
    summary="Which open orders would match now",
)
@allow(PERM)
def dry_run(request, rule_id: Path[Id], payload: DryRunIn):
    """Nothing is done to any order; with `record` (the default) one summary row goes to the rule log."""
    rule = automation_selectors.access_rule(request.auth, rule_id)
    result = automation.dry_run(rule_id=rule.pk, actor=request.auth, record=payload.record)
    return {
        "rule_id": rule.pk,
        "checked": result.checked,
        "matched": result.matched,
        "truncated": result.truncated,
        "actions": result.actions,
        "matches": [
            {
                "order_id": m.order.pk,
                "number": m.order.number,
                "status": m.order.status.code,
                "total_gross": str(m.order.total_gross),
                "note": m.note,
            }
            for m in result.matches
        ],
    }


@router.get("/log", response={200: RunPageOut, **errors(422)}, summary="The rule log")
@allow(PERM)
def run_log(request, filters: Query[LogQuery]):
    f = automation_selectors.RunFilter(
        rule_id=filters.rule,
        result=filters.result or "",
        trigger=filters.trigger or "",
        order=filters.order,
        date_from=filters.date_from,
        date_to=filters.date_to,
        include_no_match=not filters.matched_only,
    )
    page = automation_selectors.run_page(f, cursor=filters.cursor, limit=filters.limit)
    return {"items": page.items, "next_cursor": page.next_cursor}
