"""Analytics tables in the database. The events themselves live in Parquet files (see warehouse.py); the
database holds only the sites and the daily salts."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def _token() -> str:
    return secrets.token_urlsafe(12)


class Site(models.Model):
    """A tracked shop front. Events name their site by `domain`; the script is given the public token."""

    domain = models.CharField(_("domain"), max_length=200, unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True, default="")
    allowed_origins = models.TextField(
        _("allowed origins"),
        blank=True,
        default="",
        help_text=_("One origin per line, e.g. https://shop.example; the domain itself is always allowed."),
    )
    public_token = models.CharField(max_length=40, unique=True, default=_token)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.name or self.domain

    def origins(self) -> set[str]:
        out = {f"https://{self.domain}", f"http://{self.domain}"}
        out.update(o.strip().rstrip("/") for o in self.allowed_origins.splitlines() if o.strip())
        return out


class DailySalt(models.Model):
    """A random salt per day; the visitor id is hash(salt, site, IP, user agent). Old salts are deleted,
    so yesterday's visitor ids cannot be recomputed from an IP address."""

    day = models.DateField(unique=True)
    salt = models.CharField(max_length=64)

    def __str__(self) -> str:
        return str(self.day)
