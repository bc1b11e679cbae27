"""Staff pages of a customer's personal data: find a customer by e-mail, name or phone; the customer's page
(orders, tickets, returns, complaints, lifetime value); and the GDPR actions (export as JSON or ZIP, erasure
with a confirmation step) for those with `customers.privacy`. Thin doors into service.privacy."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Q, Sum
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from zaplecze.core.access import require
from zaplecze.core.businesstime import local_today
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.permissions import user_has
from zaplecze.orders.models import Customer, Order, Stage

from . import privacy
from .models import Complaint, Refund, RefundState, Return, Ticket

LIMIT = 50
COUNT_LABELS = {
    "customers": gettext_lazy("Customer records"),
    "orders": gettext_lazy("Orders"),
    "tickets": gettext_lazy("Tickets"),
    "returns": gettext_lazy("Returns"),
    "complaints": gettext_lazy("Complaints"),
    "refunds": gettext_lazy("Refunds"),
    "emails": gettext_lazy("E-mails"),
}


@require("service.view")
@require_safe
def customers(request):
    """Search customers by e-mail, name or phone; an e-mail with orders but no customer row is offered too."""
    q = (request.GET.get("q") or "").strip()[:200]
    rows: list[Customer] = []
    email_only = None
    if q:
        cond = Q(email__iexact=q) if "@" in q else Q(name__icontains=q) | Q(email__icontains=q)
        digits = "".join(ch for ch in q if ch.isdigit())
        if len(digits) >= 6:
            cond |= Q(phone__icontains=digits[-9:])
        if q.lstrip("#").isdigit():
            cond |= Q(pk=int(q.lstrip("#")))
        rows = list(Customer.objects.filter(cond).order_by("-id")[: LIMIT + 1])
        if "@" in q and not rows:
            if (
                Order.objects.filter(email__iexact=q).exists()
                or Ticket.objects.filter(email__iexact=q).exists()
            ):
                email_only = q
    return render(
        request,
        "service/customers.html",
        {
            "tab": "customers",
            "q": q,
            "rows": rows[:LIMIT],
            "more": len(rows) > LIMIT,
            "email_only": email_only,
        },
    )


def _page(request, subject: privacy.Subject, customer: Customer | None):
    scope = privacy._scope(subject)
    orders = Order.objects.filter(pk__in=scope.order_ids).select_related("status").order_by("-placed_at")
    value = orders.exclude(stage=Stage.CANCELLED).aggregate(s=Sum("total_gross"))["s"] or 0
    refunded = (
        Refund.objects.filter(pk__in=scope.refund_ids, state=RefundState.DONE).aggregate(s=Sum("amount"))["s"]
        or 0
    )
    can_privacy = user_has(request.user, "customers.privacy")
    plan = privacy.erasure_plan(subject) if can_privacy else None
    return render(
        request,
        "service/customer_detail.html",
        {
            "tab": "customers",
            "customer": customer,
            "subject": subject,
            "orders": list(orders[:LIMIT]),
            "order_count": len(scope.order_ids),
            "lifetime_value": value - refunded,
            "returns": list(Return.objects.filter(pk__in=scope.return_ids).order_by("-id")[:LIMIT]),
            "complaints": list(Complaint.objects.filter(pk__in=scope.complaint_ids).order_by("-id")[:LIMIT]),
            "tickets": list(Ticket.objects.filter(pk__in=scope.ticket_ids).order_by("-id")[:LIMIT]),
            "can_privacy": can_privacy,
            "plan": plan,
            "plan_counts": [(COUNT_LABELS.get(k, k), v) for k, v in plan.counts.items()] if plan else [],
            "answer_by": privacy.request_due(local_today()),
        },
    )


@require("service.view")
@require_safe
def customer_detail(request, customer_id: int):
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise Http404
    try:
        subject = privacy.subject_resolve(f"#{customer.pk}")
    except NotFound:
        subject = privacy.Subject(query=f"#{customer.pk}", emails=[], customer_ids=[customer.pk])
    return _page(request, subject, customer)


@require("service.view")
@require_safe
def person(request):
    """A person known only by e-mail (orders or tickets without a customer row)."""
    try:
        subject = privacy.subject_resolve(request.GET.get("email", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("service_customers:list")
    if subject.customer_ids:
        return redirect("service_customers:detail", customer_id=subject.customer_ids[0])
    return _page(request, subject, None)


def _back(subject_text: str) -> HttpResponse:
    value = (subject_text or "").strip()
    if value.lstrip("#").isdigit():
        return redirect("service_customers:detail", customer_id=int(value.lstrip("#")))
    if value:
        return redirect(reverse("service_customers:person") + "?" + urlencode({"email": value}))
    return redirect("service_customers:list")


@require("customers.privacy")
@require_POST
def export(request):
    """Download everything about the person (JSON or ZIP); written to the audit log."""
    raw = request.POST.get("subject", "")
    try:
        subject = privacy.subject_resolve(raw)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _back(raw) if raw.strip().lstrip("#").isdigit() else redirect("service_customers:list")
    stamp = local_today().isoformat()
    if request.POST.get("format") == "zip":
        response = HttpResponse(
            privacy.export_zip(subject, actor=request.user), content_type="application/zip"
        )
        response["Content-Disposition"] = f'attachment; filename="personal-data-{stamp}.zip"'
    else:
        response = HttpResponse(
            privacy.export_json(subject, actor=request.user), content_type="application/json; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="personal-data-{stamp}.json"'
    return response


@require("customers.privacy")
@require_POST
def erase(request):
    """Anonymise the person after the e-mail was typed again; refused (with the reasons) while cases are open."""
    raw = request.POST.get("subject", "")
    try:
        subject = privacy.subject_resolve(raw)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("service_customers:list")
    try:
        counts = privacy.erase(subject, actor=request.user, confirm=request.POST.get("confirm", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
        return _back(raw)
    messages.success(
        request,
        _(
            "The personal data was erased: %(orders)s order(s), %(tickets)s ticket(s), %(returns)s return(s), "
            "%(complaints)s complaint(s) anonymised; accounting records kept."
        )
        % counts,
    )
    if subject.customer_ids:
        return redirect("service_customers:detail", customer_id=subject.customer_ids[0])
    return redirect("service_customers:list")
