"""The legal parameters of customer service, in one place.

Periods, counting rules and the lists the law fixes (remedies, statutory reasons, exclusions) live here and
only here, so that a correction after a legal check is one edit. The holiday calendar is
`zaplecze.core.businesstime` (Polish public holidays incl. 24 December from 2025; Saturdays and Sundays are
never working days). Sources: ../shared/reference/COMPLIANCE.md, sections A1 and A2. Not legal advice.

upk = ustawa o prawach konsumenta (Consumer Rights Act, 2014 as amended); kc = Kodeks cywilny.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

# --- withdrawal from a distance contract (odstąpienie; COMPLIANCE A1) -------------------------------------

#: upk art. 27: 14 days from taking possession of the goods (of the last parcel when there are several).
WITHDRAWAL_DAYS = 14
#: upk art. 29 ust. 1: not informed about the right -> it ends 12 months after the normal period ends.
NOT_INFORMED_EXTENSION_MONTHS = 12
#: upk art. 29 ust. 2: informed later (within those 12 months) -> 14 days from the day the information came.
INFORMED_LATE_DAYS = 14
#: upk art. 34 ust. 1: the consumer sends the goods back within 14 days of the statement.
GOODS_BACK_DAYS = 14
#: upk art. 32 ust. 1: the refund is due within 14 days of receiving the statement.
REFUND_DAYS = 14
#: House rule: a refund still open this many days after the statement is flagged ("warning at day 10").
REFUND_WARNING_DAY = 10
#: upk art. 32-33: when only part of an order is withdrawn from, the delivery cost is not refunded (the
#: cheapest standard delivery is refunded when the whole order is withdrawn from). [verify]
REFUND_DELIVERY_ONLY_FOR_WHOLE_ORDER = True

# --- complaints (reklamacja, non-conformity; COMPLIANCE A2) ---------------------------------------------

#: upk art. 7a: reply to a consumer's complaint within 14 days of receiving it, or it is deemed accepted.
COMPLAINT_RESPONSE_DAYS = 14
#: House rule: an unanswered complaint is escalated (shown as urgent) this many days after receipt.
COMPLAINT_ESCALATION_DAY = 10
#: upk art. 43b-43c: liability for a non-conformity that appears within 2 years of delivery.
CONSUMER_LIABILITY_YEARS = 2
#: kc art. 568 §1 (rękojmia between businesses): 2 years from delivery; a contract may shorten or exclude it.
B2B_LIABILITY_YEARS = 2
#: kc art. 563 §1-2: a business buyer must inspect the goods and notify a defect promptly ("niezwłocznie").
#: The law names no number of days; a notice later than this after the defect was noticed is flagged. [verify]
B2B_PROMPT_NOTICE_DAYS = 14
#: House target for answering a business complaint (no statutory deadline, no deemed acceptance).
B2B_RESPONSE_TARGET_DAYS = 14

# --- counting (kc art. 110-115) -------------------------------------------------------------------------

#: kc art. 111 §2: a period in days starting on an event does not count the day of the event.
EVENT_DAY_COUNTED = False
#: kc art. 115: a period ending on a Saturday or a public holiday ends on the next day that is neither.
#: Applied to every deadline for an act (withdrawal, refund, complaint response). [verify for art. 7a]
END_ON_DAY_OFF_MOVES = True
#: Liability periods are not deadlines for an act: their end is not moved. [verify]
LIABILITY_END_MOVES = False
#: upk art. 29 ust. 1 counts the 12 months from the end of the 14-day period; that end is taken after
#: the kc art. 115 move (the later, consumer-friendly reading). [verify]
EXTENSION_FROM_MOVED_END = True


# --- customer types (COMPLIANCE A1.7) ---------------------------------------------------------------------

#: Customer types (orders.CustomerType values) with consumer rights: a sole trader buying outside their line
#: of business has them too (2021 amendment).
CONSUMER_RIGHTS_TYPES = frozenset({"consumer", "sole_trader"})


def has_consumer_rights(customer_type: str) -> bool:
    return customer_type in CONSUMER_RIGHTS_TYPES


# --- remedies (upk art. 43d-43e) ------------------------------------------------------------------------


class Remedy(models.TextChoices):
    REPAIR = "repair", _("Repair")
    REPLACEMENT = "replacement", _("Replacement")
    PRICE_REDUCTION = "price_reduction", _("Price reduction")
    WITHDRAWAL = "withdrawal", _("Withdrawal from the contract (refund)")


#: upk art. 43d: the consumer first asks for repair or replacement.
FIRST_REMEDIES = frozenset({Remedy.REPAIR, Remedy.REPLACEMENT})
#: upk art. 43e ust. 1: price reduction or withdrawal only with one of the statutory reasons.
SECOND_REMEDIES = frozenset({Remedy.PRICE_REDUCTION, Remedy.WITHDRAWAL})


class StatutoryReason(models.TextChoices):
    """upk art. 43e ust. 1 pkt 1-4: when a consumer may ask for a price reduction or withdraw at once."""

    REFUSED_OR_IMPOSSIBLE = (
        "refused",
        _(
            "The trader refused, or repair and replacement are impossible or excessively costly (art. 43e ust. 1 pkt 1)"
        ),
    )
    NOT_DONE = "not_done", _("The trader did not repair or replace the goods (art. 43e ust. 1 pkt 1)")
    PERSISTS = (
        "persists",
        _("The non-conformity persists although the trader tried to fix it (art. 43e ust. 1 pkt 2)"),
    )
    SERIOUS = (
        "serious",
        _(
            "The non-conformity is so serious that it justifies an immediate reduction or withdrawal (art. 43e ust. 1 pkt 3)"
        ),
    )
    WONT_FIX = (
        "wont_fix",
        _(
            "The trader's statement or the circumstances show that the goods will not be brought into conformity "
            "in reasonable time or without excessive inconvenience (art. 43e ust. 1 pkt 4)"
        ),
    )


#: upk art. 43e ust. 4: no withdrawal for an immaterial non-conformity (a price reduction is still possible).
NO_WITHDRAWAL_WHEN_IMMATERIAL = True


# --- goods excluded from withdrawal (upk art. 38) -------------------------------------------------------


class ReturnExclusion(models.TextChoices):
    PERISHABLE = "perishable", _("Perishable or with a short shelf life (art. 38 pkt 4)")
    CUSTOM_MADE = "custom_made", _("Made to the customer's specification (art. 38 pkt 3)")
    SEALED_HYGIENE = (
        "sealed_hygiene",
        _("Delivered sealed, not returnable for health or hygiene once unsealed (art. 38 pkt 5)"),
    )
    SEALED_MEDIA = (
        "sealed_media",
        _("Sealed audio, video or software, unsealed after delivery (art. 38 pkt 9)"),
    )
    MIXED = "mixed", _("Inseparably mixed with other items after delivery (art. 38 pkt 6)")


#: Exclusions that depend on what the customer did (unsealing): the line may still be requested; staff
#: check the seal at inspection and may refuse. The others refuse the line outright.
CONDITIONAL_EXCLUSIONS = frozenset(
    {ReturnExclusion.SEALED_HYGIENE, ReturnExclusion.SEALED_MEDIA, ReturnExclusion.MIXED}
)
