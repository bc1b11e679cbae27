"""Digest e-mails to staff through the outbox, for modules that cannot import service (shipping) or that want
one way of telling people about something (late orders, overdue purchase orders).

Registered at the extension point ``"staff.notify"`` as ``"email"``; see `zaplecze.core.extensions`."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.utils.translation import override

from zaplecze.core import extensions
from zaplecze.core.models import User

from .services import outbox_enqueue


def staff_digest(
    *, key: str, kind: str, roles: Iterable[str], subject: Callable[[], str], body: Callable[[], str]
) -> int:
    """Queue one e-mail to every active user in `roles` who has an e-mail address, in the user's language
    (`subject` and `body` are called with that language active). `key` makes it idempotent per user. Runs
    in the caller's transaction; the outbox sends after commit. Returns how many e-mails were queued."""
    queued = 0
    for user in User.objects.filter(is_active=True, role__in=list(roles)).exclude(email="").order_by("pk"):
        language = user.language or "pl"
        with override(language):
            text_subject, text_body = subject(), body()
        email = outbox_enqueue(
            key=f"{key}:{user.pk}",
            kind=kind,
            to=user.email,
            language=language,
            context={},
            subject=text_subject,
            body=text_body,
        )
        queued += email is not None
    return queued


def staff_message(
    *, key: str, kind: str, user_id: int, subject: Callable[[], str], body: Callable[[], str]
) -> bool:
    """Queue one e-mail to one staff member, in their language (`subject` and `body` are called with it
    active); `key` makes it idempotent. False when the user has no address or is not active."""
    user = User.objects.filter(pk=user_id, is_active=True).exclude(email="").first()
    if user is None:
        return False
    language = user.language or "pl"
    with override(language):
        text_subject, text_body = subject(), body()
    email = outbox_enqueue(
        key=key, kind=kind, to=user.email, language=language, context={}, subject=text_subject, body=text_body
    )
    return email is not None


def register() -> None:
    extensions.register("staff.notify", "email", staff_digest)
    extensions.register("staff.notify", "email_user", staff_message)
