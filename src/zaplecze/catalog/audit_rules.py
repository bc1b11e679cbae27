"""The quality-audit rules: what each checks, why it matters, its defaults and its message.

A rule is code (this module); its per-shop settings (enabled, severity, params) live in AuditRuleConfig.
Rules never query the database: the engine in catalog/audit.py loads a batch of products with everything
the rules need (variants, images, manufacturer, the last prices, duplicates, stock) into the plain data
classes below and calls each enabled rule's `check(product, ctx, params)`, which yields findings.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from stdnum import ean as stdnum_ean

ERROR, WARNING, INFO = "error", "warning", "info"
SEVERITIES = (ERROR, WARNING, INFO)
# Score penalty per failing rule (a rule counts once per product, however many variants fail it).
SEVERITY_WEIGHTS = {ERROR: 25, WARNING: 10, INFO: 2}

# EU member states and the other EEA countries (ISO 3166-1 alpha-2; "EL" is the EU's code for Greece).
EU_EEA = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR EL HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO".split()
)


# --- what the rules see ----------------------------------------------------------------------------------


@dataclass
class VariantData:
    id: int
    sku: str
    ean: str
    name: str
    price: Decimal
    vat_rate: str
    cost_price: Decimal | None
    active: bool


@dataclass
class ManufacturerData:
    id: int
    name: str
    street: str
    postcode: str
    city: str
    country: str
    email: str
    eu_rp_name: str
    eu_rp_address: str
    eu_rp_email: str


@dataclass
class ProductData:
    id: int
    name: str
    status: str
    brand: str
    category_id: int | None
    description_text: str  # the description with HTML removed and whitespace collapsed
    safety_info: str
    manufacturer: ManufacturerData | None
    variants: list[VariantData] = field(default_factory=list)
    # (width, height, error) per image; width/height None = size not read (yet).
    images: list[tuple[int | None, int | None, str]] = field(default_factory=list)

    @property
    def active_variants(self) -> list[VariantData]:
        return [v for v in self.variants if v.active]


@dataclass
class AuditContext:
    """Facts beyond one product, loaded once per batch."""

    now: dt.datetime
    # EAN -> [(variant id, sku)] for every EAN used by more than one variant (whole catalog).
    ean_users: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    # normalised SKU -> [(variant id, sku)] for every key shared by more than one variant (whole catalog).
    sku_users: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    # variant id -> {channel: [(price, effective_from)]}, latest first, at most two entries per channel.
    last_prices: dict[int, dict[str, list[tuple[Decimal, dt.datetime]]]] = field(default_factory=dict)
    # variant id -> available quantity; None = stock unknown (no inventory module).
    stock: dict[int, int] | None = None


@dataclass
class Hit:
    """One finding a rule produced: on the product (variant None) or one of its variants."""

    variant_id: int | None
    details: dict[str, Any]


# --- parameters ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    label: Any  # lazy string
    kind: str  # "int" | "decimal" | "phrases" (a comma-separated list of phrases)
    default: Any
    min_value: int | None = 0
    max_value: int | None = None
    help: Any = ""

    def clean(self, value: Any) -> Any:
        """The value in its stored JSON form; ValueError with a plain message when it is not acceptable."""
        if self.kind == "phrases":
            if isinstance(value, str):
                value = value.split(",")
            if not isinstance(value, list | tuple):
                raise ValueError(_("must be a list of phrases"))
            out = []
            for item in value:
                item = " ".join(str(item).split()).lower()
                if len(item) > 100:
                    raise ValueError(_("a phrase is longer than 100 characters"))
                if item and item not in out:
                    out.append(item)
            if len(out) > 200:
                raise ValueError(_("at most 200 phrases"))
            return out
        try:
            if isinstance(value, bool):
                raise ValueError
            number = Decimal(str(value).strip().replace(",", "."))
            if not number.is_finite():
                raise ValueError
        except (InvalidOperation, ValueError):
            raise ValueError(_("must be a number")) from None
        if self.kind == "int":
            if number != number.to_integral_value():
                raise ValueError(_("must be a whole number"))
            number = int(number)
        if self.min_value is not None and number < self.min_value:
            raise ValueError(_("must be at least %(min)s") % {"min": self.min_value})
        if self.max_value is not None and number > self.max_value:
            raise ValueError(_("must be at most %(max)s") % {"max": self.max_value})
        return number if self.kind == "int" else str(number)


# --- rules -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    code: str
    label: Any  # lazy: short name of the rule
    severity: str  # the default severity
    explanation: Any  # lazy: why it matters
    check: Callable[[ProductData, AuditContext, dict[str, Any]], Iterator[Hit]]
    message: Callable[[dict[str, Any]], str]
    params: tuple[Param, ...] = ()
    # Where the fix is made: "product" (the product page) or "rules" (nothing to fix on the product).
    fix: str = "product"

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}


def html_to_text(value: str) -> str:
    """The visible text of a (sanitised) HTML description, whitespace collapsed."""
    if not value:
        return ""
    text = _SCRIPT_RE.sub(" ", value)
    text = _TAG_RE.sub(" ", text)
    return " ".join(html.unescape(text).split())


_SCRIPT_RE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<[^>]*>")


def sku_key(sku: str) -> str:
    """SKUs that differ only in letter case or whitespace are the same SKU to a person (and to most shops)."""
    return "".join(sku.split()).lower()


def _check_description(p: ProductData, ctx: AuditContext, params: dict) -> Iterator[Hit]:
    length = len(p.description_text)
    if length < params["min_length"]:
        yield Hit(None, {"length": length, "min": params["min_length"]})


def _msg_description(d: dict) -> str:
    if not d.get("length"):
        return _("No description.")
    return _("The description has %(length)s characters; at least %(min)s are expected.") % d


def _usable_images(p: ProductData) -> list[tuple[int | None, int | None, str]]:
    return [img for img in p.images if not img[2]]


def _check_no_image(p: ProductData, ctx: AuditContext, params: dict) -> Iterator[Hit]:
    if not _usable_images(p):
        yield Hit(None, {"broken": len(p.images)})


def _msg_no_image(d: dict) -> str:
    if d.get("broken"):
        return (
            ngettext(
                "No usable image: %(broken)s image could not be read.",
                "No usable image: %(broken)s images could not be read.",
                d["broken"],
            )
            % d
        )
    return _("No image.")


def _check_small_image(p: ProductData, ctx: AuditContext, params: dict) -> Iterator[Hit]:
    minimum = params["min_pixels"]
    small = [
        (w, h) for w, h, _err in _usable_images(p) if w is not None and h is not None and min(w, h) < minimum
    ]
    if small:
        w, h = min(small, key=lambda s: min(s))
        yield Hit(None, {"count": len(small), "smallest": f"{w}×{h}", "min": minimum})


def _msg_small_image(d: dict) -> str:
    return (
        ngettext(
            "%(count)s image is smaller than %(min)s px on its shorter side (smallest %(smallest)s).",
            "%(count)s images are smaller than %(min)s px on their shorter side (smallest %(smallest)s).",
            d["count"],
        )
        % d
    )


def _check_ean_missing(p: ProductData, ctx: AuditContext, params: dict) -> Iterator[Hit]:
    for v in p.active_variants:
        if not v.ean.strip():
            yield Hit(v.id, {"sku": v.sku})


def _check_ean_invalid(p: ProductData, ctx: AuditContext, params: dict) -> Iterator[Hit]:
    for v in p.active_variants:
        value = v.ean.strip()
        if value and not stdnum_ean.is_valid(value):
            yield Hit(v.id, {"sku": v.sku, "ean": value})


def _check_ean_duplicate(p: ProductData, ctx: AuditContext, params: dict) -> Iterator[Hit]:
    for v in p.variants:
        users = ctx.ean_users.get(v.ean.strip()) if v.ean.strip() else None
        if users:
            others = sorted(sku for vid, sku in users if vid != v.id)
            if others:
                yield Hit(v.id, {"sku": v.sku, "ean": v.ean.strip(), "others": others[:10]})


def _check_sku_duplicate(p: ProductData, ctx: AuditContext, params: dict) -> Iterator[Hit]:
    for v in p.variants:
        key = sku_key(v.sku)
        users = ctx.sku_users.get(key)
        if users:
            others = sorted(sku for vid, sku in users if vid != v.id)
            if others:
                yield Hit(v.id, {"sku": v.sku, "key": key, "others": others[:10]})


def _check_brand(p: ProductData, ctx: AuditContext, params: dict) -> Iterator[Hit]:
    if not p.brand.strip():
        yield Hit(None, {})


def _check_manufacturer(p: ProductData, ctx: AuditContext, params: dict) -> Iterator[Hit]:
    if p.manufacturer is None:
        yield Hit(None, {})


def _check_gpsr(p: ProductData, ctx: AuditContext, params: dict) -> Iterator[Hit]:
    m = p.manufacturer
    if m is None:
        return  # the "missing manufacturer" rule reports it
    missing = [
        name for name in ("street", "postcode", "city", "country", "email") if not getattr(m, name).strip()
    ]
    country = m.country.strip().upper()
    if country and country not in EU_EEA:
        missing += [
            name for name in ("eu_rp_name", "eu_rp_address", "eu_rp_email") if not getattr(m, name).strip()
        ]
    if missing:
        yield Hit(None, {"manufacturer": m.name, "country": country, "missing": missing})


_GPSR_FIELDS = {
    "street": gettext_lazy("street"),
    "postcode": gettext_lazy("postcode"),
    "city": gettext_lazy("city"),
    "country": gettext_lazy("country"),
    "email": gettext_lazy("e-mail"),
    "eu_rp_name": gettext_lazy("EU responsible person"),
    "eu_rp_address": gettext_lazy("EU responsible person's address"),
    "eu_rp_email": gettext_lazy("EU responsible person's e-mail"),
}


def _msg_gpsr(d: dict) -> str:
    fields = ", ".join(str(_GPSR_FIELDS.get(f, f)) for f in d.get("missing", []))
    return _("Manufacturer %(name)s lacks: %(fields)s.") % {
        "name": d.get("manufacturer", ""),
        "fields": fields,
    }


def _check_safety(p: ProductData, ctx: AuditContext, params: dict) -> Iterator[Hit]:
    if not p.safety_info.strip():
        yield Hit(None, {})


def _check_price_zero(p: ProductData, ctx: AuditContext, params: dict) -> Iterator[Hit]:
    for v in p.active_variants:
        if v.price <= 0:
            yield Hit(v.id, {"sku": v.sku, "price": str(v.price)})


def net_price(gross: Decimal, vat_rate: str) -> Decimal:
    rate = Decimal(0) if vat_rate == "zw" else Decimal(vat_rate) / 100
    return (gross / (1 + rate)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _check_below_cost(p: ProductData, ctx: AuditContext, params: dict) -> Iterator[Hit]:
    margin = Decimal(str(params["min_margin_percent"]))
    for v in p.active_variants:
        if v.cost_price is None or v.price <= 0:
            continue
        net = net_price(v.price, v.vat_rate)
        floor = (v.cost_price * (1 + margin / 100)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if net < floor:
            yield Hit(v.id, {"sku": v.sku, "net": str(net), "cost": str(v.cost_price), "floor": str(floor)})


def _check_price_jump(p: ProductData, ctx: AuditContext, params: dict) -> Iterator[Hit]:
    limit = Decimal(str(params["max_change_percent"]))
    days = int(params["days"])
    since = ctx.now - dt.timedelta(days=days) if days else None
    for v in p.active_variants:
        for channel, prices in sorted(ctx.last_prices.get(v.id, {}).items()):
            if len(prices) < 2:
                continue
            (new, at), (old, _at) = prices[0], prices[1]
            if old <= 0 or (since is not None and at < since):
                continue
            change = (new - old) / old * 100
            if abs(change) > limit:
                yield Hit(
                    v.id,
                    {
                        "sku": v.sku,
                        "channel": channel,
                        "old": str(old),
                        "new": str(new),
                        "percent": str(change.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)),
                        "at": at.isoformat(),
                    },
                )


def _msg_price_jump(d: dict) -> str:
    if d.get("channel"):
        return _("%(sku)s on %(channel)s: price changed by %(percent)s%% (%(old)s → %(new)s).") % d
    return _("%(sku)s: price changed by %(percent)s%% (%(old)s → %(new)s).") % d


def _check_category(p: ProductData, ctx: AuditContext, params: dict) -> Iterator[Hit]:
    if p.category_id is None:
        yield Hit(None, {})


def _title_check(p: ProductData, params: dict) -> Iterator[Hit]:
    limit = params["max_length"]
    if len(p.name) > limit:
        yield Hit(None, {"length": len(p.name), "max": limit})
    for v in p.active_variants:
        if v.name != p.name and len(v.name) > limit:
            yield Hit(v.id, {"sku": v.sku, "length": len(v.name), "max": limit})


def _msg_title(d: dict) -> str:
    if d.get("sku"):
        return _("Variant %(sku)s: the name has %(length)s characters; at most %(max)s fit.") % d
    return _("The name has %(length)s characters; at most %(max)s fit.") % d


def _check_out_of_stock(p: ProductData, ctx: AuditContext, params: dict) -> Iterator[Hit]:
    if ctx.stock is None or p.status != "active":
        return
    for v in p.active_variants:
        qty = ctx.stock.get(v.id, 0)
        if qty <= 0:
            yield Hit(v.id, {"sku": v.sku, "available": qty})


# Generic environmental claims (EU Directive 2024/825, recital 9 and Annex I point 4a) in English and
# Polish. Each entry is a regular expression matched as whole words, case-insensitively; `\w*` takes
# Polish inflected endings (ekologiczny/-a/-e/-ego/-ych...). "green"/"zielony" alone is a colour in a
# catalog, so only their claim forms are listed ("greener", "green choice", "zielony wybór"...).
ECO_PATTERNS = (
    # English
    r"eco[- ]?friendly",
    r"environment(?:al(?:ly)?)?[- ]friendly",
    r"environmentally (?:correct|safe|responsible|sound)",
    r"(?:earth|planet|nature|climate|carbon)[- ]friendly",
    r"nature'?s friend",
    r"(?:climate|carbon|co2|co₂)[- ](?:neutral|positive)",
    r"net[- ]zero",
    r"gentle (?:on|to) the (?:environment|planet)",
    r"green(?:er)? (?:choice|product|alternative|option|solution)s?",
    r"greener",
    r"go(?:ing)? green",
    r"biodegradable",
    r"ecological(?:ly)?",
    r"eco",
    # Polish
    r"przyjazn\w*\s+(?:dla\s+)?(?:środowisk\w*|natur\w*|planet\w*|klimat\w*)",
    r"(?:bezpieczn|łagodn|neutraln)\w*\s+dla\s+(?:środowiska|planety|natury|klimatu)",
    r"neutraln\w*\s+(?:klimatycznie|emisyjnie|węglowo|pod\s+względem\s+emisji)",
    r"zeroemisyjn\w*",
    r"zielon\w*\s+(?:wyb[oó]r\w*|produkt\w*|alternatyw\w*|rozwiązani\w*|opcj\w*)",
    r"bardziej\s+zielon\w*",
    r"biodegradowaln\w*",
    r"ekologiczn\w*",
    r"eko",
)
_ECO_RE = re.compile(r"(?<!\w)(?:" + "|".join(ECO_PATTERNS) + r")(?!\w)", re.IGNORECASE)


def eco_claims(text: str, *, extra: list[str] = (), allowed: list[str] = ()) -> list[str]:  # type: ignore[assignment]
    """The generic environmental claims found in `text` (lower case, each once, in order of appearance)."""
    found: list[str] = []
    for m in _ECO_RE.finditer(text):
        found.append(" ".join(m.group(0).split()).lower())
    low = " ".join(text.split()).lower()
    for phrase in extra:
        if phrase and re.search(r"(?<!\w)" + re.escape(phrase) + r"(?!\w)", low):
            found.append(phrase)
    allowed_set = set(allowed)
    out: list[str] = []
    for phrase in found:
        if phrase not in allowed_set and phrase not in out:
            out.append(phrase)
    return out


def _check_eco(p: ProductData, ctx: AuditContext, params: dict) -> Iterator[Hit]:
    phrases = eco_claims(
        f"{p.name} {p.description_text}", extra=params["extra_phrases"], allowed=params["allowed_phrases"]
    )
    if phrases:
        yield Hit(None, {"phrases": phrases[:10]})


RULES: tuple[Rule, ...] = (
    Rule(
        "description_short",
        gettext_lazy("Missing or short description"),
        WARNING,
        gettext_lazy(
            "Google and Ceneo rank listings with thin descriptions lower, and customers return what they did "
            "not understand. Counted on the visible text (HTML removed)."
        ),
        _check_description,
        _msg_description,
        (Param("min_length", gettext_lazy("Minimum length (characters)"), "int", 200, 1, 100_000),),
    ),
    Rule(
        "image_missing",
        gettext_lazy("No image"),
        ERROR,
        gettext_lazy(
            "Google Merchant Center rejects items without an image and marketplaces hide them. Images that "
            "could not be read do not count."
        ),
        _check_no_image,
        _msg_no_image,
    ),
    Rule(
        "image_small",
        gettext_lazy("Image below the minimum size"),
        WARNING,
        gettext_lazy(
            "Small images look poor, cannot be zoomed and are refused by some channels (Google needs at least "
            "100×100 px, 250×250 px for clothing; Allegro recommends 500 px or more). Images whose size is "
            "not known yet are not counted."
        ),
        _check_small_image,
        _msg_small_image,
        (Param("min_pixels", gettext_lazy("Minimum shorter side (px)"), "int", 500, 1, 20_000),),
    ),
    Rule(
        "ean_missing",
        gettext_lazy("Missing EAN"),
        WARNING,
        gettext_lazy(
            "Google requires a GTIN for branded products and limits items without one; Ceneo and Allegro "
            "match offers to products by EAN."
        ),
        _check_ean_missing,
        lambda d: _("Variant %(sku)s has no EAN.") % d,
    ),
    Rule(
        "ean_invalid",
        gettext_lazy("Invalid EAN check digit"),
        ERROR,
        gettext_lazy(
            "An EAN with a wrong length or check digit is rejected by Google Merchant Center and by "
            "marketplaces; it is usually a typo."
        ),
        _check_ean_invalid,
        lambda d: _("Variant %(sku)s: EAN %(ean)s is not valid (length or check digit).") % d,
    ),
    Rule(
        "ean_duplicate",
        gettext_lazy("Duplicate EAN"),
        ERROR,
        gettext_lazy(
            "An EAN identifies one item. Two variants with the same EAN get merged or rejected by channels "
            "and mixed up when scanning in the warehouse."
        ),
        _check_ean_duplicate,
        lambda d: (
            _("Variant %(sku)s: EAN %(ean)s is also used by %(others)s.")
            % {**d, "others": ", ".join(d.get("others", []))}
        ),
    ),
    Rule(
        "sku_duplicate",
        gettext_lazy("Duplicate SKU (case or spaces)"),
        ERROR,
        gettext_lazy(
            "SKUs that differ only in letter case or spaces look the same to people, shop platforms and "
            "spreadsheets; orders and stock end up on the wrong variant."
        ),
        _check_sku_duplicate,
        lambda d: (
            _("Variant %(sku)s looks the same as %(others)s.")
            % {**d, "others": ", ".join(d.get("others", []))}
        ),
    ),
    Rule(
        "brand_missing",
        gettext_lazy("Missing brand"),
        WARNING,
        gettext_lazy("Google requires a brand for most products; customers filter and search by brand."),
        _check_brand,
        lambda d: _("No brand.") % d,
    ),
    Rule(
        "manufacturer_missing",
        gettext_lazy("Missing manufacturer"),
        WARNING,
        gettext_lazy(
            "The General Product Safety Regulation (GPSR, EU 2023/988) requires every online listing to name "
            "the manufacturer with a postal and electronic address."
        ),
        _check_manufacturer,
        lambda d: _("No manufacturer.") % d,
    ),
    Rule(
        "manufacturer_gpsr",
        gettext_lazy("Manufacturer lacks GPSR data"),
        ERROR,
        gettext_lazy(
            "GPSR requires the manufacturer's postal address and e-mail on the listing and, for a manufacturer "
            "outside the EU/EEA, an EU responsible person with their address and e-mail. Marketplaces block "
            "listings without them and the consumer authority (UOKiK) can fine the seller."
        ),
        _check_gpsr,
        _msg_gpsr,
    ),
    Rule(
        "safety_info_missing",
        gettext_lazy("Missing safety information"),
        INFO,
        gettext_lazy(
            "GPSR requires warnings and safety information on the listing where the product needs them "
            "(toys, cosmetics, electrical goods...). Many products need none: an info, not an error."
        ),
        _check_safety,
        lambda d: _("No warnings or safety information.") % d,
    ),
    Rule(
        "price_zero",
        gettext_lazy("Price 0"),
        ERROR,
        gettext_lazy("An active variant priced at 0 can be ordered for free; channels reject it."),
        _check_price_zero,
        lambda d: _("Variant %(sku)s costs %(price)s.") % d,
    ),
    Rule(
        "price_below_cost",
        gettext_lazy("Price below cost"),
        ERROR,
        gettext_lazy(
            "The net price (gross price less VAT) is below the net cost price plus the minimum margin: every "
            "sale loses money."
        ),
        _check_below_cost,
        lambda d: _("Variant %(sku)s: net price %(net)s is below %(floor)s (cost %(cost)s).") % d,
        (Param("min_margin_percent", gettext_lazy("Minimum margin over cost (%)"), "decimal", "0", 0, 1000),),
    ),
    Rule(
        "price_jump",
        gettext_lazy("Large price change"),
        WARNING,
        gettext_lazy(
            "The latest price change differs from the previous price by more than the limit: often a typo "
            "(a missing digit), and a sudden rise before a promotion breaks the Omnibus rules."
        ),
        _check_price_jump,
        _msg_price_jump,
        (
            Param("max_change_percent", gettext_lazy("Largest change (%)"), "decimal", "50", 1, 100_000),
            Param(
                "days",
                gettext_lazy("Only changes in the last N days (0 = any)"),
                "int",
                30,
                0,
                3650,
            ),
        ),
    ),
    Rule(
        "category_missing",
        gettext_lazy("No category"),
        WARNING,
        gettext_lazy(
            "Without a category the product is missing from the shop's navigation and feeds' product_type."
        ),
        _check_category,
        lambda d: _("No category.") % d,
    ),
    Rule(
        "title_allegro",
        gettext_lazy("Name too long for Allegro"),
        WARNING,
        gettext_lazy("Allegro offer titles have at most 75 characters; a longer name is cut or refused."),
        lambda p, ctx, params: _title_check(p, params),
        _msg_title,
        (Param("max_length", gettext_lazy("Maximum length"), "int", 75, 1, 1000),),
    ),
    Rule(
        "title_google",
        gettext_lazy("Name too long for Google"),
        WARNING,
        gettext_lazy("Google Merchant Center titles have at most 150 characters; longer ones are refused."),
        lambda p, ctx, params: _title_check(p, params),
        _msg_title,
        (Param("max_length", gettext_lazy("Maximum length"), "int", 150, 1, 1000),),
    ),
    Rule(
        "out_of_stock",
        gettext_lazy("Active but out of stock"),
        WARNING,
        gettext_lazy(
            "An active product with nothing available is shown and ordered, then cancelled, or the channel "
            "suspends the offer. Skipped when stock is unknown."
        ),
        _check_out_of_stock,
        lambda d: _("Variant %(sku)s is active but has %(available)s available.") % d,
    ),
    Rule(
        "eco_claim",
        gettext_lazy("Generic environmental claim"),
        WARNING,
        gettext_lazy(
            "EU Directive 2024/825 (from 27 September 2026) bans generic environmental claims such as "
            "“eco-friendly”, “green”, “climate neutral” or “biodegradable” without recognised proof; UOKiK "
            "can fine them as unfair practice. Name the specific, proven property instead."
        ),
        _check_eco,
        lambda d: (
            _("Generic environmental claims: %(phrases)s.") % {"phrases": ", ".join(d.get("phrases", []))}
        ),
        (
            Param(
                "extra_phrases",
                gettext_lazy("Also flag these phrases"),
                "phrases",
                [],
                help=gettext_lazy("Comma-separated."),
            ),
            Param(
                "allowed_phrases",
                gettext_lazy("Never flag these phrases"),
                "phrases",
                [],
                help=gettext_lazy("Comma-separated, e.g. a proven claim you may make."),
            ),
        ),
    ),
)

RULES_BY_CODE: dict[str, Rule] = {r.code: r for r in RULES}
