"""The printable pick list: HTML rendered to PDF with WeasyPrint (A4, the sheet grouped by bin)."""

from __future__ import annotations

import logging

from django.template.loader import render_to_string
from django.utils import timezone

from . import selectors
from .models import PickList

# WeasyPrint reports every rendering step at INFO; only its warnings belong in the log.
for _name in ("weasyprint", "weasyprint.progress", "fontTools"):
    logging.getLogger(_name).setLevel(logging.WARNING)


def picklist_html(pick_list: PickList, sheet: selectors.PickSheet | None = None) -> str:
    sheet = sheet if sheet is not None else selectors.picklist_sheet(pick_list)
    return render_to_string(
        "fulfilment/picklist_pdf.html", {"pl": pick_list, "sheet": sheet, "printed_at": timezone.now()}
    )


def picklist_pdf(pick_list: PickList, sheet: selectors.PickSheet | None = None) -> bytes:
    """PDF bytes of the pick list (fonts from the system: DejaVu/Liberation cover Polish letters)."""
    from weasyprint import HTML

    return HTML(string=picklist_html(pick_list, sheet)).write_pdf()
