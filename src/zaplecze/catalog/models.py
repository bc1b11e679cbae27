from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class VatRate(models.TextChoices):
    """Polish VAT rates; "zw" = exempt (zwolniony)."""

    R23 = "23", "23%"
    R8 = "8", "8%"
    R5 = "5", "5%"
    R0 = "0", "0%"
    ZW = "zw", _("exempt (zw)")

    @classmethod
    def fraction(cls, rate: str) -> Decimal:
        return Decimal(0) if rate == cls.ZW else Decimal(rate) / 100


class Category(models.Model):
    name = models.CharField(_("name"), max_length=200)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    slug = models.SlugField(max_length=200, unique=True)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        ARCHIVED = "archived", _("Archived")

    name = models.CharField(_("name"), max_length=300)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products"
    )
    brand = models.CharField(_("brand"), max_length=120, blank=True, default="")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Variant(models.Model):
    """A sellable item: what an order line refers to by SKU or EAN."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="variants")
    sku = models.CharField("SKU", max_length=64, unique=True)
    ean = models.CharField("EAN", max_length=14, blank=True, default="", db_index=True)
    name = models.CharField(_("name"), max_length=300)
    price = models.DecimalField(_("price (gross)"), max_digits=20, decimal_places=2)
    currency = models.CharField(max_length=3, default="PLN")
    vat_rate = models.CharField(_("VAT rate"), max_length=2, choices=VatRate.choices, default=VatRate.R23)
    cost_price = models.DecimalField(
        _("cost price (net)"), max_digits=20, decimal_places=2, null=True, blank=True
    )
    weight_kg = models.DecimalField(_("weight (kg)"), max_digits=10, decimal_places=3, null=True, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"
