"""The rule editor: reads the posted form (name, trigger and its parameters, condition rows, action rows) into
a rule definition, and describes the form to the template (one row per condition/action, its parameters as
inputs: check boxes for "one or more of", selects, text and number fields). Validation is the service's
(`automation_services.rule_clean`); its error names the place (``conditions[1].amount``), which is shown on
that row."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _

from .automation import CONDITIONS, TRIGGER_PARAMS, Param, action_types
from .models import AutomationRule, AutomationTrigger

_ROW = re.compile(r"^([ca])-(\d{1,3})-type$")
_FIELD_ROW = re.compile(r"^(conditions|actions)\[(\d+)\](?:\.(\w+))?$")


def _param_value(post, prefix: str, p: Param) -> Any:
    name = f"{prefix}-{p.name}"
    if p.kind == "multi":
        return [v for v in post.getlist(name) if v]
    return (post.get(name) or "").strip()


def definition_from_post(post) -> dict[str, Any]:
    """The rule as posted, before validation (row order as on screen; removed rows dropped)."""
    trigger = post.get("trigger") or AutomationTrigger.ORDER_CREATED
    trigger_params: dict[str, Any] = {}
    for p in TRIGGER_PARAMS.get(trigger, ()):
        value = _param_value(post, "t", p)
        if value not in ("", []):
            trigger_params[p.name] = value
    rows: dict[str, list[tuple[int, str]]] = {"c": [], "a": []}
    for key in post:
        m = _ROW.match(key)
        if m:
            rows[m.group(1)].append((int(m.group(2)), post.get(key) or ""))
    op = post.get("op") or ""
    removed = set()
    if op.startswith("remove-"):
        removed.add(op[len("remove-") :])
    conditions, actions = [], []
    types = action_types()
    for kind, out, registry in (("c", conditions, CONDITIONS), ("a", actions, types)):
        for index, code in sorted(rows[kind]):
            if f"{kind}-{index}" in removed:
                continue
            item: dict[str, Any] = {"type": code}
            spec = registry.get(code)
            if spec is not None:
                for p in spec.params:
                    value = _param_value(post, f"{kind}-{index}", p)
                    if value not in ("", []):
                        item[p.name] = value
            out.append(item)
    if op == "add-condition":
        conditions.append({"type": ""})
    if op == "add-action":
        actions.append({"type": ""})
    return {
        "name": (post.get("name") or "").strip(),
        "trigger": trigger,
        "trigger_params": trigger_params,
        "conditions": conditions,
        "actions": actions,
        "stop_processing": post.get("stop_processing") in ("1", "on", "true"),
        "enabled": post.get("enabled") in ("1", "on", "true"),
        "version": post.get("version") or "",
    }


def definition_of(rule: AutomationRule | None) -> dict[str, Any]:
    if rule is None:
        return {
            "name": "",
            "trigger": AutomationTrigger.ORDER_CREATED,
            "trigger_params": {},
            "conditions": [],
            "actions": [{"type": ""}],
            "stop_processing": False,
            "enabled": False,
            "version": "",
        }
    return {
        "name": rule.name,
        "trigger": rule.trigger,
        "trigger_params": dict(rule.trigger_params or {}),
        "conditions": [dict(c) for c in rule.conditions or []],
        "actions": [dict(a) for a in rule.actions or []],
        "stop_processing": rule.stop_processing,
        "enabled": rule.enabled,
        "version": str(rule.version),
    }


def _inputs(spec, values: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    out = []
    for p in spec:
        value = values.get(p.name)
        choices = []
        if p.choices is not None:
            selected = set(value) if isinstance(value, list) else {value}
            choices = [{"value": v, "label": label, "selected": v in selected} for v, label in p.choices()]
        if p.kind == "codes" and isinstance(value, list):
            value = ", ".join(value)
        out.append(
            {
                "name": f"{prefix}-{p.name}",
                "label": p.label,
                "kind": p.kind,
                "required": p.required,
                "help": p.help,
                "value": "" if value is None or isinstance(value, list) else value,
                "choices": choices,
            }
        )
    return out


def editor_context(definition: dict[str, Any], error_field: str = "") -> dict[str, Any]:
    """Everything the editor template shows for this definition; `error_field` marks the row in error."""
    error_row = ""
    m = _FIELD_ROW.match(error_field or "")
    if m:
        error_row = f"{'c' if m.group(1) == 'conditions' else 'a'}-{m.group(2)}"
    types = action_types()
    condition_rows = []
    for i, cond in enumerate(definition["conditions"]):
        spec = CONDITIONS.get(cond.get("type", ""))
        condition_rows.append(
            {
                "prefix": f"c-{i}",
                "type": cond.get("type", ""),
                "inputs": _inputs(spec.params, cond, f"c-{i}") if spec else [],
                "error": error_row == f"c-{i}",
            }
        )
    action_rows = []
    for i, action in enumerate(definition["actions"]):
        spec = types.get(action.get("type", ""))
        action_rows.append(
            {
                "prefix": f"a-{i}",
                "type": action.get("type", ""),
                "inputs": _inputs(spec.params, action, f"a-{i}") if spec else [],
                "error": error_row == f"a-{i}",
                "unknown": bool(action.get("type")) and spec is None,
            }
        )
    return {
        "d": definition,
        "triggers": [(v, label) for v, label in AutomationTrigger.choices],
        "trigger_inputs": _inputs(
            TRIGGER_PARAMS.get(definition["trigger"], ()), definition["trigger_params"], "t"
        ),
        "condition_types": [(c.code, c.label) for c in CONDITIONS.values()],
        "action_types": [(a.code, a.label) for a in types.values()],
        "condition_rows": condition_rows,
        "action_rows": action_rows,
        "error_field": error_field,
        "trigger_error": (error_field or "").startswith("trigger"),
        "name_error": error_field == "name",
        "choose_label": _("Choose…"),
    }
