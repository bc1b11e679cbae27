"""The demo shop's story, planned in memory from one seed: catalogue, customers and each order's life
(placed -> paid -> picked -> packed -> shipped -> delivered -> completed, or cancelled / returned), with
the times a real shop would see. Nothing here touches the database; `builder` writes the plan.

Determinism: the same seed and the same `now` give the same plan (the only randomness is one
`random.Random(seed)`; no set or dict iteration order decides anything)."""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from bisect import bisect
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate

import holidays

from . import data as D

UTC = dt.UTC
CENT = Decimal("0.01")

# Weekly pattern (Mon..Sun): Sunday evening and Monday are the busiest days online, Saturday the quietest.
WEEKDAY = [1.12, 1.05, 1.0, 0.97, 0.9, 0.76, 1.1]
# Yearly pattern by month (Black Friday and the Christmas weeks come on top); the summer dip.
MONTH = {
    1: 0.92,
    2: 0.9,
    3: 0.98,
    4: 0.98,
    5: 1.0,
    6: 0.88,
    7: 0.72,
    8: 0.77,
    9: 0.97,
    10: 1.04,
    11: 1.12,
    12: 1.0,
}
# Orders by local hour: a morning rise, a lunch bump, the evening peak 19-21.
HOURS = [
    0.6,
    0.3,
    0.15,
    0.1,
    0.1,
    0.2,
    0.6,
    1.2,
    2.0,
    2.8,
    3.2,
    3.3,
    3.6,
    3.5,
    3.3,
    3.4,
    3.6,
    4.0,
    4.5,
    5.2,
    5.6,
    5.2,
    3.8,
    1.8,
]

CHANNELS = [("allegro", 44), ("shop", 31), ("amazon", 9), ("erli", 6), ("manual", 6), ("ebay", 4)]
PAYMENTS = {
    "shop": [("blik", 38), ("online", 20), ("card", 14), ("transfer", 9), ("cod", 13), ("paypal", 6)],
    "allegro": [("blik", 34), ("online", 24), ("marketplace", 20), ("card", 8), ("cod", 14)],
    "amazon": [("marketplace", 100)],
    "erli": [("blik", 40), ("online", 32), ("card", 16), ("cod", 12)],
    "ebay": [("marketplace", 80), ("paypal", 20)],
    "manual": [("transfer", 50), ("cod", 38), ("cash", 12)],
}
DELIVERIES = {
    "shop": [
        ("inpost_locker", 55),
        ("inpost_courier", 8),
        ("dpd", 12),
        ("dhl", 4),
        ("gls", 3),
        ("poczta", 6),
        ("orlen", 7),
        ("pickup", 5),
    ],
    "allegro": [
        ("inpost_locker", 62),
        ("inpost_courier", 6),
        ("dpd", 10),
        ("dhl", 4),
        ("poczta", 6),
        ("orlen", 12),
    ],
    "amazon": [("inpost_locker", 35), ("dpd", 35), ("dhl", 15), ("gls", 15)],
    "erli": [("inpost_locker", 60), ("dpd", 20), ("orlen", 20)],
    "ebay": [("dhl", 40), ("dpd", 30), ("poczta", 30)],
    "manual": [("dpd", 40), ("inpost_courier", 20), ("pickup", 25), ("poczta", 15)],
}
SHIPPING_PRICE = {
    "inpost_locker": "12.99",
    "inpost_courier": "16.99",
    "dpd": "17.99",
    "dhl": "18.99",
    "gls": "15.99",
    "poczta": "14.99",
    "orlen": "8.99",
    "pickup": "0.00",
}
CARRIER_LABEL = {
    "inpost_locker": "InPost",
    "inpost_courier": "InPost",
    "dpd": "DPD",
    "dhl": "DHL",
    "gls": "GLS",
    "poczta": "Poczta Polska",
    "orlen": "ORLEN Paczka",
}
INTAKE_DELAY_MIN = {
    "shop": (0.1, 2),
    "allegro": (1, 10),
    "amazon": (5, 30),
    "erli": (1, 10),
    "ebay": (5, 30),
    "manual": (0, 0),
}
ONLINE_PAYMENTS = frozenset({"blik", "online", "card", "paypal", "marketplace"})
WORK_START, WORK_END = 7, 15  # warehouse shift, local time
PICKUP_AT = dt.time(14, 30)  # carriers collect parcels


def q2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def ean13(body12: str) -> str:
    """A 12-digit body plus its EAN-13 check digit (weights 1, 3, 1, 3... from the left)."""
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)


def nip_make(rng: random.Random) -> str:
    """A valid Polish NIP: a real tax-office prefix, six random digits and the mod-11 check digit."""
    while True:
        body = rng.choice(D.NIP_OFFICES) + "".join(str(rng.randrange(10)) for _ in range(6))
        check = sum(int(c) * w for c, w in zip(body, NIP_WEIGHTS, strict=True)) % 11
        if check != 10:
            return body + str(check)


_PL = str.maketrans("ąćęłńóśźżĄĆĘŁŃÓŚŹŻ", "acelnoszzACELNOSZZ")


def ascii_slug(text: str) -> str:
    return "".join(c for c in text.translate(_PL).lower() if c.isalnum())


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([k for k, _ in weighted], weights=[w for _, w in weighted])[0]


# --- catalogue ------------------------------------------------------------------------------------


@dataclass
class VariantPlan:
    sku: str
    ean: str
    name: str
    price: Decimal
    vat_rate: str
    cost_price: Decimal
    weight_kg: Decimal
    root: str
    brand: str
    popularity: float
    restocked: bool = True  # False: the supplier stopped delivering; it may run out


@dataclass
class ProductPlan:
    name: str
    root: str
    leaf: str
    brand: str
    variants: list[VariantPlan]


def _price(rng: random.Random, lo: float, hi: float) -> Decimal:
    raw = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    ending = rng.choices(["0.99", "0.00", "0.49"], weights=[75, 15, 10])[0]
    whole = max(int(raw), int(lo))
    return Decimal(whole) + Decimal(ending) if ending != "0.00" else Decimal(whole + 1)


def plan_catalogue(rng: random.Random) -> list[ProductPlan]:
    products: list[ProductPlan] = []
    brand_prefix: dict[str, str] = {}
    item = 0
    for root, leaves in D.CATALOGUE.items():
        for leaf, code, vat, (pmin, pmax), (wmin, wmax), brands, bases, attrs in leaves:
            combos = [(b, a) for b in bases for a in attrs]
            rng.shuffle(combos)
            # about 1.55 products per base name: ~300 products in all
            chosen: list[tuple[str, str]] = []
            per_base: dict[str, int] = {}
            for b, a in combos:
                if per_base.get(b, 0) < 2:
                    chosen.append((b, a))
                    per_base[b] = per_base.get(b, 0) + 1
                if len(chosen) >= round(len(bases) * 1.55):
                    break
            for base, attr in sorted(chosen, key=lambda c: (bases.index(c[0]), attrs.index(c[1]))):
                brand = rng.choice(brands)
                if brand not in brand_prefix:  # a made-up GS1 company prefix per brand under Poland's 590
                    brand_prefix[brand] = f"{5000 + 37 * len(brand_prefix):04d}"
                is_book = root == "Książki"
                name = " ".join(p for p in (base, "" if is_book else brand, attr) if p)
                price = _price(rng, pmin, pmax)
                n = len(products) + 1
                sizes = D.SIZES.get(code, [""])
                variants = []
                for size in sizes:
                    item += 1
                    sku = f"{code}-{n:04d}" + (f"-{ascii_slug(size).upper()}" if size else "")
                    net = price / (1 + Decimal(vat) / 100)
                    variants.append(
                        VariantPlan(
                            sku=sku,
                            ean=ean13(f"590{brand_prefix[brand]}{item:05d}"),
                            name=f"{name} {size}".strip() if size else name,
                            price=price + (Decimal(10) if size == "XL" else 0),
                            vat_rate=vat,
                            cost_price=q2(net * Decimal(str(round(rng.uniform(0.42, 0.68), 2)))),
                            weight_kg=Decimal(str(round(rng.uniform(wmin, wmax), 3))),
                            root=root,
                            brand=brand,
                            popularity=0.0,
                        )
                    )
                products.append(ProductPlan(name=name, root=root, leaf=leaf, brand=brand, variants=variants))
    # Popularity follows a long tail: a random rank per product, weight ~ 1 / (rank + 3) ^ 1.1.
    ranks = list(range(len(products)))
    rng.shuffle(ranks)
    size_share = {"S": 0.2, "M": 0.35, "L": 0.3, "XL": 0.15}
    for product, rank in zip(products, ranks, strict=True):
        weight = 1 / (rank + 3) ** 1.1
        for v in product.variants:
            size = v.sku.rsplit("-", 1)[-1] if len(product.variants) > 1 else ""
            v.popularity = weight * size_share.get(size, 1 / len(product.variants))
            v.restocked = rng.random() > 0.04
    return products


# --- customers ------------------------------------------------------------------------------------


@dataclass
class CustomerPlan:
    type: str
    name: str
    email: str
    phone: str
    street: str
    postcode: str
    city: str
    locker: str
    login: str
    company: str = ""
    nip: str = ""


def _postcode(rng: random.Random, prefix: str) -> str:
    missing = 6 - len(prefix)
    digits = f"{rng.randrange(1, 10**missing):0{missing}d}"
    return prefix + digits


def plan_customers(rng: random.Random, n: int) -> list[CustomerPlan]:
    city_weights = list(accumulate(c[2] for c in D.CITIES))
    domains = list(accumulate(w for _, w in D.EMAIL_DOMAINS))
    used: set[str] = set()
    out = []
    for _ in range(n):
        female = rng.random() < 0.58  # more women than men buy online in these categories
        first = rng.choice(D.FIRST_F if female else D.FIRST_M)
        last = rng.choice(D.SURNAMES)[1 if female else 0]
        f, la = ascii_slug(first), ascii_slug(last)
        pattern = rng.randrange(5)
        local = [
            f"{f}.{la}",
            f"{f[0]}{la}",
            f"{la}.{f}",
            f"{f}{la}{rng.randrange(70, 100)}",
            f"{f}_{la}{rng.randrange(1, 30)}",
        ][pattern]
        domain = D.EMAIL_DOMAINS[bisect(domains, rng.random() * domains[-1])][0]
        email = f"{local}@{domain}"
        while email in used:
            email = f"{local}{rng.randrange(2, 999)}@{domain}"
        used.add(email)
        city, _voiv, _w, prefixes, locker_code = D.CITIES[
            bisect(city_weights, rng.random() * city_weights[-1])
        ]
        number = rng.randrange(1, 140)
        flat = f"/{rng.randrange(1, 80)}" if rng.random() < 0.55 else ""
        lnum = rng.randrange(1, 260)
        roll = rng.random()
        ctype, company, nip = "consumer", "", ""
        if roll < 0.06:
            ctype = "business"
            company = (
                f"{rng.choice(D.COMPANY_WORDS)}{rng.choice(['', '-Pol', 'pol', ' Plus', ' Serwis'])} "
                f"{rng.choice(D.COMPANY_FORMS)}"
            )
            nip = nip_make(rng)
        elif roll < 0.08:
            ctype = "sole_trader"
            company = f"{rng.choice(['P.H.U.', 'F.H.U.', 'Usługi', 'Pracownia'])} {first} {last}"
            nip = nip_make(rng)
        out.append(
            CustomerPlan(
                type=ctype,
                name=f"{first} {last}",
                email=email,
                phone=f"+48 {rng.choice(D.MOBILE_PREFIXES)} {rng.randrange(1000):03d} {rng.randrange(1000):03d}",
                street=f"ul. {rng.choice(D.STREETS)} {number}{flat}",
                postcode=_postcode(rng, rng.choice(prefixes)),
                city=city,
                locker=f"{locker_code}{lnum:02d}{rng.choices('MANP', weights=[80, 8, 8, 4])[0]}",
                login=f"{f[:4]}{la[:5]}{rng.randrange(10, 999)}",
                company=company,
                nip=nip,
            )
        )
    return out


# --- the calendar ---------------------------------------------------------------------------------


def black_friday(year: int) -> dt.date:
    nov1 = dt.date(year, 11, 1)
    first_thursday = nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7)
    return first_thursday + dt.timedelta(days=22)


class Calendar:
    def __init__(self, tz):
        self.tz = tz
        self._hol: dict[int, holidays.HolidayBase] = {}
        self._days: dict[dt.date, bool] = {}

    def holiday(self, day: dt.date) -> bool:
        known = self._days.get(day)
        if known is None:
            if day.year not in self._hol:
                self._hol[day.year] = holidays.country_holidays("PL", years=day.year)
            known = self._days[day] = day in self._hol[day.year]
        return known

    def peak(self, day: dt.date) -> bool:
        bf = black_friday(day.year)
        return bf - dt.timedelta(days=7) <= day <= dt.date(day.year, 12, 22)

    def day_weight(self, day: dt.date) -> float:
        w = WEEKDAY[day.weekday()] * MONTH[day.month]
        bf = black_friday(day.year)
        offset = (day - bf).days
        w *= {0: 3.6, 1: 2.1, 2: 2.0, 3: 2.7}.get(offset, 1.35 if -7 <= offset < 0 else 1.0)
        if day.month == 12:
            w *= (
                (1.5 + 0.05 * min(day.day, 15))
                if day.day <= 18
                else {19: 1.2, 20: 1.0, 21: 0.85, 22: 0.75, 23: 0.6, 24: 0.3, 25: 0.35, 26: 0.5}.get(
                    day.day, 0.7
                )
            )
        if self.holiday(day) and not (day.month == 12 and day.day in (25, 26)):
            w *= 0.65
        return w

    def workday(self, day: dt.date) -> bool:
        if day.weekday() < 5:
            return not self.holiday(day)
        return day.weekday() == 5 and self.peak(day)  # Saturday shifts in the Christmas peak

    def next_work(self, t: dt.datetime) -> dt.datetime:
        """The first moment at or after local time `t` inside a warehouse shift."""
        while True:
            day = t.date()
            start = t.replace(hour=WORK_START, minute=0, second=0, microsecond=0)
            end = t.replace(hour=WORK_END, minute=0, second=0, microsecond=0)
            if self.workday(day) and t < end:
                return max(t, start)
            t = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(WORK_START), tzinfo=self.tz)

    def add_work_minutes(self, t: dt.datetime, minutes: float) -> dt.datetime:
        t = self.next_work(t)
        while True:
            end = t.replace(hour=WORK_END, minute=0, second=0, microsecond=0)
            room = (end - t).total_seconds() / 60
            if minutes <= room:
                return t + dt.timedelta(minutes=minutes)
            minutes -= room
            t = self.next_work(end + dt.timedelta(minutes=1))

    def next_delivery_day(self, day: dt.date, saturday: bool) -> dt.date:
        day += dt.timedelta(days=1)
        while day.weekday() == 6 or (day.weekday() == 5 and not saturday) or self.holiday(day):
            day += dt.timedelta(days=1)
        return day


# --- orders ---------------------------------------------------------------------------------------


@dataclass
class Step:
    at: dt.datetime  # UTC
    kind: str  # status | payment | cancel | return
    status: str = ""  # target status code for status changes
    actor: str = "system"
    message: str = ""


@dataclass
class OrderPlan:
    seq: int
    channel: str
    customer: int
    payload: dict  # an OrderIn payload (the final state, as the channel would report it today)
    created_at: dt.datetime
    initial_status: str
    steps: list[Step] = field(default_factory=list)
    shipped_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    cancelled_at: dt.datetime | None = None
    unknown_sku: bool = False

    @property
    def final_status(self) -> str:
        for step in reversed(self.steps):
            if step.status:
                return step.status
        return self.initial_status


class OrderPlanner:
    def __init__(
        self,
        *,
        rng: random.Random,
        now: dt.datetime,
        days: int,
        tz,
        products: list[ProductPlan],
        customers: list[CustomerPlan],
    ):
        self.rng, self.now, self.days, self.tz = rng, now, days, tz
        self.cal = Calendar(tz)
        self.customers = customers
        self.variants = [v for p in products for v in p.variants]
        self.by_month: dict[int, list[float]] = {}
        for month in range(1, 13):
            weights = [
                v.popularity * D.CATEGORY_SEASON.get(v.root, {}).get(month, 1.0) for v in self.variants
            ]
            self.by_month[month] = list(accumulate(weights))
        self.customer_cum = None

    # when orders are placed
    def placement_times(self, n: int) -> list[dt.datetime]:
        rng, now_local = self.rng, self.now.astimezone(self.tz)
        first = now_local.date() - dt.timedelta(days=self.days - 1)
        day_list = [first + dt.timedelta(days=i) for i in range(self.days)]
        hour_cum = list(accumulate(HOURS))
        weights = []
        for i, day in enumerate(day_list):
            trend = 0.92 + 0.16 * i / max(1, self.days - 1)  # the shop grows over the year
            w = self.cal.day_weight(day) * trend * math.exp(rng.gauss(0, 0.12))
            if day == now_local.date():  # today is not over yet
                elapsed = now_local.hour + now_local.minute / 60
                w *= sum(HOURS[h] * min(1.0, max(0.0, elapsed - h)) for h in range(24)) / hour_cum[-1]
            weights.append(w)
        cum = list(accumulate(weights))
        times = []
        for _ in range(n):
            day = day_list[bisect(cum, rng.random() * cum[-1])]
            while True:
                hour = bisect(hour_cum, rng.random() * hour_cum[-1])
                t = dt.datetime.combine(
                    day, dt.time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=self.tz
                )
                if t <= now_local:
                    break
            times.append(t.astimezone(UTC))
        times.sort()
        return times

    def _customer(self) -> int:
        # Returning customers: low indexes come back more often.
        return int(len(self.customers) * self.rng.random() ** 1.6)

    def _external_id(self, channel: str, seq: int, placed: dt.datetime) -> str:
        rng = self.rng
        if channel == "allegro":
            return str(uuid.UUID(int=rng.getrandbits(128), version=4))
        if channel == "amazon":
            return f"{rng.choice(['403', '404', '405', '406', '407'])}-{rng.randrange(10**7):07d}-{rng.randrange(10**7):07d}"
        if channel == "ebay":
            return f"{rng.randrange(10, 28)}-{rng.randrange(10**5):05d}-{rng.randrange(10**5):05d}"
        if channel == "erli":
            return f"{rng.randrange(10**7, 10**8)}"
        if channel == "manual":
            return f"TEL/{placed.year}/{seq:05d}"
        return f"{20000 + seq}"

    def _lines(self, placed_local: dt.datetime) -> list[tuple[VariantPlan, int, Decimal]]:
        rng = self.rng
        cum = self.by_month[placed_local.month]
        count = rng.choices([1, 2, 3, 4, 5], weights=[60, 25, 9, 4, 2])[0]
        bf = black_friday(placed_local.year)
        promo = 0 <= (placed_local.date() - bf).days <= 3
        chosen: list[tuple[VariantPlan, int, Decimal]] = []
        seen = set()
        for _ in range(count * 3):
            if len(chosen) >= count:
                break
            v = self.variants[bisect(cum, rng.random() * cum[-1])]
            if v.sku in seen:
                continue
            seen.add(v.sku)
            cheap = v.price < 30
            qty = rng.choices([1, 2, 3, 4, 6], weights=[70, 18, 7, 3, 2] if cheap else [88, 9, 2, 0.7, 0.3])[
                0
            ]
            price = v.price
            if promo and rng.random() < 0.45:  # Black Friday prices
                price = Decimal(int(price * Decimal(str(rng.choice([0.75, 0.8, 0.85]))))) + Decimal("0.99")
                price = min(price, v.price)
            chosen.append((v, qty, price))
        return chosen

    def plan(self, n: int) -> list[OrderPlan]:
        rng = self.rng
        plans = []
        recent = self.now - dt.timedelta(days=4)
        seq_by_channel: dict[str, int] = {}
        channel_names = [c for c, _ in CHANNELS]
        channel_cum = list(accumulate(w for _, w in CHANNELS))
        times = self.placement_times(n)
        # a few recent orders carry an offer nobody has mapped to a SKU yet (about 4%, at least one)
        recent_idx = [i for i, t in enumerate(times) if t >= recent]
        unmapped = set(rng.sample(recent_idx, min(len(recent_idx), max(1, round(0.04 * len(recent_idx))))))
        for i, placed in enumerate(times):
            channel = channel_names[bisect(channel_cum, rng.random() * channel_cum[-1])]
            seq_by_channel[channel] = seq_by_channel.get(channel, 0) + 1
            cidx = self._customer()
            c = self.customers[cidx]
            placed_local = placed.astimezone(self.tz)
            lines = self._lines(placed_local)
            delivery = _pick(rng, DELIVERIES[channel])
            payment = _pick(rng, PAYMENTS[channel])
            if delivery == "pickup" and payment == "cod":
                payment = "cash"
            if payment == "cash" and delivery != "pickup":
                payment = "cod"
            goods = sum((p * q for _v, q, p in lines), Decimal(0))
            shipping = Decimal(SHIPPING_PRICE[delivery])
            if (
                channel == "allegro"
                and delivery in ("inpost_locker", "orlen", "inpost_courier", "dpd")
                and goods >= 45
                and rng.random() < 0.65
            ):
                shipping = Decimal(0)  # Allegro Smart
            elif channel in ("amazon", "erli") or (channel == "shop" and goods >= 199):
                shipping = Decimal(0)
            if payment == "cod":
                shipping += Decimal("5.00")
            discount = Decimal(0)
            if channel == "shop" and rng.random() < 0.08:
                discount = (
                    q2(goods * Decimal("0.10")) if rng.random() < 0.6 else q2(min(Decimal(20), goods / 2))
                )
            note = rng.choice(D.NOTES) if rng.random() < 0.06 else ""
            tags = []
            if c.type != "consumer" and (channel in ("shop", "manual") or rng.random() < 0.5):
                tags.append("faktura")
            if "prezent" in note.lower():
                tags.append("prezent")
            if cidx < len(self.customers) * 0.005:
                tags.append("VIP")
            email = c.email
            if channel == "allegro":  # marketplaces hand over masked addresses, stable per buyer
                email = f"{c.login}@allegromail.example.com"
            elif channel == "amazon":
                email = f"{cidx * 2654435761 % 16**12:012x}@marketplace.amazon.example.com"
            address = {
                "name": c.name,
                "company": c.company,
                "street": c.street,
                "postcode": c.postcode,
                "city": c.city,
                "country": "PL",
                "phone": c.phone,
            }
            payload = {
                "channel": channel,
                "external_id": self._external_id(channel, seq_by_channel[channel], placed_local),
                "number": f"{100001 + i}",
                "placed_at": placed,
                "customer_type": c.type,
                "customer_name": c.name,
                "email": email,
                "phone": c.phone,
                "company": c.company,
                "nip": c.nip,
                "billing_address": address,
                "shipping_address": {**address, "company": ""} if c.type == "consumer" else address,
                "payment_method": payment,
                "delivery_method": delivery,
                "pickup_point": c.locker if delivery == "inpost_locker" else "",
                "shipping_cost": shipping,
                "discount": discount,
                "notes": note,
                "tags": tags,
                "lines": [
                    {
                        "sku": v.sku,
                        "ean": v.ean,
                        "name": v.name,
                        "quantity": q,
                        "unit_price_gross": p,
                        "vat_rate": v.vat_rate,
                    }
                    for v, q, p in lines
                ],
            }
            lo, hi = INTAKE_DELAY_MIN[channel]
            created = placed + dt.timedelta(minutes=rng.uniform(lo, hi))
            plan = OrderPlan(
                seq=i,
                channel=channel,
                customer=cidx,
                payload=payload,
                created_at=created,
                initial_status="new",
            )
            if i in unmapped:
                plan.unknown_sku = True
                payload["lines"].append(
                    {
                        "sku": f"ALG-{rng.randrange(10**10, 10**11)}",
                        "name": "Zestaw prezentowy (oferta bez powiązania)",
                        "quantity": 1,
                        "unit_price_gross": Decimal("49.99"),
                        "vat_rate": "23",
                    }
                )
            self._story(plan, payment, delivery, lines)
            plans.append(plan)
        return plans

    # one order's life
    def _story(self, plan: OrderPlan, payment: str, delivery: str, lines) -> None:
        rng, cal, tz = self.rng, self.cal, self.tz
        p = plan.payload
        placed, created = p["placed_at"], plan.created_at
        office = rng.choice(D.OFFICE_STAFF)
        staff = rng.choice(D.WAREHOUSE_STAFF)
        steps = plan.steps

        def local(t: dt.datetime) -> dt.datetime:
            return t.astimezone(tz)

        # payment and the status at intake
        paid_at = None
        ready_at = None
        if plan.channel == "manual":
            plan.initial_status = "new"
            confirm = cal.add_work_minutes(local(created), rng.uniform(5, 60)).astimezone(UTC)
            if payment == "transfer":
                steps.append(Step(confirm, "status", "awaiting_payment", office))
                wait = confirm
            else:
                steps.append(Step(confirm, "status", "ready", office))
                ready_at = confirm
        if payment in ONLINE_PAYMENTS:
            if plan.channel in ("allegro", "amazon", "ebay") or rng.random() > 0.04:
                paid_at = placed + (created - placed) * rng.uniform(0.3, 0.95)
                plan.initial_status = "ready"
                ready_at = created
            else:  # the payment was abandoned: waits, then paid later or cancelled
                plan.initial_status = "awaiting_payment"
                wait = created
                if rng.random() < 0.6:
                    paid_at = created + dt.timedelta(minutes=rng.uniform(20, 60 * 36))
                    steps.append(Step(paid_at, "payment", actor="płatności"))
                    ready_at = paid_at
                    steps.append(Step(paid_at, "status", "ready", "system"))
                else:
                    at = created + dt.timedelta(days=3, minutes=rng.uniform(0, 600))
                    steps.append(Step(at, "cancel", "cancelled", "system", "Brak płatności w ciągu 3 dni"))
                    plan.cancelled_at = at
        elif payment == "transfer":
            if plan.channel != "manual":
                plan.initial_status = "awaiting_payment"
                wait = created
            if rng.random() < 0.87:
                base = cal.next_work(local(wait) + dt.timedelta(hours=rng.uniform(1, 40))).astimezone(UTC)
                paid_at = base + dt.timedelta(minutes=rng.uniform(0, 120))
                steps.append(Step(paid_at, "payment", actor="bank"))
                steps.append(
                    Step(paid_at + dt.timedelta(minutes=rng.uniform(1, 30)), "status", "ready", office)
                )
                ready_at = steps[-1].at
            else:
                at = wait + dt.timedelta(days=7, hours=rng.uniform(8, 12))
                steps.append(Step(at, "cancel", "cancelled", office, "Brak wpłaty w ciągu 7 dni"))
                plan.cancelled_at = at
        elif plan.channel != "manual":  # cash on delivery
            plan.initial_status = "ready"
            ready_at = created
        p["paid_at"] = paid_at if paid_at and paid_at <= self.now else None

        if ready_at is None or plan.unknown_sku:
            self._finish(plan, payment)  # an unknown SKU waits for someone to map it: nothing more happens
            return
        # the customer cancels before the parcel is picked
        if rng.random() < 0.015:
            at = ready_at + dt.timedelta(minutes=rng.uniform(10, 300))
            steps.append(
                Step(
                    at,
                    "cancel",
                    "cancelled",
                    office,
                    rng.choice(
                        [
                            "Klient zrezygnował",
                            "Klient zamówił ponownie z inną dostawą",
                            "Rezygnacja telefoniczna",
                        ]
                    ),
                )
            )
            plan.cancelled_at = at
            self._finish(plan, payment)
            return
        # the warehouse: queue, picking, packing (slower in the Christmas peak; now and then a hold-up)
        peak = cal.peak(local(ready_at).date())
        queue = rng.uniform(10, 150) * (2.5 if peak else 1.0)
        if rng.random() < (0.12 if peak else 0.03):
            queue += rng.uniform(1, 4) * 60 * (WORK_END - WORK_START)  # waiting for stock or a backlog
        picking = cal.add_work_minutes(local(ready_at), queue)
        steps.append(Step(picking.astimezone(UTC), "status", "picking", staff))
        packed = cal.add_work_minutes(picking, rng.uniform(4, 35))
        steps.append(Step(packed.astimezone(UTC), "status", "packed", staff))
        if rng.random() < 0.004:  # found damaged at packing and nothing left: cancelled
            at = packed.astimezone(UTC) + dt.timedelta(minutes=rng.uniform(30, 180))
            steps.append(Step(at, "cancel", "cancelled", office, "Brak towaru – uszkodzony egzemplarz"))
            plan.cancelled_at = at
            self._finish(plan, payment)
            return
        # hand-over to the carrier (or the customer collects)
        if delivery == "pickup":
            collected = cal.next_work(packed + dt.timedelta(hours=rng.uniform(2, 60)))
            shipped = collected.astimezone(UTC)
            steps.append(Step(shipped, "status", "shipped", office, "Odbiór osobisty"))
            plan.shipped_at = shipped
            if payment == "cash":
                steps.append(Step(shipped, "payment", actor=office, message="Gotówka przy odbiorze"))
            delivered = shipped + dt.timedelta(minutes=1)
            steps.append(Step(delivered, "status", "delivered", office))
            plan.delivered_at = delivered
        else:
            day = packed.date() if packed.time() <= dt.time(14, 15) else None
            if day is None:
                nxt = cal.next_work(
                    dt.datetime.combine(packed.date() + dt.timedelta(days=1), dt.time(WORK_START), tzinfo=tz)
                )
                day = nxt.date()
            pickup = dt.datetime.combine(day, PICKUP_AT, tzinfo=tz) + dt.timedelta(minutes=rng.uniform(0, 45))
            shipped = pickup.astimezone(UTC)
            steps.append(Step(shipped, "status", "shipped", staff))
            plan.shipped_at = shipped
            carrier = CARRIER_LABEL[delivery]
            if payment == "cod" and rng.random() < 0.04:  # parcel never collected: back to the shop
                back = shipped + dt.timedelta(days=rng.uniform(9, 15))
                steps.append(
                    Step(back, "return", "returned", office, "Paczka nieodebrana – zwrot do nadawcy")
                )
                self._finish(plan, payment)
                return
            locker = delivery in ("inpost_locker", "orlen")
            hops = rng.choices([1, 2, 3], weights=[80, 17, 3] if locker else [68, 26, 6])[0]
            d = pickup.date()
            for _ in range(hops):
                d = cal.next_delivery_day(d, saturday=locker)
            hour = rng.uniform(7, 20) if locker else rng.uniform(9, 17)
            delivered = dt.datetime.combine(d, dt.time(int(hour), int(hour % 1 * 60)), tzinfo=tz).astimezone(
                UTC
            )
            steps.append(Step(delivered, "status", "delivered", f"śledzenie: {carrier}"))
            plan.delivered_at = delivered
            if payment == "cod":
                steps.append(Step(delivered, "payment", actor=f"śledzenie: {carrier}", message="Pobranie"))
        fashion = any(v.root == "Moda" for v, _q, _p in lines)
        if rng.random() < (0.08 if fashion else 0.022):
            at = plan.delivered_at + dt.timedelta(days=rng.uniform(3, 13), hours=rng.uniform(0, 6))
            steps.append(
                Step(
                    at,
                    "return",
                    "returned",
                    office,
                    rng.choice(
                        [
                            "Odstąpienie od umowy",
                            "Zwrot – zły rozmiar",
                            "Zwrot – nie spełnia oczekiwań",
                            "Reklamacja uznana",
                        ]
                    ),
                )
            )
        elif rng.random() < 0.86:  # closed once the 14-day withdrawal period is over
            at = plan.delivered_at + dt.timedelta(days=rng.uniform(15, 19))
            steps.append(Step(at, "status", "completed", "system", "Minął termin odstąpienia"))
        self._finish(plan, payment)

    def _finish(self, plan: OrderPlan, payment: str) -> None:
        """Cut the story at `now`: what has not happened yet is dropped; the payload states today's truth."""
        plan.steps = [s for s in sorted(plan.steps, key=lambda s: s.at) if s.at <= self.now]
        if plan.shipped_at and plan.shipped_at > self.now:
            plan.shipped_at = None
        if plan.delivered_at and plan.delivered_at > self.now:
            plan.delivered_at = None
        if plan.cancelled_at and plan.cancelled_at > self.now:
            plan.cancelled_at = None
        p = plan.payload
        final = plan.final_status
        if payment in ("cod", "cash"):
            cod_paid = [s.at for s in plan.steps if s.kind == "payment"]
            p["paid_at"] = cod_paid[0] if cod_paid else None
            p["payment_status"] = "paid" if cod_paid else ("cod" if payment == "cod" else "unpaid")
        else:
            p["payment_status"] = "paid" if p.get("paid_at") else "unpaid"
        if final == "returned" and p["payment_status"] == "paid":
            p["payment_status"] = "refunded"
        p["status"] = final


def plan_shop(
    *, orders: int, days: int, seed: int, now: dt.datetime, tz
) -> tuple[random.Random, list[ProductPlan], list[CustomerPlan], list[OrderPlan]]:
    """The whole plan from one seed; returns the generator too (the stock replay goes on drawing from it)."""
    rng = random.Random(seed)
    products = plan_catalogue(rng)
    customers = plan_customers(rng, max(20, int(orders * 0.68)))
    planner = OrderPlanner(rng=rng, now=now, days=days, tz=tz, products=products, customers=customers)
    return rng, products, customers, planner.plan(orders)
