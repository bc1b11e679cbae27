"""What every import format shares: column resolution, rows, errors, and the mapping of payment and
delivery names that shops write in their exports to Zaplecze's fixed choices."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from ..models import DeliveryMethod, PaymentMethod
from .reader import normalise_header
from .values import CENT, ValueProblem, parse_datetime, parse_money, parse_quantity

DEFAULT_CHANNEL = "shop"  # for formats without a channel column, unless --channel is given


@dataclass
class RowError:
    line: int
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "message": self.message}


class Row:
    """One CSV record with access by canonical column key."""

    __slots__ = ("line", "fields", "index", "problem")

    def __init__(self, line: int, fields: list[str], index: dict[str, int], problem: str = ""):
        self.line = line
        self.fields = fields
        self.index = index
        self.problem = problem

    def get(self, key: str) -> str:
        i = self.index.get(key)
        return self.fields[i].strip() if i is not None else ""

    def has(self, key: str) -> bool:
        return key in self.index


@dataclass
class Built:
    """The OrderIn payload built from one order's rows, or the errors that stop it."""

    payload: dict[str, Any] | None
    errors: list[RowError] = field(default_factory=list)
    line_rows: list[int] = field(default_factory=list)  # physical line of each payload line


class OrderFormat:
    """An import format: which columns it has (canonical key -> accepted header names), which are
    required, how rows group into orders and how one order's rows become an OrderIn payload."""

    name: ClassVar[str]
    label: ClassVar[str]
    columns: ClassVar[dict[str, tuple[str, ...]]]
    required: ClassVar[tuple[str, ...]]
    signature: ClassVar[tuple[str, ...]]  # keys whose presence identifies the format
    # OrderIn field path (e.g. "lines.quantity", "billing_address.postcode") -> canonical column key
    field_columns: ClassVar[dict[str, str]] = {}

    def __init__(self, header: list[str], tz: ZoneInfo, channel: str | None):
        self.header = header
        self.tz = tz
        self.channel = channel
        self.index: dict[str, int] = {}
        normalised = [normalise_header(h) for h in header]
        for key, names in self.accepted().items():
            for name in names:
                if name in normalised:
                    self.index[key] = normalised.index(name)
                    break

    @classmethod
    def accepted(cls) -> dict[str, tuple[str, ...]]:
        """Column key -> accepted header names, normalised (lower case, single spaces)."""
        cache = cls.__dict__.get("_accepted")
        if cache is None:
            cache = {k: tuple(normalise_header(n) for n in names) for k, names in cls.columns.items()}
            cls._accepted = cache  # type: ignore[attr-defined]
        return cache

    @classmethod
    def score(cls, header: list[str]) -> int:
        names = {normalise_header(h) for h in header}
        return sum(1 for accepted in cls.accepted().values() if names.intersection(accepted))

    @classmethod
    def matches(cls, header: list[str]) -> bool:
        names = {normalise_header(h) for h in header}
        accepted = cls.accepted()
        return all(names.intersection(accepted[k]) for k in cls.signature)

    def missing_columns(self) -> list[str]:
        return [self.columns[k][0] for k in self.required_keys() if k not in self.index]

    def required_keys(self) -> tuple[str, ...]:
        return self.required

    def column(self, key: str) -> str:
        """The column's name as written in this file's header (or the documented name)."""
        i = self.index.get(key)
        if i is not None:
            return self.header[i].replace("\ufeff", "").strip()
        names = self.columns.get(key)
        return names[0] if names else key

    def row(self, line: int, fields: list[str], problem: str = "") -> Row:
        return Row(line, fields, self.index, problem)

    def group_key(self, row: Row) -> str:
        raise NotImplementedError

    def group_column(self) -> str:
        raise NotImplementedError

    def line_identity(self, row: Row) -> tuple:
        """Two rows of one order with the same identity are the same line (a duplicated row)."""
        return tuple(row.fields)

    def build(self, rows: list[Row]) -> Built:
        raise NotImplementedError

    def column_for_field(self, loc: tuple) -> str:
        """Name the CSV column behind a pydantic error location such as ("lines", 2, "quantity")."""
        parts = [str(p) for p in loc if not isinstance(p, int)]
        path = ".".join(parts)
        while path:
            key = self.field_columns.get(path)
            if key:
                return self.column(key)
            path = path.rpartition(".")[0]
        return ".".join(parts)


class Collector:
    """Gathers cell values of one order and the errors met while parsing them."""

    def __init__(self, fmt: OrderFormat):
        self.fmt = fmt
        self.errors: list[RowError] = []

    def error(self, row: Row, key: str, message: str) -> None:
        self.errors.append(RowError(row.line, self.fmt.column(key), message))

    def money(self, row: Row, key: str, required: bool = False) -> Decimal | None:
        try:
            value = parse_money(row.get(key))
        except ValueProblem as exc:
            self.error(row, key, str(exc))
            return None
        if value is None and required:
            self.error(row, key, _("the amount is empty"))
        return value

    def quantity(self, row: Row, key: str) -> int | None:
        try:
            return parse_quantity(row.get(key))
        except ValueProblem as exc:
            self.error(row, key, str(exc))
            return None

    def datetime(self, row: Row, key: str, required: bool = False):
        raw = row.get(key)
        if not raw:
            if required:
                self.error(row, key, _("a date and time is required"))
            return None
        try:
            return parse_datetime(raw, self.fmt.tz)
        except ValueProblem as exc:
            self.error(row, key, str(exc))
            return None

    def required(self, row: Row, key: str) -> str:
        value = row.get(key)
        if not value:
            self.error(row, key, _("this value is required"))
        return value


def q2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def address(values: dict[str, str]) -> dict[str, str] | None:
    """An AddressIn payload, or None when every part is empty."""
    if not any(values.values()):
        return None
    return values


_PAYMENT_WORDS: list[tuple[str, str]] = [
    (r"cash on delivery|\bcod\b|pobrani|przy odbiorze|payment on delivery", PaymentMethod.COD),
    (r"\bblik\b", PaymentMethod.BLIK),
    (r"paypal", PaymentMethod.PAYPAL),
    (
        r"przelewy24|\bp24\b|payu|tpay|dotpay|imoje|paynow|autopay|bluemedia|blue media|przelew online|online",
        PaymentMethod.ONLINE,
    ),
    (r"bank|bacs|transfer|przelew|wire|deposit", PaymentMethod.TRANSFER),
    (
        r"card|karta|stripe|shopify_payments|shopify payments|visa|mastercard|apple pay|google pay",
        PaymentMethod.CARD,
    ),
    (r"allegro|amazon|marketplace|ebay|erli", PaymentMethod.MARKETPLACE),
    (r"\bcash\b|gotówk|gotowk", PaymentMethod.CASH),
]
_DELIVERY_WORDS: list[tuple[str, str]] = [
    (r"paczkomat|locker|inpost_locker|inpost locker|one box|punkt", DeliveryMethod.INPOST_LOCKER),
    (r"inpost", DeliveryMethod.INPOST_COURIER),
    (r"\bdpd\b", DeliveryMethod.DPD),
    (r"\bdhl\b", DeliveryMethod.DHL),
    (r"\bgls\b", DeliveryMethod.GLS),
    (r"poczta|pocztex|polish post", DeliveryMethod.POCZTA),
    (r"orlen", DeliveryMethod.ORLEN),
    (r"odbiór osobisty|odbior osobisty|local pickup|pickup|pick-up|odbiór w sklepie", DeliveryMethod.PICKUP),
]


_PAYMENT_CODES = frozenset(PaymentMethod.values)
_DELIVERY_CODES = frozenset(DeliveryMethod.values)


def payment_method(text: str) -> str:
    """A shop's payment method name or code -> PaymentMethod (OTHER when nothing matches)."""
    value = text.strip().lower()
    if value in _PAYMENT_CODES:
        return value
    for pattern, method in _PAYMENT_WORDS:
        if re.search(pattern, value):
            return method
    return PaymentMethod.OTHER


def delivery_method(text: str) -> str:
    value = text.strip().lower()
    if value in _DELIVERY_CODES:
        return value
    for pattern, method in _DELIVERY_WORDS:
        if re.search(pattern, value):
            return method
    return DeliveryMethod.OTHER


def split_tags(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for part in text.split(","):
        part = part.strip()[:50]
        if part:
            seen.setdefault(part, None)
    return list(seen)[:20]
