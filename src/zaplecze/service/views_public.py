"""The public return page (no login): order number + e-mail, then lines, quantities and a reason, then a
receipt (on screen and by e-mail). A wrong number or e-mail gets one answer that never says whether the
order exists; after the deadline the answer names the date. Failed look-ups are rate limited."""

from __future__ import annotations

import time

from django.core.cache import cache
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from zaplecze.core.access import public
from zaplecze.core.businesstime import local_today
from zaplecze.core.errors import DomainError
from zaplecze.orders.models import Order

from . import deadlines, forms, rules, selectors, services
from .models import Source

SESSION_KEY = "service_public_return"
SESSION_TTL = 30 * 60
#: Failed look-ups allowed per client address in LOOKUP_WINDOW seconds (number + e-mail guessing).
LOOKUP_LIMIT = 10
LOOKUP_WINDOW = 15 * 60
NOT_FOUND = gettext_lazy(
    "We could not find an order with this number and e-mail address. Check both and try again."
)


def _client(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _throttled(request) -> bool:
    return cache.get(f"service:lookup-fail:{_client(request)}", 0) >= LOOKUP_LIMIT


def _count_failure(request) -> None:
    key = f"service:lookup-fail:{_client(request)}"
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, LOOKUP_WINDOW)


def _verified_order(request):
    data = request.session.get(SESSION_KEY) or {}
    if not data or time.time() - data.get("at", 0) > SESSION_TTL:
        return None
    return Order.objects.filter(pk=data.get("order_id")).first()


def _refusal(order) -> str | None:
    """Why this (verified) order cannot be returned on the public page, or None."""
    if order.stage not in services.RETURNABLE_STAGES:
        return _(
            "Order %(number)s has not been shipped yet. To cancel it, reply to the order confirmation e-mail."
        ) % {"number": order.number}
    if not rules.has_consumer_rights(order.customer_type):
        return _(
            "Order %(number)s was bought by a business: the statutory right of withdrawal applies to "
            "consumers. Contact us about a return."
        ) % {"number": order.number}
    deadline = selectors.withdrawal_for_order(order).deadline
    if deadline is not None and local_today() > deadline:
        return _("The withdrawal period for order %(number)s ended on %(date)s.") % {
            "number": order.number,
            "date": deadlines.day(deadline),
        }
    if not any(rl.selectable for rl in selectors.returnable_lines(order)):
        return _("Everything in order %(number)s has already been returned or cannot be returned.") % {
            "number": order.number
        }
    return None


@public
@never_cache
def start(request):
    form = forms.PublicLookupForm(request.POST or None)
    error = None
    throttled = request.method == "POST" and _throttled(request)
    if request.method == "POST":
        if throttled:
            error = _("Too many attempts. Try again in 15 minutes.")
        elif form.is_valid():
            order = selectors.order_for_customer(form.cleaned_data["number"], form.cleaned_data["email"])
            if order is None:
                _count_failure(request)
                error = NOT_FOUND
            else:
                error = _refusal(order)
                if error is None:
                    request.session[SESSION_KEY] = {"order_id": order.pk, "at": time.time()}
                    return redirect("service_public:choose")
    status = 429 if throttled else (400 if request.method == "POST" else 200)
    return render(request, "service/public/start.html", {"form": form, "error": error}, status=status)


@public
@never_cache
def choose(request):
    order = _verified_order(request)
    if order is None:
        return redirect("service_public:start")
    lines = selectors.returnable_lines(order)
    form = forms.PublicReturnForm(request.POST or None)
    error = None
    quantities: dict[int, int] = {}
    if request.method == "POST":
        for rl in lines:
            raw = (request.POST.get(f"qty_{rl.line.pk}") or "").strip()
            if raw:
                try:
                    quantities[rl.line.pk] = int(raw)
                except ValueError:
                    quantities[rl.line.pk] = -1
        if form.is_valid():
            try:
                ret = services.return_request(
                    order_id=order.pk,
                    lines=quantities,
                    reason=form.cleaned_data["reason"],
                    actor=None,
                    source=Source.PUBLIC,
                    bank_account=form.cleaned_data["bank_account"],
                    language=request.LANGUAGE_CODE or "pl",
                )
            except DomainError as exc:
                error = exc.message
            else:
                request.session.pop(SESSION_KEY, None)
                return render(
                    request,
                    "service/public/receipt.html",
                    {"ret": ret, "order": order, "lines": ret.lines.select_related("order_line")},
                )
    deadline = selectors.withdrawal_for_order(order)
    return render(
        request,
        "service/public/choose.html",
        {
            "order": order,
            "lines": lines,
            "form": form,
            "error": error,
            "deadline": deadline,
            "quantities": quantities,
        },
        status=400 if request.method == "POST" else 200,
    )


@public
@never_cache
def contact(request):
    """The public contact form: a ticket in the customer service queue, acknowledged by e-mail."""
    from .forms import ContactForm

    form = ContactForm(request.POST or None)
    if request.method == "POST":
        if _throttled(request):
            return render(
                request,
                "service/public/contact.html",
                {"form": form, "error": _("Too many attempts. Try again in 15 minutes.")},
                status=429,
            )
        if form.is_valid():
            d = form.cleaned_data
            if d["website"]:  # filled in by a bot: pretend it worked, store nothing
                _count_failure(request)
                return render(request, "service/public/contact_done.html", {"ticket": None})
            try:
                ticket = services.ticket_contact_form(
                    name=d["name"],
                    email=d["email"],
                    subject=d["subject"],
                    message=d["message"],
                    order_number=d["order_number"],
                    language=request.LANGUAGE_CODE or "pl",
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                return render(request, "service/public/contact_done.html", {"ticket": ticket})
    return render(
        request,
        "service/public/contact.html",
        {"form": form, "error": None},
        status=400 if request.method == "POST" else 200,
    )
