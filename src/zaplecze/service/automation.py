"""Customer service's part of order automation: the "send an e-mail from a template" action, registered at
the extension point "automation.action" (orders may not import service).

The e-mail is written to the outbox in the rule's transaction and sent by the worker after commit (retried
when the mail server fails), in the order's language (Polish for Polish addresses, else English).

Templates: the built-in ones below, and every active canned reply (Customer service -> Canned replies),
chosen by name in the order's language (the other language when there is no version in it). Variables in
both: {order_number}, {customer_name}, {total}, {status}, {payment_method}, {delivery_method},
{placed_date}, {shop_name}, {shop_email}; a canned reply's other variables are left empty."""

from __future__ import annotations

from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zaplecze.core import extensions
from zaplecze.core.errors import DomainError
from zaplecze.orders.automation import ACTION_POINT, ActionContext, ActionType, Param, order_language

CANNED_PREFIX = "canned:"

# key: (label, subject, body); subject and body are translated into the order's language, then filled in.
BUILTIN: dict[str, tuple[Any, Any, Any]] = {
    "payment_reminder": (
        gettext_lazy("Payment reminder"),
        gettext_lazy("Order {order_number} is waiting for your payment"),
        gettext_lazy(
            "Hello {customer_name},\n\n"
            "your order {order_number} of {placed_date} ({total}) is still waiting for payment. "
            "As soon as the payment reaches us, we will send the order.\n\n"
            "If you have already paid, please ignore this message. If you no longer want the order, "
            "just reply to this e-mail and we will cancel it."
        ),
    ),
    "order_confirmation": (
        gettext_lazy("Order confirmation"),
        gettext_lazy("We have received your order {order_number}"),
        gettext_lazy(
            "Hello {customer_name},\n\n"
            "thank you for your order {order_number} ({total}). "
            "Payment: {payment_method}. Delivery: {delivery_method}.\n\n"
            "We will let you know when it is on its way."
        ),
    ),
    "order_in_fulfilment": (
        gettext_lazy("Order is being prepared"),
        gettext_lazy("Your order {order_number} is being prepared"),
        gettext_lazy(
            "Hello {customer_name},\n\n"
            "we are packing your order {order_number} now. "
            "You will get the tracking number as soon as we hand it over to the carrier."
        ),
    ),
    "order_delayed": (
        gettext_lazy("Delay notice"),
        gettext_lazy("Your order {order_number} is delayed"),
        gettext_lazy(
            "Hello {customer_name},\n\n"
            "we are sorry: your order {order_number} will leave our warehouse later than we promised. "
            "We are doing our best to send it as soon as possible and will write again when it is on its way."
        ),
    ),
}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def template_choices() -> list[tuple[str, str]]:
    """Built-in templates, then the canned replies (by name)."""
    from .models import CannedReply

    out = [(key, str(label)) for key, (label, _s, _b) in BUILTIN.items()]
    names = CannedReply.objects.filter(active=True).order_by("name").values_list("name", flat=True).distinct()
    out += [(f"{CANNED_PREFIX}{name}", _("Canned reply: %(name)s") % {"name": name}) for name in names]
    return out


def order_variables(order) -> dict[str, str]:
    """The variables of an e-mail about `order` (call inside the language override)."""
    from zaplecze.core.formatting import format_date, format_money

    from .emails import shop

    info = shop()
    return {
        "order_number": order.number,
        "customer_name": order.customer_name or order.company or _("Customer"),
        "total": format_money(order.total_gross, order.currency),
        "status": order.status.name,
        "payment_method": str(order.get_payment_method_display()),
        "delivery_method": str(order.get_delivery_method_display()),
        "placed_date": format_date(order.placed_at),
        "shop_name": info["name"],
        "shop_email": info["email"],
    }


def render(template: str, order, language: str) -> tuple[str, str]:
    """(subject, body) of a template for `order`, in `language`."""
    from .emails import shop
    from .models import CannedReply

    with translation.override(language):
        values = _Blank(order_variables(order))
        if template in BUILTIN:
            _label, subject, body = BUILTIN[template]
            subject_text, body_text = str(subject).format_map(values), str(body).format_map(values)
        elif template.startswith(CANNED_PREFIX):
            name = template[len(CANNED_PREFIX) :]
            versions = {c.language: c for c in CannedReply.objects.filter(name=name, active=True)}
            canned = versions.get(language) or next(iter(versions.values()), None)
            if canned is None:
                raise DomainError(
                    _("The canned reply “%(name)s” no longer exists") % {"name": name}, field="template"
                )
            subject_text = _("Your order {order_number}").format_map(values)
            try:
                body_text = canned.body.format_map(values)
            except (ValueError, IndexError) as exc:
                raise DomainError(
                    _("The canned reply “%(name)s” has a broken variable: %(error)s")
                    % {"name": name, "error": exc},
                    field="template",
                ) from exc
        else:
            raise DomainError(_("Unknown e-mail template %(name)s") % {"name": template}, field="template")
        info = shop()
        signature = f"\n\n-- \n{info['name']}\n{info['email']}\n"
    return subject_text[:300], body_text.strip() + signature


def action_send_email(ctx: ActionContext, params: dict[str, Any]) -> str:
    from .services import outbox_enqueue

    order = ctx.order
    to = (order.email or "").strip()
    if not to or "@" not in to:
        return _("No e-mail address on the order: nothing was sent")
    language = order_language(order)
    subject, body = render(params["template"], order, language)
    email = outbox_enqueue(
        key=f"automation:{ctx.run.pk}:{ctx.index}",
        kind="automation",
        to=to,
        language=language,
        context={},
        subject=subject,
        body=body,
    )
    if email is None:
        return _("No e-mail address on the order: nothing was sent")
    return _("E-mail “%(subject)s” queued to %(to)s") % {"subject": subject, "to": to}


SEND_EMAIL = ActionType(
    "send_email",
    gettext_lazy("Send e-mail from a template"),
    (Param("template", gettext_lazy("template"), "choice", template_choices),),
    action_send_email,
)


def register() -> None:
    extensions.register(ACTION_POINT, SEND_EMAIL.code, SEND_EMAIL)
