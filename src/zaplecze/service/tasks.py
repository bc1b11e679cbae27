"""Background jobs of customer service (run by `zaplecze worker`): the e-mail outbox, refund sends and the
complaint deadlines. Each takes ids, loads, calls a service; all are safe to run again."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task


@db_task()
def deliver_email_task(email_id: int) -> None:
    """Send one outbox e-mail right after the change that wrote it committed (a failure is retried by the
    periodic pass with back-off, so the task itself does not retry)."""
    from .services import outbox_deliver

    outbox_deliver(email_id=email_id)


@db_task()
def send_refund_task(refund_id: int) -> None:
    from .services import refund_send

    refund_send(refund_id=refund_id)


@db_periodic_task(crontab(minute="*"))
def outbox_periodic() -> None:
    """Every minute: retry e-mails whose back-off is over and release ones stuck mid-send."""
    from .services import outbox_retry_due

    outbox_retry_due()


@db_periodic_task(crontab(minute="*/5"))
def refunds_periodic() -> None:
    """Every 5 minutes: send recorded refunds again (same idempotency key) after a failure or a crash."""
    from .services import refunds_retry_due

    refunds_retry_due()


@db_periodic_task(crontab(minute="7"))
def complaint_deadlines_periodic() -> None:
    """Hourly: escalate unanswered complaints at day 10; deem accepted those unanswered past the deadline."""
    from .services import complaints_deem_accepted, complaints_escalate

    complaints_escalate()
    complaints_deem_accepted()


@db_periodic_task(crontab(minute="*"))
def mail_fetch_periodic() -> None:
    """Every minute, when a mailbox is configured (ZAPLECZE_IMAP_HOST): import new customer e-mails into
    tickets. A server that is down is only logged; the next run picks up where this one stopped."""
    import logging

    from django.conf import settings

    if not settings.IMAP_HOST:
        return
    from .mail import mail_fetch

    report = mail_fetch()
    if report.error and not report.busy:
        logging.getLogger("zaplecze.service.mail").warning("mail fetch: %s", report.error)


@db_task()
def mail_fetch_now_task() -> None:
    """ "Fetch now" from the mailbox screen: one run, the same as the minute's."""
    from .mail import mail_fetch

    mail_fetch()
