from __future__ import annotations

from decimal import Decimal

from django.conf import settings
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
    updated_at = models.DateTimeField(default=timezone.now)
    # Sanitised HTML (services sanitise on every write; nothing unsanitised is stored).
    description_html = models.TextField(_("description"), blank=True, default="")
    manufacturer = models.ForeignKey(
        "Manufacturer", null=True, blank=True, on_delete=models.SET_NULL, related_name="products"
    )
    # GPSR: warnings and safety information, in Polish, shown with the listing.
    safety_info = models.TextField(_("warnings and safety information"), blank=True, default="")
    # Omnibus: for perishable goods the reference price is the price before the first reduction.
    perishable = models.BooleanField(_("perishable"), default=False)
    # Quality audit: 0-100, recomputed by the worker (null = never audited).
    quality_score = models.PositiveSmallIntegerField(null=True, blank=True)
    audited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["quality_score"]),
            models.Index(fields=["status"]),
            # the product list sorts by name or by last change, 50 at a time, at 100,000 products
            models.Index(fields=["name", "id"], name="catalog_product_name_idx"),
            models.Index(fields=["updated_at", "id"], name="catalog_product_updated_idx"),
        ]

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
    # {"size": "M", "colour": "red"}: attribute name -> value, names as the shop uses them.
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    mpn = models.CharField(_("manufacturer part number"), max_length=70, blank=True, default="")
    length_cm = models.DecimalField(_("length (cm)"), max_digits=8, decimal_places=1, null=True, blank=True)
    width_cm = models.DecimalField(_("width (cm)"), max_digits=8, decimal_places=1, null=True, blank=True)
    height_cm = models.DecimalField(_("height (cm)"), max_digits=8, decimal_places=1, null=True, blank=True)

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class Manufacturer(models.Model):
    """Who made the product, with the contact data GPSR requires on every listing.

    A manufacturer outside the EU needs an EU responsible person (name, postal and e-mail address).
    """

    name = models.CharField(_("name"), max_length=200, unique=True)
    street = models.CharField(_("street and number"), max_length=200, blank=True, default="")
    postcode = models.CharField(_("postcode"), max_length=20, blank=True, default="")
    city = models.CharField(_("city"), max_length=100, blank=True, default="")
    country = models.CharField(_("country"), max_length=2, blank=True, default="PL")  # ISO 3166-1 alpha-2
    email = models.EmailField(_("e-mail"), blank=True, default="")
    website = models.URLField(_("website"), blank=True, default="")
    eu_rp_name = models.CharField(_("EU responsible person"), max_length=200, blank=True, default="")
    eu_rp_address = models.TextField(_("EU responsible person's address"), blank=True, default="")
    eu_rp_email = models.EmailField(_("EU responsible person's e-mail"), blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProductImage(models.Model):
    """An image of a product (optionally of one variant): an uploaded file or a URL, with pixel size read."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    variant = models.ForeignKey(
        Variant, null=True, blank=True, on_delete=models.CASCADE, related_name="images"
    )
    file = models.FileField(upload_to="catalog/images/%Y/%m", blank=True, default="")
    source_url = models.URLField(_("image URL"), max_length=1000, blank=True, default="")
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    size_bytes = models.PositiveIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=50, blank=True, default="")
    alt = models.CharField(_("alternative text"), max_length=300, blank=True, default="")
    position = models.PositiveSmallIntegerField(default=0)
    # Why the image could not be read (not an image, too large, URL unreachable); empty when fine.
    error = models.CharField(max_length=300, blank=True, default="")
    checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["product_id", "position", "id"]

    def __str__(self) -> str:
        return self.source_url or (self.file.name if self.file else f"image {self.pk}")


class Offer(models.Model):
    """A variant on one sales channel: its own price (empty = the variant's price), state and listing.

    `channel` is the channel's code (orders.Channel.code); catalog sits below orders and keeps the code.
    """

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="offers")
    channel = models.CharField(_("channel"), max_length=40)
    price = models.DecimalField(_("price (gross)"), max_digits=20, decimal_places=2, null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="")
    url = models.URLField(_("listing URL"), max_length=1000, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["variant", "channel"], name="offer_variant_channel")]
        ordering = ["variant_id", "channel"]

    def __str__(self) -> str:
        return f"{self.channel}: {self.variant_id}"


class PriceChange(models.Model):
    """One entry of the price history (Omnibus): rows are only ever added, never updated or deleted.

    A price holds from `effective_from` until the next entry for the same variant and channel.
    `channel` "" is the base price (the variant's own); a channel code is that channel's offer price.
    `kind` promo marks a promotional price (a reduction), regular a normal price.
    """

    class Kind(models.TextChoices):
        REGULAR = "regular", _("Regular price")
        PROMO = "promo", _("Promotional price")
        # On a channel: from here on the channel follows the base price again (its `price` is the base price
        # at that moment, for the record); base changes after it apply to the channel until its next entry.
        BASE = "base", _("Follows the base price")

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="price_changes")
    channel = models.CharField(max_length=40, blank=True, default="")
    price = models.DecimalField(max_digits=20, decimal_places=2)
    currency = models.CharField(max_length=3, default="PLN")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.REGULAR)
    effective_from = models.DateTimeField(default=timezone.now)
    recorded_at = models.DateTimeField(default=timezone.now)
    # What made the change: "manual", "import", "bulk", "api", "promotion:<id>", "connector:<channel>".
    source = models.CharField(max_length=60, blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    bulk_change = models.ForeignKey(
        "BulkChange", null=True, blank=True, on_delete=models.SET_NULL, related_name="price_changes"
    )

    class Meta:
        ordering = ["variant_id", "channel", "effective_from", "id"]
        indexes = [models.Index(fields=["variant", "channel", "effective_from"])]

    def __str__(self) -> str:
        return f"{self.variant_id}/{self.channel or 'base'}: {self.price} from {self.effective_from:%Y-%m-%d %H:%M}"


class BulkChange(models.Model):
    """A bulk change of the catalog (a product import or a repricing): preview first, then applied, undoable.

    `rows` is the preview (one entry per input row: what would change, or the errors); `undo` holds the
    state before applying, so the last bulk change can be reverted.
    """

    class Kind(models.TextChoices):
        IMPORT = "import", _("Product import")
        REPRICE = "reprice", _("Price change")

    class State(models.TextChoices):
        PREVIEW = "preview", _("Preview")
        APPLIED = "applied", _("Applied")
        UNDONE = "undone", _("Undone")
        DISCARDED = "discarded", _("Discarded")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PREVIEW)
    title = models.CharField(max_length=300, blank=True, default="")  # file name or rule summary
    params = models.JSONField(default=dict, blank=True)
    rows = models.JSONField(default=list, blank=True)
    undo = models.JSONField(default=list, blank=True)
    summary = models.JSONField(default=dict, blank=True)  # counts: created, updated, unchanged, errors
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    applied_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk} ({self.state})"


class AuditRuleConfig(models.Model):
    """Per-shop settings of one quality-audit rule (the rules themselves are code in catalog/audit.py)."""

    class Severity(models.TextChoices):
        ERROR = "error", _("Error")
        WARNING = "warning", _("Warning")
        INFO = "info", _("Info")

    code = models.CharField(max_length=50, unique=True)
    enabled = models.BooleanField(default=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    params = models.JSONField(default=dict, blank=True)  # thresholds, e.g. {"min_length": 200}
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class AuditFinding(models.Model):
    """A problem the quality audit found on a product (or one of its variants), replaced on each audit."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="audit_findings")
    variant = models.ForeignKey(
        Variant, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_findings"
    )
    rule = models.CharField(max_length=50)
    severity = models.CharField(max_length=10, choices=AuditRuleConfig.Severity.choices)
    details = models.JSONField(default=dict, blank=True)  # facts for the message, e.g. {"length": 12}
    found_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["product_id", "rule", "id"]
        indexes = [models.Index(fields=["rule", "severity"]), models.Index(fields=["severity"])]

    def __str__(self) -> str:
        return f"{self.rule} on product {self.product_id}"


class Feed(models.Model):
    """A product feed served at a stable secret URL and rebuilt by the worker."""

    class Kind(models.TextChoices):
        GOOGLE = "google", "Google Merchant Center"
        CENEO = "ceneo", "Ceneo"
        CSV = "csv", "CSV"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=120)
    # Prices and availability come from this channel's offers ("" = the variants' base prices).
    channel = models.CharField(_("channel"), max_length=40, blank=True, default="")
    token = models.CharField(max_length=64, unique=True)
    active = models.BooleanField(default=True)
    built_at = models.DateTimeField(null=True, blank=True)
    items = models.PositiveIntegerField(default=0)
    excluded = models.PositiveIntegerField(default=0)
    size_bytes = models.PositiveBigIntegerField(default=0)
    build_seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    # --- feeds area: settings of the feed (migration feeds_settings) ---
    # Product page URL when the channel's offer has none: {sku}, {ean}, {product_id}, {variant_id} are filled in.
    link_template = models.CharField(_("product link template"), max_length=500, blank=True, default="")
    # Flat shipping price written into the Google feed (g:shipping, country PL); empty = none written.
    shipping_price = models.DecimalField(
        _("shipping price"), max_digits=20, decimal_places=2, null=True, blank=True
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FeedExclusion(models.Model):
    """A variant left out of a feed at its last build, and why (reason codes such as "no_gtin")."""

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="exclusions")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="feed_exclusions")
    reasons = models.JSONField(default=list)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["feed", "variant"], name="feed_exclusion_unique")]

    def __str__(self) -> str:
        return f"{self.variant_id} not in feed {self.feed_id}"


class SiteCheckRun(models.Model):
    """One storefront check: product pages of the live shop fetched and compared with the catalog."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    base_url = models.URLField(max_length=500)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    ok = models.PositiveIntegerField(default=0)
    mismatched = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.base_url} ({self.created_at:%Y-%m-%d %H:%M})"


class SiteCheckPage(models.Model):
    """One fetched product page and what on it disagrees with the catalog."""

    run = models.ForeignKey(SiteCheckRun, on_delete=models.CASCADE, related_name="results")
    url = models.URLField(max_length=1000)
    variant = models.ForeignKey(
        Variant, null=True, blank=True, on_delete=models.SET_NULL, related_name="site_checks"
    )
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # [{"code": "price", "expected": "129.99", "found": "139.99"}, ...]; empty = the page agrees.
    problems = models.JSONField(default=list, blank=True)
    fetch_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["run_id", "id"]

    def __str__(self) -> str:
        return self.url
