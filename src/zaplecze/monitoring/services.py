"""Every write of storefront monitoring: checks (create, update, delete), running checks and recording their
results, incidents (opened after `confirm_failures` failures in a row, closed by the first success; TLS
expiry warnings), staff e-mails on open and close, IT tickets from incidents, and the nightly roll-up.

Each write is one transaction. Staff e-mails go through the "staff.notify" extension point (the outbox of
customer service, in each user's language), queued in the same transaction and sent after commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, Max, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from zaplecze.core import extensions
from zaplecze.core.errors import Conflict, DomainError, IllegalTransition, NotFound
from zaplecze.core.models import User
from zaplecze.core.services import audit_record, diff

from .models import (
    RESULTS_KEEP_DAYS,
    CheckDay,
    CheckKind,
    CheckResult,
    CheckState,
    Incident,
    IncidentKind,
    IncidentState,
    StorefrontCheck,
)
from .probe import ProbeResult, probe

log = logging.getLogger("zaplecze.monitoring")

MAX_WORKERS = 8  # probes run in at most this many threads at once
LIMITS = {
    "interval_minutes": (1, 1440),
    "timeout_seconds": (1, 30),
    "confirm_failures": (1, 10),
    "tls_warning_days": (0, 365),
    "expected_status": (100, 599),
}
FIELDS = (
    "name",
    "url",
    "kind",
    "expected_text",
    "expected_status",
    "interval_minutes",
    "timeout_seconds",
    "confirm_failures",
    "tls_warning_days",
    "verify_tls",
    "enabled",
)
DEFAULTS: dict[str, Any] = {
    "kind": CheckKind.OTHER,
    "expected_text": "",
    "expected_status": 200,
    "interval_minutes": 5,
    "timeout_seconds": 10,
    "confirm_failures": 2,
    "tls_warning_days": 14,
    "verify_tls": True,
    "enabled": True,
}

ProbeFn = Callable[[StorefrontCheck], ProbeResult]


# --- checks ----------------------------------------------------------------------------------------------


def _clean_url(value: Any) -> str:
    url = str(value or "").strip()
    if not url:
        raise DomainError(_("Enter the address of the page to check."), field="url")
    if len(url) > 500:
        raise DomainError(_("The address is longer than 500 characters."), field="url")
    if any(c.isspace() for c in url):
        raise DomainError(_("The address must not contain spaces."), field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DomainError(_("%(url)s is not a valid address.") % {"url": url[:100]}, field="url") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise DomainError(
            _("Only http:// and https:// addresses can be checked (got %(scheme)s).")
            % {"scheme": (parts.scheme or _("no scheme"))[:20]},
            field="url",
        )
    if not parts.hostname or parts.username or parts.password or (port is not None and port == 0):
        raise DomainError(_("%(url)s is not a valid address.") % {"url": url[:100]}, field="url")
    return url


def _int(values: Mapping[str, Any], field: str) -> int:
    raw = values[field]
    low, high = LIMITS[field]
    if isinstance(raw, bool):
        raw = None
    try:
        number = int(str(raw).strip()) if raw is not None else None
    except ValueError:
        number = None
    labels = {
        "interval_minutes": _("The interval"),
        "timeout_seconds": _("The timeout"),
        "confirm_failures": _("Failures before an incident"),
        "tls_warning_days": _("The TLS warning"),
        "expected_status": _("The expected status"),
    }
    if number is None or not low <= number <= high:
        raise DomainError(
            _("%(what)s must be a whole number from %(low)s to %(high)s.")
            % {"what": labels[field], "low": low, "high": high},
            field=field,
        )
    return number


def _clean(values: Mapping[str, Any], current: StorefrontCheck | None = None) -> dict[str, Any]:
    """Validate a full set of check fields (missing ones from `current` or the defaults)."""
    base = {f: getattr(current, f) for f in FIELDS} if current else {"name": "", "url": "", **DEFAULTS}
    unknown = set(values) - set(FIELDS)
    if unknown:
        field = sorted(unknown)[0]
        raise DomainError(_("Unknown field %(field)s") % {"field": field}, field=field)
    data = {**base, **{k: v for k, v in values.items() if v is not None or k == "expected_text"}}
    out: dict[str, Any] = {}
    out["name"] = str(data["name"] or "").strip()
    if not out["name"]:
        raise DomainError(_("Give the check a name."), field="name")
    if len(out["name"]) > 120:
        raise DomainError(_("The name is longer than 120 characters."), field="name")
    out["url"] = _clean_url(data["url"])
    if data["kind"] not in CheckKind.values:
        raise DomainError(
            _("Unknown kind %(value)s; choose one of %(choices)s.")
            % {"value": str(data["kind"])[:30], "choices": ", ".join(CheckKind.values)},
            field="kind",
        )
    out["kind"] = data["kind"]
    out["expected_text"] = str(data["expected_text"] or "").strip()
    if len(out["expected_text"]) > 200:
        raise DomainError(_("The expected text is longer than 200 characters."), field="expected_text")
    for field in LIMITS:
        out[field] = _int(data, field)
    for field in ("verify_tls", "enabled"):
        if not isinstance(data[field], bool):
            raise DomainError(_("%(field)s must be true or false.") % {"field": field}, field=field)
        out[field] = data[field]
    return out


def check_create(*, values: Mapping[str, Any], actor: User | None) -> StorefrontCheck:
    data = _clean(values)
    now = timezone.now()
    with transaction.atomic():
        check = StorefrontCheck.objects.create(
            **data,
            state=CheckState.PENDING if data["enabled"] else CheckState.PAUSED,
            next_run_at=now if data["enabled"] else None,
            created_at=now,
            updated_at=now,
        )
        audit_record(
            obj_type="monitoring.check",
            obj_id=check.pk,
            action="created",
            actor=actor,
            changes={k: [None, v] for k, v in data.items()},
        )
    return check


def _lock_check(check_id: int) -> StorefrontCheck:
    check = StorefrontCheck.objects.select_for_update().filter(pk=check_id).first()
    if check is None:
        raise NotFound(_("No such check"), field="check_id")
    return check


def check_update(*, check_id: int, values: Mapping[str, Any], actor: User | None) -> StorefrontCheck:
    """Change some fields of a check (the others stay). Pausing a check closes its open incidents."""
    with transaction.atomic():
        check = _lock_check(check_id)
        before = {f: getattr(check, f) for f in FIELDS}
        data = _clean(values, check)
        changes = diff(before, data)
        if not changes:
            return check
        now = timezone.now()
        for field, value in data.items():
            setattr(check, field, value)
        if not check.enabled:
            check.next_run_at = None
            for incident in Incident.objects.select_for_update().filter(check_ref=check, state="open"):
                _close(incident, now, note=_("The check was paused."), notify=False)
        elif not before["enabled"] or "interval_minutes" in changes or "url" in changes:
            check.next_run_at = now
        if "url" in changes:
            check.tls_days_left = None
        check.state = _state(check)
        check.updated_at = now
        check.save(update_fields=[*FIELDS, "next_run_at", "tls_days_left", "state", "updated_at"])
        audit_record(
            obj_type="monitoring.check", obj_id=check.pk, action="updated", actor=actor, changes=changes
        )
    return check


def check_delete(*, check_id: int, actor: User | None) -> None:
    """Delete a check with its results and incidents (tickets opened from them stay in customer service)."""
    with transaction.atomic():
        check = _lock_check(check_id)
        audit_record(
            obj_type="monitoring.check",
            obj_id=check.pk,
            action="deleted",
            actor=actor,
            changes={"name": [check.name, None], "url": [check.url, None]},
        )
        check.delete()


# --- running checks --------------------------------------------------------------------------------------


def probe_check(check: StorefrontCheck) -> ProbeResult:
    """The real probe of a check (tests pass their own `probe_fn` to the runners only to make time stand still)."""
    return probe(
        check.url,
        expected_status=check.expected_status,
        expected_text=check.expected_text,
        timeout=check.timeout_seconds,
        verify_tls=check.verify_tls,
    )


def _safe_probe(fn: ProbeFn, check: StorefrontCheck) -> ProbeResult:
    try:
        return fn(check)
    except Exception as exc:  # noqa: BLE001 - one broken probe never stops the others
        log.exception("probe of check %s crashed", check.pk)
        return ProbeResult(ok=False, error=f"probe crashed: {type(exc).__name__}: {exc}"[:300])


def _next_slot(now: dt.datetime, minutes: int) -> dt.datetime:
    """The next run, on a whole minute so the every-minute tick never misses it by a few seconds."""
    return (now + dt.timedelta(minutes=minutes)).replace(second=0, microsecond=0)


def checks_claim_due(*, now: dt.datetime | None = None) -> list[StorefrontCheck]:
    """Take the enabled checks whose time has come and move their next run one interval on. The move is a
    conditional update, so two workers never both claim the same check for the same slot."""
    now = now or timezone.now()
    claimed = []
    due = StorefrontCheck.objects.filter(enabled=True).filter(
        Q(next_run_at__isnull=True) | Q(next_run_at__lte=now)
    )
    for check in due.order_by("next_run_at", "pk"):
        taken = StorefrontCheck.objects.filter(
            pk=check.pk, enabled=True, next_run_at=check.next_run_at
        ).update(next_run_at=_next_slot(now, check.interval_minutes))
        if taken:
            claimed.append(check)
    return claimed


def checks_run(
    checks: Iterable[StorefrontCheck],
    *,
    probe_fn: ProbeFn | None = None,
    max_workers: int = MAX_WORKERS,
    clock: Callable[[], dt.datetime] = timezone.now,
) -> list[CheckResult]:
    """Probe the checks concurrently (threads, at most `max_workers`) and record each result as it comes in
    (in this thread: the probes never touch the database). A failing or crashing check never blocks the
    others: its probe is bounded by its timeout and any error becomes a failed result."""
    checks = list(checks)
    if not checks:
        return []
    fn = probe_fn or probe_check
    results: list[CheckResult] = []
    with ThreadPoolExecutor(
        max_workers=max(1, min(max_workers, len(checks))), thread_name_prefix="monitor"
    ) as pool:
        futures = {pool.submit(_safe_probe, fn, check): check for check in checks}
        for future in as_completed(futures):
            check = futures[future]
            try:
                results.append(result_record(check_id=check.pk, outcome=future.result(), at=clock()))
            except NotFound:
                pass  # deleted while it was being checked
            except Exception:
                log.exception("recording the result of check %s failed", check.pk)
    return results


def checks_run_due(
    *, now: dt.datetime | None = None, probe_fn: ProbeFn | None = None, max_workers: int = MAX_WORKERS
) -> list[CheckResult]:
    """The worker's every-minute job: run every check that is due."""
    return checks_run(checks_claim_due(now=now), probe_fn=probe_fn, max_workers=max_workers)


def check_run(
    *,
    check_id: int,
    actor: User | None = None,
    probe_fn: ProbeFn | None = None,
    at: dt.datetime | None = None,
) -> CheckResult:
    """Run one check now ("Run now"), whether it is due or not; records the result like a scheduled run."""
    check = StorefrontCheck.objects.filter(pk=check_id).first()
    if check is None:
        raise NotFound(_("No such check"), field="check_id")
    outcome = _safe_probe(probe_fn or probe_check, check)
    return result_record(check_id=check.pk, outcome=outcome, at=at or timezone.now())


def _state(check: StorefrontCheck) -> str:
    if not check.enabled:
        return CheckState.PAUSED
    if check.last_checked_at is None:
        return CheckState.PENDING
    open_kinds = set(
        Incident.objects.filter(check_ref=check, state=IncidentState.OPEN).values_list("kind", flat=True)
    )
    if IncidentKind.DOWN in open_kinds:
        return CheckState.DOWN
    if check.consecutive_failures:
        return CheckState.FAILING
    if IncidentKind.TLS in open_kinds:
        return CheckState.WARNING
    return CheckState.UP


def result_record(*, check_id: int, outcome: ProbeResult, at: dt.datetime) -> CheckResult:
    """Store one probe's outcome and move the check's incidents: an outage opens after `confirm_failures`
    failures in a row and closes on the first success; a TLS warning opens when the certificate has at most
    `tls_warning_days` left and closes when it has more (or the page is no longer HTTPS)."""
    with transaction.atomic():
        check = _lock_check(check_id)
        result = CheckResult.objects.create(
            check_ref=check,
            at=at,
            ok=outcome.ok,
            status_code=outcome.status_code,
            response_ms=outcome.response_ms,
            error=(outcome.error or "")[:300],
            tls_days=outcome.tls_days,
        )
        check.consecutive_failures = 0 if outcome.ok else check.consecutive_failures + 1
        opened = {
            i.kind: i for i in Incident.objects.select_for_update().filter(check_ref=check, state="open")
        }
        down = opened.get(IncidentKind.DOWN)
        if outcome.ok:
            if down is not None:
                _close(down, at, note="", notify=True)
        elif down is not None:
            down.last_failing_result = result
            down.failures += 1
            down.save(update_fields=["last_failing_result", "failures"])
        elif check.consecutive_failures >= check.confirm_failures:
            streak = list(
                CheckResult.objects.filter(check_ref=check).order_by("-at", "-id")[
                    : check.consecutive_failures
                ]
            )
            first = streak[-1] if streak else result
            _open(check, IncidentKind.DOWN, at=first.at, cause=result.error, first=first, last=result,
                  failures=check.consecutive_failures)  # fmt: skip
        tls = opened.get(IncidentKind.TLS)
        if outcome.tls_days is not None:
            expiring = check.tls_warning_days > 0 and outcome.tls_days <= check.tls_warning_days
            if expiring and tls is None:
                _open(check, IncidentKind.TLS, at=at, cause=_tls_cause(outcome), first=result, last=result)
            elif expiring and tls is not None:
                tls.last_failing_result = result
                tls.save(update_fields=["last_failing_result"])
            elif not expiring and tls is not None:
                _close(tls, at, note="", notify=True)
        elif tls is not None and outcome.ok and not check.url.lower().startswith("https:"):
            _close(tls, at, note="", notify=False)
        check.last_checked_at = at
        check.last_response_ms = outcome.response_ms
        check.last_error = (outcome.error or "")[:300]
        if outcome.tls_days is not None or not check.url.lower().startswith("https:"):
            check.tls_days_left = outcome.tls_days
        check.state = _state(check)
        check.save(
            update_fields=[
                "consecutive_failures",
                "last_checked_at",
                "last_response_ms",
                "last_error",
                "tls_days_left",
                "state",
            ]
        )
    return result


def _tls_cause(outcome: ProbeResult) -> str:
    expires = outcome.tls_expires_at.date().isoformat() if outcome.tls_expires_at else "?"
    if outcome.tls_days is not None and outcome.tls_days < 0:
        return f"TLS certificate expired on {expires}"
    return f"TLS certificate expires on {expires} ({outcome.tls_days} days left)"


def _open(check, kind, *, at, cause, first, last, failures: int = 1) -> Incident | None:
    try:
        with transaction.atomic():
            incident = Incident.objects.create(
                check_ref=check,
                kind=kind,
                opened_at=at,
                cause=(cause or "")[:300],
                first_failing_result=first,
                last_failing_result=last,
                failures=failures,
            )
    except IntegrityError:
        return None  # another worker opened it a moment ago (one open incident per kind and check)
    if _notify(incident, opened=True):
        incident.notified_open_at = timezone.now()
        incident.save(update_fields=["notified_open_at"])
    log.warning("monitoring incident opened: %s %s (%s)", check.name, kind, cause)
    return incident


def _close(incident: Incident, at: dt.datetime, *, note: str, notify: bool) -> None:
    if not incident.can_move_to(IncidentState.CLOSED):
        raise IllegalTransition(_("The incident is already closed."), field="state")
    incident.state = IncidentState.CLOSED
    incident.closed_at = max(at, incident.opened_at)
    incident.close_note = note[:300]
    fields = ["state", "closed_at", "close_note"]
    if notify and _notify(incident, opened=False):
        incident.notified_close_at = timezone.now()
        fields.append("notified_close_at")
    incident.save(update_fields=fields)
    log.info("monitoring incident closed: %s", incident)


# --- notifications ---------------------------------------------------------------------------------------


def _local(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def _duration(delta: dt.timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return _("%(n)s min") % {"n": minutes}
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _("%(h)s h %(m)s min") % {"h": hours, "m": minutes}
    return _("%(d)s days %(h)s h") % {"d": hours // 24, "h": hours % 24}


def incident_subject(incident: Incident, *, opened: bool) -> str:
    name = incident.check_ref.name
    if incident.kind == IncidentKind.TLS:
        if opened:
            return _("TLS certificate expires soon: %(name)s") % {"name": name}
        return _("TLS certificate renewed: %(name)s") % {"name": name}
    if opened:
        return _("Shop page down: %(name)s") % {"name": name}
    return _("Shop page back up: %(name)s") % {"name": name}


def incident_body(incident: Incident, *, opened: bool) -> str:
    check = incident.check_ref
    values = {
        "name": check.name,
        "url": check.url,
        "since": _local(incident.opened_at),
        "cause": incident.cause or "—",
        "n": incident.failures,
        "at": _local(incident.closed_at) if incident.closed_at else "",
        "duration": _duration(incident.duration),
    }
    if incident.kind == IncidentKind.TLS:
        text = (
            _("The HTTPS certificate of %(name)s (%(url)s) needs renewing: %(cause)s. Renew it before it expires, or customers' browsers will refuse the shop.")
            if opened
            else _("The HTTPS certificate of %(name)s (%(url)s) is no longer close to expiry (warning since %(since)s).")
        ) % values  # fmt: skip
    elif opened:
        text = (
            _("%(name)s (%(url)s) has failed %(n)s checks in a row since %(since)s.\nCause: %(cause)s")
            % values
        )
    else:
        text = (
            _("%(name)s (%(url)s) answers again since %(at)s, after %(duration)s down.\nCause was: %(cause)s")
            % values
        )
    link = settings.BASE_URL.rstrip("/") + reverse("monitoring:check", args=[check.pk])
    return text + "\n\n" + _("Details, history and an IT ticket: %(link)s") % {"link": link}


def _notify(incident: Incident, *, opened: bool) -> int:
    send = extensions.get("staff.notify", "email")
    if send is None:
        log.warning("monitoring incident %s: no staff.notify registered", incident.pk)
        return 0
    return send(
        key=f"monitoring:incident:{incident.pk}:{'open' if opened else 'close'}",
        kind="monitoring_incident",
        roles=["admin", "organiser"],
        subject=lambda: incident_subject(incident, opened=opened),
        body=lambda: incident_body(incident, opened=opened),
    )


# --- incidents -------------------------------------------------------------------------------------------


def _lock_incident(incident_id: int) -> Incident:
    incident = Incident.objects.select_for_update().select_related("check_ref").filter(pk=incident_id).first()
    if incident is None:
        raise NotFound(_("No such incident"), field="incident_id")
    return incident


def incident_close(*, incident_id: int, actor: User | None, note: str = "") -> Incident:
    """Close an incident by hand (e.g. a planned outage). A check that keeps failing opens a new one."""
    note = (note or "").strip()
    if len(note) > 300:
        raise DomainError(_("The note is longer than 300 characters."), field="note")
    with transaction.atomic():
        incident = _lock_incident(incident_id)
        _close(incident, timezone.now(), note=note or _("Closed by hand."), notify=True)
        check = StorefrontCheck.objects.select_for_update().get(pk=incident.check_ref_id)
        check.state = _state(check)
        check.save(update_fields=["state"])
        audit_record(
            obj_type="monitoring.incident",
            obj_id=incident.pk,
            action="closed",
            actor=actor,
            changes={"state": [IncidentState.OPEN, IncidentState.CLOSED]},
            reason=note,
        )
    return incident


def _ticket_email(actor: User | None) -> str:
    if actor is not None and actor.email:
        return actor.email
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ") or "localhost"
    if "." not in domain:
        domain += ".local"
    return f"monitoring@{domain}"


def incident_open_ticket(*, incident_id: int, actor: User | None) -> Incident:
    """Open a ticket in the IT queue of customer service for the incident and link it (once: a second call
    raises Conflict naming the ticket). The ticket is tagged "monitoring"."""
    from zaplecze.service import services as service

    with transaction.atomic():
        incident = _lock_incident(incident_id)
        if incident.ticket_id is not None:
            raise Conflict(
                _("The incident already has ticket %(number)s.") % {"number": f"T-{incident.ticket_id:06d}"},
                field="ticket",
                ticket_id=incident.ticket_id,
            )
        check = incident.check_ref
        link = settings.BASE_URL.rstrip("/") + reverse("monitoring:check", args=[check.pk])
        subject = incident_subject(incident, opened=True)
        body = "\n".join(
            [
                _("Incident #%(id)s of the storefront check %(name)s (%(kind)s).")
                % {"id": incident.pk, "name": check.name, "kind": check.get_kind_display()},
                _("Address: %(url)s") % {"url": check.url},
                _("Opened: %(at)s") % {"at": _local(incident.opened_at)},
                _("State: %(state)s") % {"state": incident.get_state_display()}
                + (f" ({_local(incident.closed_at)})" if incident.closed_at else ""),
                _("Cause: %(cause)s") % {"cause": incident.cause or "—"},
                _("Failed checks: %(n)s") % {"n": incident.failures},
                "",
                link,
            ]
        )
        language = (getattr(actor, "language", "") or "").strip() or "pl"
        ticket = service.ticket_create(
            subject=f"[IT] {subject}",
            body=body,
            email=_ticket_email(actor),
            name=_("Shop monitoring"),
            queue="it",
            priority="urgent" if incident.kind == IncidentKind.DOWN and incident.state == "open" else "high",
            channel="staff",
            language=language,
            actor=actor,
        )
        service.ticket_update(ticket_id=ticket.pk, actor=actor, tags=["monitoring"])
        incident.ticket = ticket
        incident.save(update_fields=["ticket"])
        audit_record(
            obj_type="monitoring.incident",
            obj_id=incident.pk,
            action="ticket",
            actor=actor,
            changes={"ticket": [None, ticket.pk]},
        )
    return incident


# --- retention -------------------------------------------------------------------------------------------


def results_roll_up(*, now: dt.datetime | None = None, keep_days: int = RESULTS_KEEP_DAYS) -> dict[str, int]:
    """Roll every finished UTC day that still has raw results up into `CheckDay` rows (one grouped query per
    day; re-running recomputes the same figures) and delete raw results older than `keep_days` days."""
    now = now or timezone.now()
    today = now.astimezone(dt.UTC).date()
    cutoff = dt.datetime.combine(today - dt.timedelta(days=keep_days), dt.time.min, tzinfo=dt.UTC)
    start_of_today = dt.datetime.combine(today, dt.time.min, tzinfo=dt.UTC)
    oldest = (
        CheckResult.objects.filter(at__lt=start_of_today).order_by("at").values_list("at", flat=True).first()
    )
    rolled = 0
    with transaction.atomic():
        day = oldest.astimezone(dt.UTC).date() if oldest else today
        while day < today:
            begin = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
            rows = (
                CheckResult.objects.filter(at__gte=begin, at__lt=begin + dt.timedelta(days=1))
                .values("check_ref_id")
                .annotate(n=Count("id"), good=Count("id", filter=Q(ok=True)), avg=Avg("response_ms"), top=Max("response_ms"))
                .order_by()
            )  # fmt: skip
            for row in rows:
                CheckDay.objects.update_or_create(
                    check_ref_id=row["check_ref_id"],
                    day=day,
                    defaults={
                        "checks": row["n"],
                        "ok": row["good"],
                        "avg_ms": round(row["avg"]) if row["avg"] is not None else None,
                        "max_ms": row["top"],
                    },
                )
                rolled += 1
            day += dt.timedelta(days=1)
        deleted, _detail = CheckResult.objects.filter(at__lt=cutoff).delete()
    return {"days": rolled, "deleted": deleted}
