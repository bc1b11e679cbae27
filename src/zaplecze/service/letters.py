"""The complaint decision letter: HTML rendered to PDF with WeasyPrint, in the customer's language."""

from __future__ import annotations

import logging

from django.template.loader import render_to_string
from django.utils import translation

from zaplecze.core.businesstime import local_date

from . import deadlines, emails
from .models import Complaint

# WeasyPrint reports every rendering step at INFO; only its warnings belong in the log.
for _name in ("weasyprint", "weasyprint.progress", "fontTools"):
    logging.getLogger(_name).setLevel(logging.WARNING)


def decision_filename(c: Complaint) -> str:
    return f"{c.number}-decision.pdf"


def decision_html(c: Complaint) -> str:
    with translation.override(c.language or "pl"):
        reply = deadlines.complaint_response_deadline(
            local_date(c.received_at), customer_type=c.customer_type
        )
        return render_to_string(
            "service/letters/complaint_decision.html",
            {
                "c": c,
                "order": c.order,
                "line": c.order_line,
                "shop": emails.shop(),
                "reply": reply,
                "decided_on": local_date(c.decided_at) if c.decided_at else None,
            },
        )


def decision_pdf(c: Complaint) -> bytes:
    """PDF bytes of the decision letter (fonts from the system: DejaVu/Liberation cover Polish letters)."""
    from weasyprint import HTML

    return HTML(string=decision_html(c)).write_pdf()
