"""Writes of the Today app: refreshing exceptions from the modules' detectors, snoozing, resolving by hand,
assigning, and the morning digest.

A refresh asks a kind's detector what is wrong now and reconciles the open rows of that kind with it:
new findings open a row (owner from the shop's setting for the kind, else the kind's default role), rows
still found are updated (the evidence and due time may move), and rows no longer found are resolved as
*cleared*. Asked about some subjects only (`ids`), it reconciles only those.

Resolving by hand is for what the detector cannot see was handled (a customer called back): it holds while
the detector keeps finding the same subject with the same due time, and opens again when the due time
changes (a new deadline is a new exception)."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zaplecze.core import today as registry
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.models import User
from zaplecze.core.permissions import Role
from zaplecze.core.services import audit_record

from .models import SEVERITY_RANK, KindSetting, OpsException, TouchedSubject

log = logging.getLogger("zaplecze.today")

State = OpsException.State
MAX_NOTE = 500


@dataclass
class RefreshReport:
    opened: int = 0
    updated: int = 0
    resolved: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # kind -> error


def _settings() -> dict[str, KindSetting]:
    return {s.kind: s for s in KindSetting.objects.all()}


def _trim(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _sync(
    kind: registry.Kind,
    found: list[registry.Found],
    *,
    now: dt.datetime,
    scope: list[int] | None,
    setting: KindSetting | None,
    report: RefreshReport,
) -> None:
    by_subject = {f.subject_id: f for f in found}
    existing_qs = OpsException.objects.filter(kind=kind.code).exclude(state=State.RESOLVED)
    if scope is not None:
        existing_qs = existing_qs.filter(subject_id__in=scope)
    existing = {e.subject_id: e for e in existing_qs}
    # By-hand resolutions that still hold (same subject, same due time).
    held = {
        (sid, due)
        for sid, due in OpsException.objects.filter(
            kind=kind.code, state=State.RESOLVED, resolved_how="by_hand", subject_id__in=list(by_subject)
        ).values_list("subject_id", "due_at")
    }
    changed, new = [], []
    for sid, f in by_subject.items():
        severity = f.severity or kind.severity
        data = dict(f.data)
        if isinstance(f.label, (tuple, list)):
            data["label_msg"] = list(f.label)
        if isinstance(f.why, (tuple, list)):
            data["why_msg"] = list(f.why)
        values = {
            "label": _trim(registry.render(f.label), 200),
            "why": _trim(registry.render(f.why), 500),
            "url": f.url[:300],
            "due_at": f.due_at,
            "severity": severity,
            "rank": SEVERITY_RANK[severity],
            "data": data,
        }
        row = existing.get(sid)
        if row is None:
            if (sid, f.due_at) in held:
                continue
            new.append(
                OpsException(
                    kind=kind.code,
                    area=kind.area,
                    subject_type=kind.subject_type,
                    subject_id=sid,
                    owner_role=(setting.owner_role if setting and setting.owner_role else kind.owner_role),
                    owner_id=setting.owner_id if setting else None,
                    opened_at=now,
                    seen_at=now,
                    **values,
                )
            )
            continue
        if row.state == State.SNOOZED and row.snoozed_until and row.snoozed_until <= now:
            row.state, row.snoozed_until = State.OPEN, None
            values["state"] = State.OPEN
        if any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            row.seen_at = now
            changed.append(row)
    gone = [e.pk for sid, e in existing.items() if sid not in by_subject]
    with transaction.atomic():
        if new:
            try:
                with transaction.atomic():
                    OpsException.objects.bulk_create(new, batch_size=500)
            except IntegrityError:  # a concurrent refresh opened some of them: insert one by one
                for row in new:
                    try:
                        with transaction.atomic():
                            row.save()
                    except IntegrityError:
                        continue
            report.opened += len(new)
        if changed:
            OpsException.objects.bulk_update(
                changed,
                [
                    "label",
                    "why",
                    "url",
                    "due_at",
                    "severity",
                    "rank",
                    "data",
                    "state",
                    "snoozed_until",
                    "seen_at",
                ],
                batch_size=500,
            )
            report.updated += len(changed)
        if gone:
            report.resolved += OpsException.objects.filter(pk__in=gone).update(
                state=State.RESOLVED, resolved_at=now, resolved_how="cleared", snoozed_until=None
            )


def exceptions_refresh(
    *, kinds: list[str] | None = None, now: dt.datetime | None = None, ids: list[int] | None = None
) -> RefreshReport:
    """Ask each (or the named) kind's detector and reconcile. A failing detector is reported and skipped:
    its open rows stay as they were (never resolved because a query failed)."""
    now = now or timezone.now()
    report = RefreshReport()
    settings_by_kind = _settings()
    for code, kind in sorted(registry.kinds().items()):
        if kinds is not None and code not in kinds:
            continue
        setting = settings_by_kind.get(code)
        if setting is not None and not setting.enabled:
            OpsException.objects.filter(kind=code).exclude(state=State.RESOLVED).update(
                state=State.RESOLVED, resolved_at=now, resolved_how="switched_off"
            )
            continue
        try:
            found = list(kind.detect(now=now, ids=ids))
        except Exception as exc:  # noqa: BLE001 - one module's bug must not stop the others
            log.exception("exception detector %s failed", code)
            report.failed[code] = str(exc)[:300]
            continue
        _sync(kind, found, now=now, scope=ids, setting=setting, report=report)
    # Snoozes that ran out show again even for kinds whose findings did not change.
    OpsException.objects.filter(state=State.SNOOZED, snoozed_until__lte=now).update(
        state=State.OPEN, snoozed_until=None
    )
    return report


def touched(subject_type: str, ids: list[int]) -> None:
    """`core.today.touch`: remember the subjects; the next run (every minute) looks at them again."""
    TouchedSubject.objects.bulk_create(
        [TouchedSubject(subject_type=subject_type, subject_id=i) for i in ids], ignore_conflicts=True
    )


def touched_refresh(*, now: dt.datetime | None = None, limit: int = 5000) -> RefreshReport:
    """Refresh the kinds about the subjects touched since the last run, and forget them."""
    now = now or timezone.now()
    report = RefreshReport()
    rows = list(TouchedSubject.objects.order_by("id")[:limit])
    if not rows:
        return report
    by_type: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        by_type[r.subject_type].append(r.subject_id)
    for subject_type, ids in by_type.items():
        codes = [c for c, k in registry.kinds().items() if k.subject_type == subject_type]
        if codes:
            part = exceptions_refresh(kinds=codes, now=now, ids=ids)
            report.opened += part.opened
            report.updated += part.updated
            report.resolved += part.resolved
            report.failed.update(part.failed)
    TouchedSubject.objects.filter(pk__in=[r.pk for r in rows]).delete()
    return report


# --- by hand ------------------------------------------------------------------------------------------


def _get(exception_id: int) -> OpsException:
    try:
        return OpsException.objects.get(pk=exception_id)
    except OpsException.DoesNotExist:
        raise NotFound(_("No such exception")) from None


def exception_snooze(*, exception_id: int, until: dt.datetime, actor: User) -> OpsException:
    now = timezone.now()
    if timezone.is_naive(until):
        raise DomainError(_("Give the time with its time zone"), field="until")
    if until <= now:
        raise DomainError(_("Snooze until a time in the future"), field="until")
    if until > now + dt.timedelta(days=90):
        raise DomainError(_("Snooze for at most 90 days"), field="until")
    with transaction.atomic():
        row = OpsException.objects.select_for_update().get(pk=_get(exception_id).pk)
        if row.state == State.RESOLVED:
            raise DomainError(_("This exception is already resolved"), code="resolved")
        row.state, row.snoozed_until = State.SNOOZED, until
        row.save(update_fields=["state", "snoozed_until"])
        audit_record(
            actor=actor,
            action="today.snooze",
            obj_type="ops_exception",
            obj_id=row.pk,
            changes={"until": [None, until.isoformat()]},
        )
    return row


def exception_unsnooze(*, exception_id: int, actor: User) -> OpsException:
    with transaction.atomic():
        row = OpsException.objects.select_for_update().get(pk=_get(exception_id).pk)
        if row.state == State.SNOOZED:
            row.state, row.snoozed_until = State.OPEN, None
            row.save(update_fields=["state", "snoozed_until"])
            audit_record(
                actor=actor, action="today.unsnooze", obj_type="ops_exception", obj_id=row.pk, changes={}
            )
    return row


def exception_resolve(*, exception_id: int, note: str, actor: User) -> OpsException:
    note = " ".join((note or "").split())
    if not note:
        raise DomainError(_("Say in a few words how it was handled"), field="note")
    if len(note) > MAX_NOTE:
        raise DomainError(
            _("The note is too long (at most %(n)d characters)") % {"n": MAX_NOTE}, field="note"
        )
    with transaction.atomic():
        row = OpsException.objects.select_for_update().get(pk=_get(exception_id).pk)
        if row.state == State.RESOLVED:
            raise DomainError(_("This exception is already resolved"), code="resolved")
        row.state, row.resolved_at, row.resolved_by = State.RESOLVED, timezone.now(), actor
        row.resolved_how, row.note, row.snoozed_until = "by_hand", note, None
        row.save(
            update_fields=["state", "resolved_at", "resolved_by", "resolved_how", "note", "snoozed_until"]
        )
        audit_record(
            actor=actor,
            action="today.resolve",
            obj_type="ops_exception",
            obj_id=row.pk,
            changes={"note": ["", note]},
        )
    return row


def exception_assign(*, exception_id: int, user_id: int | None, actor: User) -> OpsException:
    owner = None
    if user_id:
        owner = User.objects.filter(pk=user_id, is_active=True).first()
        if owner is None:
            raise DomainError(_("No such active user"), field="owner")
    with transaction.atomic():
        row = OpsException.objects.select_for_update().get(pk=_get(exception_id).pk)
        before = row.owner_id
        row.owner = owner
        row.save(update_fields=["owner"])
        audit_record(
            actor=actor,
            action="today.assign",
            obj_type="ops_exception",
            obj_id=row.pk,
            changes={"owner": [before, user_id]},
        )
    return row


def exception_act(*, exception_id: int, action: str, actor: User) -> str:
    """Run a kind's quick action on the exception's subject, then ask the detector about that subject again
    (so a fixed exception leaves the page at once)."""
    from zaplecze.core.permissions import user_has

    row = _get(exception_id)
    kind = registry.kinds().get(row.kind)
    quick = next((a for a in (kind.actions if kind else ()) if a.code == action), None)
    if quick is None:
        raise DomainError(_("This exception offers no such action"), field="action")
    if quick.permission and not user_has(actor, quick.permission):
        from zaplecze.core.errors import PermissionDenied

        raise PermissionDenied(_("You may not do this"))
    message = quick.run(subject_id=row.subject_id, actor=actor)
    exceptions_refresh(kinds=[row.kind], ids=[row.subject_id])
    return message


def kind_setting_save(
    *, kind: str, enabled: bool, owner_role: str, owner_id: int | None, actor: User
) -> KindSetting:
    if kind not in registry.kinds():
        raise DomainError(_("Unknown exception kind %(kind)s") % {"kind": kind}, field="kind")
    if owner_role and owner_role not in Role.values:
        raise DomainError(_("Unknown role %(role)s") % {"role": owner_role}, field="owner_role")
    if owner_id and not User.objects.filter(pk=owner_id, is_active=True).exists():
        raise DomainError(_("No such active user"), field="owner")
    with transaction.atomic():
        setting, _created = KindSetting.objects.update_or_create(
            kind=kind, defaults={"enabled": enabled, "owner_role": owner_role, "owner_id": owner_id or None}
        )
        audit_record(
            actor=actor,
            action="today.kind_setting",
            obj_type="today_kind",
            obj_id=setting.pk,
            changes={"enabled": [None, enabled], "owner_role": [None, owner_role], "owner": [None, owner_id]},
        )
    return setting


# --- the morning digest ------------------------------------------------------------------------------------


def preference_set(*, user: User, digest: bool) -> None:
    from .models import Preference

    Preference.objects.update_or_create(user=user, defaults={"digest": digest})


def digest_for(user: User, *, now: dt.datetime) -> dict:
    """What the morning e-mail tells one person: their open exceptions, those that became due since
    yesterday morning, and those resolved yesterday."""
    from . import selectors

    since = now - dt.timedelta(days=1)
    mine = selectors.exceptions_list(user, selectors.TodayFilter(owner="mine"), now=now)
    due = [e for e in mine if e.due_at and since <= e.due_at <= now]
    visible = selectors.visible_kinds(user)
    resolved = list(
        OpsException.objects.filter(kind__in=visible, state=State.RESOLVED, resolved_at__gte=since)
        .filter(models_q_mine(user))
        .order_by("-resolved_at")[:200]
    )
    return {"open": mine, "due": due, "resolved": resolved}


def models_q_mine(user: User):
    from django.db.models import Q

    return Q(owner=user) | Q(owner__isnull=True, owner_role=user.role)


def digests_send(*, now: dt.datetime | None = None) -> int:
    """One e-mail per active person with an address and the digest on, when there is anything to tell;
    idempotent per person and day."""
    from django.conf import settings
    from django.template.loader import render_to_string

    from zaplecze.core import extensions
    from zaplecze.core.businesstime import local_date

    from .models import Preference

    send = extensions.get("staff.notify", "email_user")
    if send is None:
        log.warning("today digest: no staff.notify email_user registered")
        return 0
    now = now or timezone.now()
    off = set(Preference.objects.filter(digest=False).values_list("user_id", flat=True))
    sent = 0
    day = local_date(now)
    base = getattr(settings, "BASE_URL", "").rstrip("/")
    for user in User.objects.filter(is_active=True).exclude(email="").exclude(pk__in=off).order_by("pk"):
        data = digest_for(user, now=now)
        if not (data["open"] or data["resolved"]):
            continue

        def subject(data=data):
            return _("Today: %(open)d open, %(due)d due since yesterday") % {
                "open": len(data["open"]),
                "due": len(data["due"]),
            }

        def body(data=data, user=user, base=base):
            return render_to_string("today/email/digest.txt", {"data": data, "user": user, "base": base})

        with transaction.atomic():
            sent += bool(send(key=f"today-digest:{day}:{user.pk}", kind="today_digest", user_id=user.pk,
                              subject=subject, body=body))  # fmt: skip
    return sent
