"""The customer e-mails of customer service: subject and plain-text body in the customer's language.

Composed inside the service transaction and put into the outbox; sent by the worker after commit."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.template import Context
from django.template.loader import get_template
from django.utils import translation
from django.utils.translation import gettext as _


def shop() -> dict[str, str]:
    """Who the shop is, for letters and e-mails (ZAPLECZE_SHOP_* settings when the project defines them)."""
    return {
        "name": getattr(settings, "SHOP_NAME", "") or "Zaplecze",
        "address": getattr(settings, "SHOP_ADDRESS", ""),
        "email": getattr(settings, "SHOP_EMAIL", "") or settings.DEFAULT_FROM_EMAIL,
        "return_address": getattr(settings, "SHOP_RETURN_ADDRESS", "")
        or getattr(settings, "SHOP_ADDRESS", ""),
    }


SUBJECTS = {
    "return_received": lambda c: _("Your return %(number)s: statement received") % c,
    "return_accepted": lambda c: _("Your return %(number)s has been accepted") % c,
    "return_rejected": lambda c: _("Your return %(number)s has been rejected") % c,
    "refund_sent": lambda c: _("Refund for order %(order_number)s sent") % c,
    "complaint_received": lambda c: _("Your complaint %(number)s: received") % c,
    "complaint_decision": lambda c: _("Your complaint %(number)s: our decision") % c,
    "ticket_received": lambda c: _("We received your message [%(number)s]") % c,
}


def compose(kind: str, language: str, context: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of one e-mail kind, rendered in `language`."""
    with translation.override(language or settings.LANGUAGE_CODE):
        ctx = {"shop": shop(), **context}
        names = {
            "number": getattr(ctx.get("case"), "number", ""),
            "order_number": getattr(ctx.get("order"), "number", ""),
        }
        subject = SUBJECTS[kind](names)
        # Plain text: no HTML escaping ("&" stays "&").
        template = get_template(f"service/email/{kind}.txt").template
        body = template.render(Context(ctx, autoescape=False)).strip() + "\n"
    return subject[:300], body
