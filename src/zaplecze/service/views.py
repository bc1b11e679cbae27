"""Staff screens of customer service: the overview of what is due, lists of returns and complaints with
"due today / overdue" filters, case pages with the timeline and actions, the decision letter, the legal
calculator. Thin doors: writes through `services`, reads through `selectors`."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from zaplecze.core.access import require
from zaplecze.core.businesstime import local_date, local_today
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.permissions import user_has
from zaplecze.orders.models import Order

from . import deadlines, forms, selectors, services
from .models import ComplaintState, OutboxEmail, Refund, RefundState, ReturnState
from .rules import Remedy

PAGE_SIZE = 50


def _fail(request, exc: DomainError) -> None:
    messages.error(request, exc.message)


def _get_return(request, return_id: int, permission: str = "service.view"):
    try:
        return selectors.access_return(request.user, return_id, permission)
    except NotFound:
        raise Http404


def _get_complaint(request, complaint_id: int, permission: str = "service.view"):
    try:
        return selectors.access_complaint(request.user, complaint_id, permission)
    except NotFound:
        raise Http404


def _version(request) -> int | None:
    try:
        return int(request.POST.get("version") or 0) or None
    except ValueError:
        return None


def _order_lookup(value: str) -> Order | None:
    value = (value or "").strip()
    if not value:
        return None
    order = (
        Order.objects.filter(number__iexact=value).order_by("-placed_at").first()
        or Order.objects.filter(number__iexact=f"#{value.lstrip('#')}").order_by("-placed_at").first()
    )
    if order is None and value.isdigit() and len(value) < 16:
        order = Order.objects.filter(pk=int(value)).first()
    return order


# --- overview and lists ------------------------------------------------------------------------------


@require("service.view")
@require_safe
def overview(request):
    today = local_today()
    return render(
        request,
        "service/overview.html",
        {
            "counts": selectors.due_counts(today),
            "today": today,
            "awaiting": Refund.objects.filter(state=RefundState.AWAITING_CONFIRMATION)
            .select_related("order")
            .order_by("id")[:20],
            "failed_emails": OutboxEmail.objects.filter(state=OutboxEmail.State.FAILED).order_by("-id")[:20],
        },
    )


def _list_context(request, page, f) -> dict[str, Any]:
    q = request.GET.copy()
    q.pop("cursor", None)
    next_url = None
    if page.next_cursor:
        q["cursor"] = str(page.next_cursor)
        next_url = "?" + q.urlencode()
    return {
        "page": page,
        "f": f,
        "next_url": next_url,
        "today": local_today(),
        "due_tabs": [
            ("", _("All")),
            ("open", _("Open")),
            ("today", _("Due today")),
            ("overdue", _("Overdue")),
            ("warning", _("Due soon")),
        ],
    }


def _cursor(request) -> int | None:
    try:
        return int(request.GET.get("cursor") or 0) or None
    except ValueError:
        return None


@require("service.view")
@require_safe
def returns_list(request):
    f = selectors.CaseFilter.from_params(request.GET)
    f.state = [s for s in f.state if s in ReturnState.values]
    page = selectors.returns_list(f, cursor=_cursor(request), limit=PAGE_SIZE)
    ctx = _list_context(request, page, f)
    ctx["states"] = ReturnState.choices
    return render(request, "service/returns.html", ctx)


@require("service.view")
@require_safe
def complaints_list(request):
    f = selectors.CaseFilter.from_params(request.GET)
    f.state = [s for s in f.state if s in ComplaintState.values]
    page = selectors.complaints_list(f, cursor=_cursor(request), limit=PAGE_SIZE)
    ctx = _list_context(request, page, f)
    ctx["states"] = ComplaintState.choices
    return render(request, "service/complaints.html", ctx)


# --- returns -------------------------------------------------------------------------------------------


def _line_quantities(request, lines) -> dict[int, int]:
    out = {}
    for rl in lines:
        raw = (request.POST.get(f"qty_{rl.line.pk}") or "").strip()
        if not raw:
            continue
        try:
            out[rl.line.pk] = int(raw)
        except ValueError:
            out[rl.line.pk] = -1  # refused by the service with the line named
    return out


@require("service.manage")
def return_new(request):
    order = _order_lookup(request.POST.get("order_id") or request.GET.get("order") or "")
    if order is None:
        if request.GET.get("order"):
            messages.error(request, _("No order with this number."))
        return render(request, "service/order_lookup.html", {"target": "return"})
    lines = selectors.returnable_lines(order)
    for rl in lines:
        rl.posted = request.POST.get(f"qty_{rl.line.pk}", "")
    form = forms.StaffReturnForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            ret = services.return_request(
                order_id=order.pk,
                lines=_line_quantities(request, lines),
                reason=d["reason"],
                actor=request.user,
                source="staff",
                statement_sent_at=d["statement_sent_at"],
                bank_account=d["bank_account"],
                statement_received_at=d["statement_received_at"],
                language=request.LANGUAGE_CODE or "pl",
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Return %(number)s recorded.") % {"number": ret.number})
            return redirect("service:return", return_id=ret.pk)
    return render(
        request,
        "service/return_new.html",
        {"order": order, "lines": lines, "form": form, "deadline": selectors.withdrawal_for_order(order)},
    )


@require("service.view")
@require_safe
def return_detail(request, return_id: int):
    ret = _get_return(request, return_id)
    lines = list(ret.lines.select_related("order_line").order_by("id"))
    refund_deadline = deadlines.refund_deadline(local_date(ret.statement_received_at))
    return render(
        request,
        "service/return_detail.html",
        {
            "ret": ret,
            "order": ret.order,
            "lines": lines,
            "events": selectors.timeline(return_id=ret.pk),
            "refunds": selectors.refunds_for(ret.order_id).filter(return_case=ret),
            "withdrawal": selectors.withdrawal_for_order(ret.order),
            "refund_deadline": refund_deadline,
            "suggestion": services.return_refund_suggestion(ret),
            "refundable": selectors.refundable_amount(ret.order),
            "refund_key": f"ui-{uuid.uuid4().hex}",
            "today": local_today(),
            "can_manage": user_has(request.user, "service.manage"),
            "can_receive": user_has(request.user, "service.receive"),
            "can_refund": user_has(request.user, "refunds.approve"),
            **_return_label_context(ret),
            "refund_form": forms.RefundForm(
                initial={
                    "method": "original",
                    "amount": services.return_refund_suggestion(ret),
                    "iban": ret.bank_account,
                }
            ),
        },
    )


def _return_label_context(ret) -> dict[str, Any]:
    """The return's parcel: its label or tracking number, and the carriers that can create one."""
    from . import return_labels

    return {
        "return_label": return_labels.return_label_for(ret.pk),
        "label_providers": return_labels.available_providers() if ret.state == ReturnState.ACCEPTED else {},
    }


def _return_action(request, return_id: int, permission: str, action) -> HttpResponse:
    ret = _get_return(request, return_id, permission)
    try:
        action(ret)
    except DomainError as exc:
        _fail(request, exc)
    return redirect("service:return", return_id=ret.pk)


@require("service.manage")
@require_POST
def return_accept(request, return_id: int):
    def act(ret):
        services.return_accept(
            return_id=ret.pk,
            actor=request.user,
            note=request.POST.get("note", ""),
            expected_version=_version(request),
        )
        messages.success(request, _("Return accepted."))

    return _return_action(request, return_id, "service.manage", act)


@require("service.manage")
@require_POST
def return_reject(request, return_id: int):
    def act(ret):
        services.return_reject(
            return_id=ret.pk,
            actor=request.user,
            reason=request.POST.get("reason", ""),
            expected_version=_version(request),
        )
        messages.success(request, _("Return rejected."))

    return _return_action(request, return_id, "service.manage", act)


@require("service.manage")
@require_POST
def return_proof(request, return_id: int):
    def act(ret):
        services.return_record_proof_of_sending(
            return_id=ret.pk, actor=request.user, note=request.POST.get("note", "")
        )
        messages.success(request, _("Proof of sending recorded."))

    return _return_action(request, return_id, "service.manage", act)


@require("service.receive")
@require_POST
def return_receive(request, return_id: int):
    def act(ret):
        inspection = {}
        for line in ret.lines.all():
            try:
                counts = {
                    k: int(request.POST.get(f"{k}_{line.pk}") or 0)
                    for k in ("resellable", "damaged", "missing")
                }
            except ValueError:
                raise DomainError(_("Enter whole numbers."), field="lines")
            inspection[line.pk] = {**counts, "note": request.POST.get(f"note_{line.pk}", "")}
        services.return_receive(
            return_id=ret.pk, actor=request.user, inspection=inspection, expected_version=_version(request)
        )
        messages.success(request, _("Goods received and inspected."))

    return _return_action(request, return_id, "service.receive", act)


@require("refunds.approve")
@require_POST
def return_refund(request, return_id: int):
    def act(ret):
        form = forms.RefundForm(request.POST)
        if not form.is_valid():
            raise DomainError("; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        d = form.cleaned_data
        refund = services.return_refund(
            return_id=ret.pk,
            actor=request.user,
            idempotency_key=d["idempotency_key"],
            method=d["method"],
            amount=d["amount"],
            iban=d["iban"],
        )
        messages.success(
            request,
            _("Refund of %(amount)s %(currency)s recorded.")
            % {"amount": refund.amount, "currency": refund.currency},
        )

    return _return_action(request, return_id, "refunds.approve", act)


@require("service.manage")
@require_POST
def return_close(request, return_id: int):
    def act(ret):
        services.return_close(return_id=ret.pk, actor=request.user, note=request.POST.get("note", ""))
        messages.success(request, _("Return closed."))

    return _return_action(request, return_id, "service.manage", act)


@require("service.manage")
@require_POST
def return_note(request, return_id: int):
    def act(ret):
        services.case_add_note(return_id=ret.pk, actor=request.user, text=request.POST.get("text", ""))

    return _return_action(request, return_id, "service.manage", act)


# --- refunds -------------------------------------------------------------------------------------------


def _refund_back(request, refund) -> HttpResponse:
    if refund.return_case_id:
        return redirect("service:return", return_id=refund.return_case_id)
    if refund.complaint_id:
        return redirect("service:complaint", complaint_id=refund.complaint_id)
    return redirect("service:overview")


@require("refunds.approve")
@require_POST
def refund_confirm(request, refund_id: int):
    try:
        refund = selectors.access_refund(request.user, refund_id, "refunds.approve")
    except NotFound:
        raise Http404
    try:
        services.refund_confirm(
            refund_id=refund.pk, actor=request.user, reference=request.POST.get("reference", "")
        )
        messages.success(request, _("Refund confirmed as sent."))
    except DomainError as exc:
        _fail(request, exc)
    return _refund_back(request, refund)


@require("refunds.approve")
@require_POST
def refund_cancel(request, refund_id: int):
    try:
        refund = selectors.access_refund(request.user, refund_id, "refunds.approve")
    except NotFound:
        raise Http404
    try:
        services.refund_cancel(refund_id=refund.pk, actor=request.user, reason=request.POST.get("reason", ""))
        messages.success(request, _("Refund cancelled."))
    except DomainError as exc:
        _fail(request, exc)
    return _refund_back(request, refund)


# --- complaints ------------------------------------------------------------------------------------------


@require("service.manage")
def complaint_new(request):
    order = _order_lookup(request.POST.get("order_id") or request.GET.get("order") or "")
    if order is None:
        if request.GET.get("order"):
            messages.error(request, _("No order with this number."))
        return render(request, "service/order_lookup.html", {"target": "complaint"})
    lines = list(order.lines.all())
    form = forms.ComplaintForm(
        request.POST or None, lines=lines, initial={"language": request.LANGUAGE_CODE or "pl", "quantity": 1}
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            c = services.complaint_create(
                order_line_id=d["order_line"],
                quantity=d["quantity"],
                defect=d["defect"],
                requested_remedy=d["requested_remedy"],
                statutory_reason=d["statutory_reason"],
                immaterial=d["immaterial"],
                requested_amount=d["requested_amount"],
                noticed_on=d["noticed_on"],
                received_at=d["received_at"],
                actor=request.user,
                source="staff",
                language=d["language"],
            )
            for upload in request.FILES.getlist("photos")[: services.MAX_PHOTOS]:
                services.complaint_add_photo(
                    complaint_id=c.pk,
                    filename=upload.name,
                    content=upload.read(services.MAX_PHOTO_BYTES + 1),
                    actor=request.user,
                )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Complaint %(number)s recorded.") % {"number": c.number})
            return redirect("service:complaint", complaint_id=c.pk)
    return render(request, "service/complaint_new.html", {"order": order, "form": form})


@require("service.view")
@require_safe
def complaint_detail(request, complaint_id: int):
    c = _get_complaint(request, complaint_id)
    reply = deadlines.complaint_response_deadline(local_date(c.received_at), customer_type=c.customer_type)
    liability = (
        deadlines.complaint_liability(local_date(c.order.delivered_at), customer_type=c.customer_type)
        if c.order.delivered_at
        else None
    )
    return render(
        request,
        "service/complaint_detail.html",
        {
            "c": c,
            "order": c.order,
            "line": c.order_line,
            "events": selectors.timeline(complaint_id=c.pk),
            "refunds": selectors.refunds_for(c.order_id).filter(complaint=c),
            "reply": reply,
            "liability": liability,
            "today": local_today(),
            "decision_form": forms.DecisionForm(initial={"version": c.version}),
            "resolve_key": f"ui-{uuid.uuid4().hex}",
            "remedies": Remedy,
            "can_manage": user_has(request.user, "service.manage"),
            "can_refund": user_has(request.user, "refunds.approve"),
            "letter_sent": c.emails.filter(kind="complaint_decision").exists(),
        },
    )


def _complaint_action(request, complaint_id: int, permission: str, action) -> HttpResponse:
    c = _get_complaint(request, complaint_id, permission)
    try:
        action(c)
    except DomainError as exc:
        _fail(request, exc)
    return redirect("service:complaint", complaint_id=c.pk)


@require("service.manage")
@require_POST
def complaint_decide(request, complaint_id: int):
    def act(c):
        form = forms.DecisionForm(request.POST)
        if not form.is_valid():
            raise DomainError("; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        d = form.cleaned_data
        services.complaint_decide(
            complaint_id=c.pk,
            accept=d["accept"],
            actor=request.user,
            text=d["text"],
            remedy=d["remedy"],
            reason=d["reason"],
            expected_version=d["version"],
        )
        messages.success(request, _("Decision recorded; the letter is being e-mailed."))

    return _complaint_action(request, complaint_id, "service.manage", act)


@require("service.manage")
@require_POST
def complaint_response(request, complaint_id: int):
    def act(c):
        form = forms.ResponseForm(request.POST)
        if not form.is_valid():
            raise DomainError(_("Give the date the reply was sent and how."))
        services.complaint_record_response(
            complaint_id=c.pk,
            sent_at=form.cleaned_data["sent_at"],
            how=form.cleaned_data["how"],
            actor=request.user,
        )
        messages.success(request, _("Reply date recorded."))

    return _complaint_action(request, complaint_id, "service.manage", act)


@require("service.manage")
@require_POST
def complaint_resolve(request, complaint_id: int):
    def act(c):
        form = forms.ResolveForm(request.POST)
        if not form.is_valid():
            raise DomainError("; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        d = form.cleaned_data
        remedy = c.decision_remedy or c.requested_remedy
        if remedy in (Remedy.PRICE_REDUCTION, Remedy.WITHDRAWAL) and not user_has(
            request.user, "refunds.approve"
        ):
            raise DomainError(_("Your role may not record refunds."))
        services.complaint_resolve(
            complaint_id=c.pk,
            actor=request.user,
            note=d["note"],
            amount=d["amount"],
            method=d["method"] or "original",
            iban=d["iban"],
            idempotency_key=d["idempotency_key"] or "",
        )
        messages.success(request, _("Complaint resolved."))

    return _complaint_action(request, complaint_id, "service.manage", act)


@require("service.manage")
@require_POST
def complaint_close(request, complaint_id: int):
    def act(c):
        services.complaint_close(complaint_id=c.pk, actor=request.user, note=request.POST.get("note", ""))
        messages.success(request, _("Complaint closed."))

    return _complaint_action(request, complaint_id, "service.manage", act)


@require("service.manage")
@require_POST
def complaint_note(request, complaint_id: int):
    def act(c):
        services.case_add_note(complaint_id=c.pk, actor=request.user, text=request.POST.get("text", ""))

    return _complaint_action(request, complaint_id, "service.manage", act)


@require("service.manage")
@require_POST
def complaint_photo(request, complaint_id: int):
    def act(c):
        uploads = request.FILES.getlist("photos")
        if not uploads:
            raise DomainError(_("Choose a file."), field="photo")
        for upload in uploads[: services.MAX_PHOTOS]:
            services.complaint_add_photo(
                complaint_id=c.pk,
                filename=upload.name,
                content=upload.read(services.MAX_PHOTO_BYTES + 1),
                actor=request.user,
            )
        messages.success(request, _("File added."))

    return _complaint_action(request, complaint_id, "service.manage", act)


@require("service.view")
@require_safe
def complaint_photo_file(request, complaint_id: int, photo_id: int):
    c = _get_complaint(request, complaint_id)
    photo = c.photos.filter(pk=photo_id).first()
    if photo is None:
        raise Http404
    response = FileResponse(photo.file.open("rb"), content_type=photo.content_type, filename=photo.filename)
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response


@require("service.view")
@require_safe
def complaint_letter(request, complaint_id: int):
    """The decision letter as sent (the e-mailed copy), or a preview of the letter once decided."""
    from . import letters

    c = _get_complaint(request, complaint_id)
    sent = OutboxEmail.objects.filter(complaint=c, kind="complaint_decision").first()
    attachment = sent.attachments.first() if sent else None
    if attachment is not None:
        content = bytes(attachment.content)
    elif c.decided_at is not None:
        content = letters.decision_pdf(c)
    else:
        raise Http404
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{letters.decision_filename(c)}"'
    return response


# --- the legal calculator ---------------------------------------------------------------------------------


@require("service.view")
@require_safe
def calculator(request):
    form = forms.CalculatorForm(request.GET or None)
    result = None
    if form.is_bound and form.is_valid():
        d = form.cleaned_data
        result = deadlines.compute(
            d["kind"],
            d["start"],
            not_informed=d["not_informed"],
            customer_type="business" if d["business"] else "consumer",
        )
    return render(request, "service/calculator.html", {"form": form, "result": result})


# --- product exclusion flags ----------------------------------------------------------------------------


@require("service.manage")
def exclusions(request):
    from zaplecze.catalog.models import Product

    if request.method == "POST":
        form = forms.ExclusionForm(request.POST)
        try:
            product_id = int(request.POST.get("product_id") or 0)
        except ValueError:
            product_id = 0
        if form.is_valid() and product_id:
            try:
                services.product_exclusion_set(
                    product_id=product_id,
                    kind=form.cleaned_data["kind"] or None,
                    note=form.cleaned_data["note"],
                    actor=request.user,
                )
                messages.success(request, _("Saved."))
            except DomainError as exc:
                _fail(request, exc)
        else:
            messages.error(request, _("Choose a product and an exclusion."))
        return redirect(reverse("service:exclusions") + (f"?q={request.POST.get('q', '')}"))
    q = (request.GET.get("q") or "").strip()[:100]
    products = Product.objects.select_related("return_exclusion").order_by("name")
    if q:
        products = products.filter(name__icontains=q) | products.filter(variants__sku__iexact=q)
    else:
        products = products.filter(return_exclusion__isnull=False)
    return render(
        request,
        "service/exclusions.html",
        {"products": products.distinct()[:100], "q": q, "form": forms.ExclusionForm()},
    )


# --- helpdesk --------------------------------------------------------------------------------------------


def _get_ticket(request, ticket_id: int, permission: str = "service.view"):
    try:
        return selectors.access_ticket(request.user, ticket_id, permission)
    except NotFound:
        raise Http404


@require("service.view")
@require_safe
def tickets_list(request):
    from .models import TicketQueue, TicketStatus

    f = selectors.TicketFilter.from_params(request.GET)
    page = selectors.tickets_list(f, actor=request.user, cursor=_cursor(request), limit=PAGE_SIZE)
    for t in page.items:
        t.sla = selectors.sla_status(t)
    q = request.GET.copy()
    q.pop("cursor", None)
    next_url = None
    if page.next_cursor:
        q["cursor"] = str(page.next_cursor)
        next_url = "?" + q.urlencode()
    return render(
        request,
        "service/tickets.html",
        {
            "page": page,
            "f": f,
            "next_url": next_url,
            "queues": TicketQueue.choices,
            "statuses": TicketStatus.choices,
        },
    )


@require("service.manage")
def ticket_new(request):
    from .models import TicketPriority, TicketQueue

    form = forms.TicketForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        order = _order_lookup(d["order"]) if d["order"] else None
        try:
            t = services.ticket_create(
                subject=d["subject"],
                body=d["body"],
                email=d["email"],
                name=d["name"],
                queue=d["queue"],
                priority=d["priority"],
                channel="staff",
                order_ids=[order.pk] if order else [],
                actor=request.user,
                language=d["language"],
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return redirect("service:ticket", ticket_id=t.pk)
    return render(
        request,
        "service/ticket_new.html",
        {"form": form, "queues": TicketQueue.choices, "priorities": TicketPriority.choices},
    )


@require("service.view")
@require_safe
def ticket_detail(request, ticket_id: int):
    from zaplecze.core.models import User

    from .models import CannedReply, TicketPriority, TicketQueue, TicketStatus

    t = _get_ticket(request, ticket_id)
    canned_text = ""
    if request.GET.get("canned"):
        try:
            canned_text = services.canned_render(canned_id=int(request.GET["canned"]), ticket_id=t.pk)
        except (ValueError, DomainError):
            canned_text = ""
    return render(
        request,
        "service/ticket_detail.html",
        {
            "t": t,
            "messages_": t.messages.select_related("email", "author").order_by("at", "id"),
            "sla": selectors.sla_status(t),
            "panel": selectors.customer_panel(t),
            "canned_text": canned_text,
            "canned": CannedReply.objects.filter(active=True),
            "statuses": TicketStatus.choices,
            "queues": TicketQueue.choices,
            "priorities": TicketPriority.choices,
            "agents": User.objects.filter(is_active=True).order_by("username"),
            "can_manage": user_has(request.user, "service.manage"),
        },
    )


def _ticket_action(request, ticket_id: int, action) -> HttpResponse:
    t = _get_ticket(request, ticket_id, "service.manage")
    try:
        action(t)
    except DomainError as exc:
        _fail(request, exc)
    return redirect("service:ticket", ticket_id=t.pk)


@require("service.manage")
@require_POST
def ticket_reply(request, ticket_id: int):
    def act(t):
        services.ticket_reply(
            ticket_id=t.pk,
            body=request.POST.get("body", ""),
            actor=request.user,
            status_after=request.POST.get("status_after") or "waiting_customer",
            expected_version=_version(request),
        )
        messages.success(request, _("Reply sent to the outbox."))

    return _ticket_action(request, ticket_id, act)


@require("service.manage")
@require_POST
def ticket_note(request, ticket_id: int):
    return _ticket_action(
        request,
        ticket_id,
        lambda t: services.ticket_note(ticket_id=t.pk, body=request.POST.get("body", ""), actor=request.user),
    )


@require("service.manage")
@require_POST
def ticket_status(request, ticket_id: int):
    return _ticket_action(
        request,
        ticket_id,
        lambda t: services.ticket_transition(
            ticket_id=t.pk,
            status=request.POST.get("status", ""),
            actor=request.user,
            expected_version=_version(request),
        ),
    )


@require("service.manage")
@require_POST
def ticket_update(request, ticket_id: int):
    def act(t):
        raw = request.POST.get("assignee", "")
        assignee = None if raw in ("", "none") else (int(raw) if raw.isdigit() else -1)
        services.ticket_update(
            ticket_id=t.pk,
            actor=request.user,
            queue=request.POST.get("queue") or None,
            priority=request.POST.get("priority") or None,
            assignee_id=assignee,
            tags=[x for x in request.POST.get("tags", "").split(",") if x.strip()],
        )
        order = request.POST.get("order", "").strip()
        if order:
            found = _order_lookup(order)
            if found is None:
                raise DomainError(_("No order with this number."), field="order")
            services.ticket_link_order(ticket_id=t.pk, order_id=found.pk, actor=request.user)

    return _ticket_action(request, ticket_id, act)


@require("service.manage")
def canned_replies(request):
    from .models import CannedReply

    form = forms.CannedForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.canned_save(actor=request.user, **form.cleaned_data)
            messages.success(request, _("Saved."))
            return redirect("service:canned")
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    return render(request, "service/canned.html", {"form": form, "items": CannedReply.objects.all()})
