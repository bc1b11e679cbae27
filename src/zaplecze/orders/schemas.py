"""The one validated shape every order source produces before `ingest_order()`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from stdnum import ean as stdnum_ean
from stdnum.pl import nip as stdnum_nip

from zaplecze.catalog.models import VatRate

from .models import CustomerType, DeliveryMethod, PaymentMethod, PaymentStatus, Stage

Str = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)]
ShortStr = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
# Bounds of the database columns these land in (PostgreSQL refuses longer values).
Name = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Number = Annotated[str, StringConstraints(strip_whitespace=True, max_length=60)]
LINE_TOTAL_LIMIT = Decimal(10) ** 13
Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AddressIn(Strict):
    name: Name = ""  # becomes the customer name when none is given
    company: Str = ""
    street: Str = ""
    postcode: Annotated[str, StringConstraints(strip_whitespace=True, max_length=12)] = ""
    city: Str = ""
    country: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=2)] = "PL"
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""


class OrderLineIn(Strict):
    sku: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    ean: Annotated[str, StringConstraints(strip_whitespace=True, max_length=14)] = ""
    name: Str = ""
    quantity: int = Field(gt=0, le=100_000)
    unit_price_gross: Money
    vat_rate: str = VatRate.R23
    external_id: ShortStr = ""

    @field_validator("vat_rate", mode="before")
    @classmethod
    def _vat(cls, v):
        v = str(v).strip().lower().rstrip("%")
        if v in {"", "23.0", "0.23"}:
            v = "23" if v else "23"
        aliases = {"8.0": "8", "5.0": "5", "0.0": "0", "0.08": "8", "0.05": "5", "np": "0", "exempt": "zw"}
        v = aliases.get(v, v)
        if v not in VatRate.values:
            raise ValueError(f"VAT rate must be one of {', '.join(VatRate.values)}")
        return v

    @field_validator("ean")
    @classmethod
    def _ean(cls, v):
        if v and not stdnum_ean.is_valid(v):
            raise ValueError(f"{v!r} is not a valid EAN (check digit)")
        return v

    @model_validator(mode="after")
    def _line_total(self):
        if self.unit_price_gross * self.quantity >= LINE_TOTAL_LIMIT:
            raise ValueError("quantity x unit price is too large for one order line")
        return self


class OrderIn(Strict):
    channel: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    external_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    number: Number = ""
    status: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    stage: Stage | None = None
    placed_at: dt.datetime
    updated_at: dt.datetime | None = None
    currency: Annotated[
        str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z]{3}$")
    ] = "PLN"

    customer_type: CustomerType = CustomerType.CONSUMER
    customer_name: Name = ""
    email: Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=254)] = ""
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""
    company: Name = ""
    nip: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] = ""
    billing_address: AddressIn | None = None
    shipping_address: AddressIn | None = None

    payment_method: PaymentMethod = PaymentMethod.OTHER
    payment_status: PaymentStatus | None = None
    paid_at: dt.datetime | None = None
    delivery_method: DeliveryMethod = DeliveryMethod.OTHER
    pickup_point: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] = ""

    shipping_cost: Money = Decimal("0")
    discount: Money = Decimal("0")
    # Discount codes the customer used at the shop's checkout (promotions count redemptions from them).
    discount_codes: list[
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    ] = Field(default_factory=list, max_length=20)
    total_gross: Money | None = None
    notes: Annotated[str, StringConstraints(max_length=5000)] = ""
    tags: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]] = Field(
        default_factory=list, max_length=20
    )
    lines: list[OrderLineIn] = Field(min_length=1, max_length=500)

    @field_validator("placed_at", "updated_at", "paid_at")
    @classmethod
    def _aware(cls, v):
        if v is not None and v.tzinfo is None:
            raise ValueError("date and time must include a UTC offset, e.g. 2026-05-01T10:00:00+02:00")
        return v

    @field_validator("email")
    @classmethod
    def _email(cls, v):
        if v and ("@" not in v or v.startswith("@") or v.endswith("@") or " " in v):
            raise ValueError(f"{v!r} is not an e-mail address")
        return v

    @field_validator("nip")
    @classmethod
    def _nip(cls, v):
        if not v:
            return v
        compact = stdnum_nip.compact(v.upper().removeprefix("PL"))
        if not stdnum_nip.is_valid(compact):
            raise ValueError(f"NIP {v!r} is not valid (10 digits with a correct check digit)")
        return compact

    @model_validator(mode="after")
    def _business_needs_nip(self):
        if self.customer_type == CustomerType.BUSINESS and not self.nip:
            raise ValueError("a business customer needs a NIP")
        return self

    @model_validator(mode="after")
    def _discount_within_value(self):
        if self.discount > self.lines_gross() + self.shipping_cost:
            raise ValueError(
                f"discount {self.discount} is larger than the lines and shipping together "
                f"({self.lines_gross() + self.shipping_cost})"
            )
        return self

    def lines_gross(self) -> Decimal:
        return sum((line.unit_price_gross * line.quantity for line in self.lines), Decimal("0"))

    def computed_total(self) -> Decimal:
        return self.lines_gross() + self.shipping_cost - self.discount
