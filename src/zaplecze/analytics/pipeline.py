"""The collector's ingestion pipeline: a list of named steps, each enriching the event or dropping it with
a reason (Plausible's design). A drop is counted per (day, site, step, reason) and shown on the dashboard.

    event = run(raw, ip=..., user_agent=..., now=...)   # -> the record to spool, or raises Drop

The IP address is used by the `visitor` step only and never leaves this module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError

from . import classify

EVENTS = ("pageview", "product_view", "add_to_cart", "begin_checkout", "purchase", "custom")
MAX_URL = 2000
MAX_PROPS = 20
_ID = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_MAX_VALUE = Decimal("1000000000000")


class Drop(Exception):  # noqa: N818 - a drop is not an error of the server
    """A step refused the event. `status` is what the collector answers: 400 for bad input, 202 for events
    that are fine to send but not counted (bots), so a crawler learns nothing."""

    def __init__(self, step: str, reason: str, message: str = "", *, status: int = 400):
        super().__init__(message or reason)
        self.step = step
        self.reason = reason
        self.message = message or reason
        self.status = status


@dataclass
class Context:
    raw: dict
    ip: str
    user_agent: str
    now: dt.datetime
    out: dict = field(default_factory=dict)
    site_domain: str = ""


# --- steps --------------------------------------------------------------------------------------------


def _str(raw: dict, key: str, limit: int, *, required: bool = False) -> str:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise Drop("validate", f"missing_{key}", f"{key}: required")
        return ""
    if not isinstance(value, str):
        raise Drop("validate", f"invalid_{key}", f"{key}: must be a string")
    if len(value) > limit:
        raise Drop("validate", f"invalid_{key}", f"{key}: longer than {limit} characters")
    return value


def step_validate(ctx: Context) -> None:
    raw = ctx.raw
    if not isinstance(raw, dict):
        raise Drop("validate", "not_an_object", "an event must be a JSON object")
    name = _str(raw, "event", 30) or "pageview"
    if name not in EVENTS:
        raise Drop("validate", "invalid_event", f"event: one of {', '.join(EVENTS)}")
    url = _str(raw, "url", MAX_URL, required=True)
    out = ctx.out
    out["event"] = name
    out["name"] = _str(raw, "name", 100, required=name == "custom")
    out["url"] = url
    out["referrer_url"] = _str(raw, "referrer", MAX_URL)
    event_id = _str(raw, "id", 64)
    if event_id and not _ID.match(event_id):
        raise Drop("validate", "invalid_id", "id: 8-64 letters, digits or _.:-")
    out["event_id"] = event_id or uuid.uuid4().hex
    out["sku"] = _str(raw, "sku", 100)
    out["order_number"] = _str(raw, "order", 60, required=name == "purchase").strip().lstrip("#")
    value = raw.get("value")
    amount = None
    if value not in (None, ""):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise Drop("validate", "invalid_value", "value: must be a number")
        try:
            amount = Decimal(str(value)).quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            raise Drop("validate", "invalid_value", "value: must be a number")
        if not amount.is_finite() or amount < 0 or amount >= _MAX_VALUE:
            raise Drop("validate", "invalid_value", "value: must be between 0 and 10^12")
    out["value"] = amount
    currency = _str(raw, "currency", 3).upper()
    if currency and not _CURRENCY.match(currency):
        raise Drop("validate", "invalid_currency", "currency: a three-letter ISO code")
    out["currency"] = currency
    props = raw.get("props")
    if props in (None, ""):
        out["props"] = ""
    else:
        if not isinstance(props, dict) or len(props) > MAX_PROPS:
            raise Drop("validate", "invalid_props", f"props: an object of at most {MAX_PROPS} keys")
        for k, v in props.items():
            if len(k) > 100 or not isinstance(v, (str, int, float, bool)) or len(str(v)) > 200:
                raise Drop(
                    "validate", "invalid_props", f"props.{k[:100]}: a string or number up to 200 chars"
                )
        out["props"] = json.dumps(props, ensure_ascii=False, sort_keys=True)
    ctx.site_domain = _str(raw, "site", 200).strip()


def step_site(ctx: Context) -> None:
    domain = ctx.site_domain or classify.host_of(ctx.out["url"])
    site = site_lookup(domain)
    if site is None:
        raise Drop("site", "unknown_site", f"site: {domain[:200]!r} is not a tracked site")
    ctx.site_domain = site
    ctx.out["site"] = site


def step_bots(ctx: Context) -> None:
    if classify.agent(ctx.user_agent).is_bot:
        raise Drop("bots", "bot", status=202)


def step_page(ctx: Context) -> None:
    url = classify.split_url(ctx.out.pop("url"))
    ctx.out["path"] = url.path[:1000]
    ctx.out["raw_path"] = ""
    ctx.out["host"] = url.host
    for key in classify.UTM_KEYS:
        ctx.out[key] = url.utm.get(key, "")
    ctx.out["_query_keys"] = url.query_keys


def step_source(ctx: Context) -> None:
    ref_host = classify.host_of(ctx.out.pop("referrer_url"))
    own = ctx.out["host"] or ctx.site_domain
    utm = {k: ctx.out[k] for k in classify.UTM_KEYS}
    kind, name = classify.source(ref_host, utm, own_host=own, query_keys=ctx.out.pop("_query_keys"))
    if own and ref_host and (ref_host == own or ref_host.endswith(f".{own}")):
        ref_host = ""
    ctx.out["referrer"] = ref_host
    ctx.out["source"] = kind
    ctx.out["source_name"] = name[:200]


def step_agent(ctx: Context) -> None:
    a = classify.agent(ctx.user_agent)
    ctx.out["device"] = a.device
    ctx.out["browser"] = a.browser
    ctx.out["os"] = a.os
    ctx.out["is_bot"] = False
    ctx.out["is_static"] = False


def step_visitor(ctx: Context) -> None:
    ctx.out["visitor"] = visitor_hash(salt_for(ctx.now.date()), ctx.site_domain, ctx.ip, ctx.user_agent)
    ctx.out["ts"] = ctx.now
    ctx.out["origin"] = "collector"
    ctx.out["status"] = None
    ctx.out["bytes"] = None
    ctx.out["method"] = ""


STEPS: list[tuple[str, Callable[[Context], None]]] = [
    ("validate", step_validate),
    ("site", step_site),
    ("bots", step_bots),
    ("page", step_page),
    ("source", step_source),
    ("agent", step_agent),
    ("visitor", step_visitor),
]


def run(raw, *, ip: str, user_agent: str, now: dt.datetime) -> dict:
    """Run every step; return the event record (see warehouse.SCHEMA) or raise Drop."""
    ctx = Context(raw=raw, ip=ip, user_agent=user_agent or "", now=now)
    for _name, step in STEPS:
        step(ctx)
    return ctx.out


# --- visitor id ----------------------------------------------------------------------------------------


def visitor_hash(salt: bytes, site: str, ip: str, user_agent: str) -> int:
    """A signed 64-bit id: the same person on the same site and day gets the same id; tomorrow's differs."""
    digest = hashlib.blake2b(
        b"\x00".join((site.encode(), ip.encode(), user_agent.encode("utf-8", "replace"))),
        key=salt[:64],
        digest_size=8,
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


_salts: dict[dt.date, bytes] = {}
_salt_lock = threading.Lock()


def salt_for(day: dt.date) -> bytes:
    """The day's random salt (created on first use, kept in the database, deleted by retention)."""
    cached = _salts.get(day)
    if cached is not None:
        return cached
    from .models import DailySalt

    with _salt_lock:
        try:
            row, _ = DailySalt.objects.get_or_create(day=day, defaults={"salt": secrets.token_hex(32)})
        except IntegrityError:  # another process created it first
            row = DailySalt.objects.get(day=day)
        salt = bytes.fromhex(row.salt)
        if len(_salts) > 64:
            _salts.clear()
        _salts[day] = salt
        return salt


def salts_forget() -> None:
    _salts.clear()


# --- sites ---------------------------------------------------------------------------------------------

_sites: dict[str, object] = {"at": 0.0, "map": {}}
SITE_CACHE_SECONDS = 30.0


def _site_map() -> dict[str, dict]:
    if time.monotonic() - _sites["at"] > SITE_CACHE_SECONDS:  # type: ignore[operator]
        from .models import Site

        mapping = {}
        for site in Site.objects.filter(is_active=True):
            info = {"domain": site.domain, "origins": site.origins(), "token": site.public_token}
            mapping[site.domain] = info
            mapping[site.public_token] = info
        _sites["map"] = mapping
        _sites["at"] = time.monotonic()
    return _sites["map"]  # type: ignore[return-value]


def site_lookup(key: str) -> str | None:
    """The tracked site's domain for a domain (with or without www.) or a public token."""
    mapping = _site_map()
    low = key.lower()
    info = mapping.get(key) or mapping.get(low) or mapping.get(low.removeprefix("www."))
    return info["domain"] if info else None


def site_origins(domain: str) -> set[str]:
    info = _site_map().get(domain)
    return set(info["origins"]) if info else set()


def sites_forget() -> None:
    _sites["at"] = 0.0
