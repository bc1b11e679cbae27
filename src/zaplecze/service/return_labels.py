"""Return labels: the parcel in which the customer sends an accepted return back to the shop.

Where a carrier connector provides return labels (the "service.return_label" extension point, see
connectors.py), staff create one with a button: the reference is stored and committed first, the carrier is
called outside the transaction, and the label PDF is stored on the return and e-mailed to the customer
through the outbox. A retry uses the same reference, so the carrier finds the parcel it already created
instead of selling a second one. Where no provider exists, staff type in the tracking number of a parcel the
customer or a carrier arranged by hand."""

from __future__ import annotations

import re

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.template import Context
from django.template.loader import get_template
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from zaplecze.core.errors import DomainError, IllegalTransition, NotFound
from zaplecze.core.models import User
from zaplecze.core.services import audit_record

from . import connectors, emails
from .models import CaseEvent, Return, ReturnLabel, ReturnState
from .services import _event, _label, _lock_return, outbox_enqueue

#: A label may be created for a return in these states (accepted; the goods are not back yet).
LABEL_STATES = frozenset({ReturnState.ACCEPTED})
_TRACKING = re.compile(r"^[A-Za-z0-9-]{4,60}$")


def _address_parts(address: dict) -> dict[str, str]:
    street = str(address.get("street") or address.get("line1") or address.get("address1") or "")
    building = str(address.get("building_number") or address.get("building") or "")
    if street and not building:
        m = re.match(r"^(.*?)[\s,]+(\d+[A-Za-z]?(?:\s*/\s*\d+[A-Za-z]?)?)$", street.strip())
        if m:
            street, building = m.group(1), m.group(2)
    return {
        "street": street.strip()[:200],
        "building_number": building.strip()[:20],
        "city": str(address.get("city") or "").strip()[:100],
        "post_code": str(address.get("post_code") or address.get("postcode") or address.get("zip") or "")[
            :12
        ],
        "country_code": str(address.get("country_code") or address.get("country") or "PL")[:2].upper()
        or "PL",
    }


def _shop_party() -> connectors.ReturnParty:
    """The shop as the receiver: SHOP_RETURN_ADDRESS "street 1, 00-001 City"."""
    shop = emails.shop()
    raw = shop["return_address"] or ""
    street, _sep, rest = raw.partition(",")
    m = re.match(r"^\s*(\d{2}-\d{3})\s+(.+)$", rest)
    post_code, city = (m.group(1), m.group(2).strip()) if m else ("", rest.strip())
    parts = _address_parts({"street": street, "city": city, "post_code": post_code})
    return connectors.ReturnParty(name="", company=shop["name"], email=shop["email"], **parts)


def _request_for(ret: Return, label: ReturnLabel) -> connectors.ReturnLabelRequest:
    order = ret.order
    address = order.shipping_address or order.billing_address or {}
    name = str(address.get("name") or order.customer_name or "")
    return connectors.ReturnLabelRequest(
        reference=label.reference,
        return_number=ret.number,
        order_number=order.number,
        sender=connectors.ReturnParty(
            name=name[:200],
            company=order.company,
            email=ret.email or order.email,
            phone=str(address.get("phone") or order.phone or ""),
            **_address_parts(address),
        ),
        receiver=_shop_party(),
        pickup_point=order.pickup_point,
        retry=label.attempts > 1,
    )


def available_providers() -> dict[str, connectors.ReturnLabelProvider]:
    return connectors.return_label_providers()


def _claim(return_id: int, provider: str, actor: User | None) -> ReturnLabel:
    """Lock the return, check it may get a label, store the reference (committed before any call)."""
    with transaction.atomic():
        ret = _lock_return(return_id)
        if ret.state not in LABEL_STATES:
            raise IllegalTransition(
                _("A return label can be created only for an accepted return (%(number)s is %(state)s).")
                % {"number": ret.number, "state": ReturnState(ret.state).label},
                field="state",
            )
        label = ReturnLabel.objects.select_for_update().filter(return_case=ret).first()
        if label is not None and label.state in (ReturnLabel.State.READY, ReturnLabel.State.MANUAL):
            raise DomainError(
                _("Return %(number)s already has a parcel (%(tracking)s).")
                % {"number": ret.number, "tracking": label.tracking_number or label.reference},
                code="label_exists",
            )
        if label is not None and label.provider != provider:
            raise DomainError(
                _("A label for return %(number)s is being created with %(provider)s; retry with it.")
                % {"number": ret.number, "provider": label.provider},
                code="label_provider",
            )
        if label is None:
            try:
                with transaction.atomic():
                    label = ReturnLabel.objects.create(
                        return_case=ret,
                        provider=provider,
                        reference=f"return-{ret.number}",
                        created_by=actor,
                    )
            except IntegrityError:
                raise DomainError(_("A label for this return is being created right now."), code="label_busy")
        label.attempts += 1
        label.state = ReturnLabel.State.PENDING
        label.save(update_fields=["attempts", "state"])
    return label


def _email_body(ret: Return, label: ReturnLabel) -> tuple[str, str]:
    with translation.override(ret.language or "pl"):
        subject = _("Your return %(number)s: the shipping label") % {"number": ret.number}
        template = get_template("service/email/return_label.txt").template
        body = template.render(
            Context(
                {"case": ret, "order": ret.order, "label": label, "shop": emails.shop()}, autoescape=False
            )
        )
    return subject, body.strip() + "\n"


def return_label_create(*, return_id: int, actor: User | None, provider: str | None = None) -> ReturnLabel:
    """Create the return parcel with a carrier connector, store its label (PDF) on the return and e-mail it to
    the customer. Raises a DomainError naming what is wrong (no provider, wrong state, carrier refused)."""
    providers = available_providers()
    if not providers:
        raise DomainError(
            _("No carrier connector for return labels is configured: enter the tracking number by hand."),
            code="no_provider",
        )
    code = provider or next(iter(providers))
    impl = providers.get(code)
    if impl is None:
        raise DomainError(_("Unknown return label carrier %(code)s") % {"code": code}, field="provider")
    label = _claim(return_id, code, actor)
    ret = Return.objects.select_related("order").get(pk=return_id)
    try:
        result = impl.create(_request_for(ret, label))
    except DomainError as exc:
        ReturnLabel.objects.filter(pk=label.pk).update(
            state=ReturnLabel.State.FAILED, last_error=str(exc.message)[:500]
        )
        with transaction.atomic():
            _event(
                case=ret,
                kind=CaseEvent.Kind.NOTE,
                actor=actor,
                message=_("Return label not created (%(carrier)s): %(error)s")
                % {"carrier": impl.label, "error": exc.message},
            )
        raise
    if not result.label_pdf.startswith(b"%PDF-"):
        ReturnLabel.objects.filter(pk=label.pk).update(
            state=ReturnLabel.State.FAILED, last_error="The carrier's label is not a PDF"
        )
        raise DomainError(_("The carrier sent a label that is not a PDF."), code="bad_label")
    with transaction.atomic():
        label = ReturnLabel.objects.select_for_update().get(pk=label.pk)
        label.external_id = result.external_id[:60]
        label.tracking_number = result.tracking_number[:60]
        label.state = ReturnLabel.State.READY
        label.last_error = ""
        label.label_at = timezone.now()
        label.label.save(f"{ret.number}-label.pdf", ContentFile(result.label_pdf), save=False)
        label.save(
            update_fields=["external_id", "tracking_number", "state", "last_error", "label_at", "label"]
        )
        _event(
            case=ret,
            kind=CaseEvent.Kind.NOTE,
            actor=actor,
            message=_("Return label created (%(carrier)s), tracking number %(tracking)s.")
            % {"carrier": impl.label, "tracking": label.tracking_number},
            data={"return_label_id": label.pk, "tracking_number": label.tracking_number},
        )
        audit_record(
            obj_type="service.return",
            obj_id=ret.pk,
            action="return_label_created",
            actor=actor,
            label=_label(actor),
            changes={"return_tracking_number": [None, label.tracking_number], "carrier": [None, code]},
        )
        subject, body = _email_body(ret, label)
        outbox_enqueue(
            key=f"return:{ret.pk}:label:{label.pk}",
            kind="return_label",
            to=ret.email,
            language=ret.language,
            context={},
            subject=subject,
            body=body,
            return_case=ret,
            attachments=[(f"{ret.number}-label.pdf", "application/pdf", result.label_pdf)],
            actor=actor,
        )
    return label


def return_tracking_record(
    *, return_id: int, tracking_number: str, actor: User | None, carrier: str = ""
) -> ReturnLabel:
    """Staff enter the tracking number of a return parcel arranged without a connector."""
    tracking_number = (tracking_number or "").strip().replace(" ", "")
    if not _TRACKING.match(tracking_number):
        raise DomainError(
            _("A tracking number is 4 to 60 letters, digits or dashes."), field="tracking_number"
        )
    carrier = (carrier or "").strip()[:40] or "manual"
    with transaction.atomic():
        ret = _lock_return(return_id)
        if ret.state not in (ReturnState.REQUESTED, ReturnState.ACCEPTED, ReturnState.REFUNDED):
            raise IllegalTransition(
                _("Return %(number)s is %(state)s: its parcel can no longer be recorded.")
                % {"number": ret.number, "state": ReturnState(ret.state).label}
            )
        label = ReturnLabel.objects.select_for_update().filter(return_case=ret).first()
        if label is not None and label.state == ReturnLabel.State.READY:
            raise DomainError(
                _("Return %(number)s already has a carrier label (%(tracking)s).")
                % {"number": ret.number, "tracking": label.tracking_number},
                code="label_exists",
            )
        before = label.tracking_number if label else None
        if label is None:
            label = ReturnLabel(return_case=ret, reference=f"return-{ret.number}", created_by=actor)
        label.provider = carrier
        label.state = ReturnLabel.State.MANUAL
        label.tracking_number = tracking_number
        label.last_error = ""
        label.save()
        _event(
            case=ret,
            kind=CaseEvent.Kind.NOTE,
            actor=actor,
            message=_("Return parcel tracking number: %(tracking)s (%(carrier)s).")
            % {"tracking": tracking_number, "carrier": carrier},
            data={"return_label_id": label.pk, "tracking_number": tracking_number},
        )
        audit_record(
            obj_type="service.return",
            obj_id=ret.pk,
            action="return_tracking_recorded",
            actor=actor,
            changes={"return_tracking_number": [before, tracking_number]},
        )
    return label


def return_label_for(return_id: int) -> ReturnLabel | None:
    return ReturnLabel.objects.filter(return_case_id=return_id).first()


def return_label_pdf(return_id: int) -> tuple[str, bytes]:
    label = return_label_for(return_id)
    if label is None or not label.label:
        raise NotFound(_("This return has no label."))
    with label.label.open("rb") as fh:
        return f"{label.return_case.number}-label.pdf", fh.read()
