"""The mailbox status screen (Customer service › Mailbox): each message source's last run, its error, what
became of the messages of the last 7 days, and the messages themselves, problems first to hand."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from zaplecze.core.access import require

from . import mailbox
from .models import InboundMailOutcome


@require("service.view")
@require_safe
def mailbox_status(request):
    outcome = request.GET.get("outcome", "")
    q = (request.GET.get("q") or "").strip()[:100]
    try:
        before = int(request.GET.get("before") or 0) or None
        mailbox_id = int(request.GET.get("mailbox") or 0) or None
    except ValueError:
        before = mailbox_id = None
    page, next_cursor = mailbox.inbound_messages(outcome=outcome, mailbox_id=mailbox_id, q=q, before=before)
    outcomes = [("", _("All")), ("problems", _("Problems"))] + list(InboundMailOutcome.choices)
    return render(
        request,
        "service/mailbox.html",
        {
            "boxes": mailbox.mailboxes(),
            "configured": mailbox.configured(),
            "page": page,
            "next_cursor": next_cursor,
            "outcome": outcome,
            "outcomes": outcomes,
            "outcome_labels": dict(InboundMailOutcome.choices),
            "q": q,
        },
    )


@require("service.manage")
@require_POST
def mailbox_fetch(request):
    if not mailbox.configured():
        messages.error(request, _("No mailbox is configured (ZAPLECZE_IMAP_HOST)."))
    else:
        from .tasks import mail_fetch_now_task

        mail_fetch_now_task()
        messages.success(
            request, _("The mailbox will be read in a moment; reload this page to see the result.")
        )
    return redirect(reverse("service:mailbox"))
