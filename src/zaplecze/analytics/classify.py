"""Pure classification helpers shared by the collector and the log importer: user agent -> device, browser,
OS and bot; referrer + UTM -> source type; URL -> path and UTM parameters; static assets. All cached."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from ua_parser import parse as ua_parse

SOURCE_TYPES = ("search", "social", "direct", "email", "paid", "marketplace", "other")

# Substrings (lower case) that mark automated clients; ua-parser's "Spider" device catches most others.
_BOT_WORDS = (
    "bot",
    "crawl",
    "spider",
    "slurp",
    "scrape",
    "fetch",
    "monitor",
    "headless",
    "phantomjs",
    "python-",
    "python/",
    "curl/",
    "wget/",
    "go-http-client",
    "java/",
    "libwww",
    "httpclient",
    "okhttp",
    "axios/",
    "node-fetch",
    "feed",
    "rss",
    "pingdom",
    "uptime",
    "lighthouse",
    "preview",
    "facebookexternalhit",
    "whatsapp",
    "ahrefs",
    "semrush",
    "mj12",
    "petalbot",
    "bytespider",
    "gptbot",
    "ccbot",
    "zgrab",
    "masscan",
    "nmap",
    "sqlmap",
    "nikto",
)


@dataclass(frozen=True, slots=True)
class Agent:
    device: str  # desktop | mobile | tablet | bot | other
    browser: str
    os: str
    is_bot: bool


_TABLET = re.compile(r"ipad|tablet|kindle|silk|playbook|nexus (7|9|10)|sm-t\d", re.I)
_MOBILE = re.compile(r"mobi|iphone|ipod|android.*mobile|windows phone|blackberry|opera mini", re.I)


@functools.lru_cache(maxsize=65536)
def agent(ua: str) -> Agent:
    """Device class, browser family and OS family of a user agent; `is_bot` for crawlers and scripts."""
    ua = ua or ""
    low = ua.lower()
    if not ua.strip() or ua.strip() == "-":
        return Agent("bot", "", "", True)
    result = ua_parse(ua[:1000])
    browser = result.user_agent.family if result.user_agent else "Other"
    os_name = result.os.family if result.os else "Other"
    dev_family = result.device.family if result.device else "Other"
    is_bot = dev_family == "Spider" or any(w in low for w in _BOT_WORDS)
    if is_bot:
        device = "bot"
    elif _TABLET.search(ua):
        device = "tablet"
    elif _MOBILE.search(ua):
        device = "mobile"
    elif os_name in ("Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "FreeBSD", "macOS"):
        device = "desktop"
    else:
        device = "other"
    return Agent(device, browser or "Other", os_name or "Other", is_bot)


# Referrer host -> (source type, display name); matched on the registrable part of the host.
_KNOWN: list[tuple[str, str, str]] = [
    # search
    ("google.", "search", "Google"),
    ("bing.com", "search", "Bing"),
    ("duckduckgo.com", "search", "DuckDuckGo"),
    ("yahoo.", "search", "Yahoo"),
    ("yandex.", "search", "Yandex"),
    ("ecosia.org", "search", "Ecosia"),
    ("baidu.com", "search", "Baidu"),
    ("seznam.cz", "search", "Seznam"),
    ("qwant.com", "search", "Qwant"),
    ("startpage.com", "search", "Startpage"),
    ("search.brave.com", "search", "Brave Search"),
    # e-mail (web mail before the search engines' own domains would match: checked first below)
    ("mail.google.com", "email", "Gmail"),
    ("poczta.onet.pl", "email", "Onet Poczta"),
    ("poczta.wp.pl", "email", "WP Poczta"),
    ("poczta.interia.pl", "email", "Interia Poczta"),
    ("outlook.live.com", "email", "Outlook"),
    ("mail.yahoo.com", "email", "Yahoo Mail"),
    # social
    ("facebook.com", "social", "Facebook"),
    ("fb.me", "social", "Facebook"),
    ("instagram.com", "social", "Instagram"),
    ("t.co", "social", "X (Twitter)"),
    ("twitter.com", "social", "X (Twitter)"),
    ("x.com", "social", "X (Twitter)"),
    ("linkedin.com", "social", "LinkedIn"),
    ("lnkd.in", "social", "LinkedIn"),
    ("pinterest.", "social", "Pinterest"),
    ("tiktok.com", "social", "TikTok"),
    ("youtube.com", "social", "YouTube"),
    ("reddit.com", "social", "Reddit"),
    ("wykop.pl", "social", "Wykop"),
    ("news.ycombinator.com", "social", "Hacker News"),
    # marketplaces and price comparison
    ("allegro.pl", "marketplace", "Allegro"),
    ("ceneo.pl", "marketplace", "Ceneo"),
    ("amazon.", "marketplace", "Amazon"),
    ("ebay.", "marketplace", "eBay"),
    ("olx.pl", "marketplace", "OLX"),
    ("erli.pl", "marketplace", "Erli"),
    ("empik.com", "marketplace", "Empik"),
    ("skapiec.pl", "marketplace", "Skąpiec"),
]
_KNOWN.sort(key=lambda k: k[1] != "email")  # web mail hosts win over their search-engine parents

_PAID_MEDIUMS = {
    "cpc",
    "ppc",
    "paid",
    "paidsearch",
    "paid_search",
    "paid-social",
    "paid_social",
    "display",
    "cpm",
    "cpv",
    "ads",
}
_EMAIL_MEDIUMS = {"email", "e-mail", "mail", "newsletter"}
_SOCIAL_MEDIUMS = {"social", "social-network", "social_media", "sm"}
_PAID_CLICK_IDS = ("gclid", "fbclid", "msclkid", "dclid", "gbraid", "wbraid", "ttclid")


@functools.lru_cache(maxsize=65536)
def host_of(url: str) -> str:
    if not url or url == "-":
        return ""
    try:
        host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    except ValueError:
        return ""
    return host.lower().removeprefix("www.")


@functools.lru_cache(maxsize=65536)
def referrer_source(ref_host: str) -> tuple[str, str]:
    """(source type, source name) of a referrer host; empty host: direct."""
    if not ref_host:
        return "direct", "Direct"
    for needle, kind, name in _KNOWN:
        if needle.endswith("."):
            if ref_host.startswith(needle) or f".{needle}" in ref_host:
                return kind, name
        elif ref_host == needle or ref_host.endswith(f".{needle}"):
            return kind, name
    return "other", ref_host


def source(
    ref_host: str, utm: dict[str, str], *, own_host: str = "", query_keys: tuple[str, ...] = ()
) -> tuple[str, str]:
    """Source type and name from the referrer and the landing URL's UTM parameters (UTM wins, as in
    Plausible: a campaign link says what it is). A referrer from the shop itself counts as direct."""
    if own_host and ref_host and (ref_host == own_host or ref_host.endswith(f".{own_host}")):
        ref_host = ""
    medium = (utm.get("utm_medium") or "").lower()
    utm_source = utm.get("utm_source") or ""
    kind, name = referrer_source(ref_host)
    if medium in _PAID_MEDIUMS or any(k in query_keys for k in _PAID_CLICK_IDS):
        return "paid", utm_source or (name if kind != "direct" else "Paid")
    if medium in _EMAIL_MEDIUMS:
        return "email", utm_source or "E-mail"
    if medium in _SOCIAL_MEDIUMS:
        return "social", utm_source or name
    if utm_source and kind == "direct":
        # A tagged link without a referrer: classify the tag's source by name if we know it.
        k2, n2 = referrer_source(utm_source.lower())
        return (k2, n2) if k2 != "other" else ("other", utm_source)
    return kind, name


UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")


@dataclass(frozen=True, slots=True)
class Url:
    host: str
    path: str
    utm: dict
    query_keys: tuple[str, ...]


def split_url(url: str) -> Url:
    """Host, path (no query, no fragment) and UTM parameters of a page URL (absolute or a path)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return Url("", "/", {}, ())
    pairs = parse_qsl(parts.query, keep_blank_values=False)
    utm = {k: v[:200] for k, v in pairs if k in UTM_KEYS}
    host = (parts.hostname or "").lower().removeprefix("www.")
    return Url(host, parts.path or "/", utm, tuple(k for k, _ in pairs))


_STATIC_EXT = frozenset(
    "css js mjs map png jpg jpeg gif ico svg webp avif bmp tif tiff woff woff2 ttf otf eot mp4 webm mp3 ogg "
    "wav flac pdf zip gz tgz bz2 xz 7z rar tar txt csv xml json swf flv avi mov wmv iso dmg exe msi deb rpm "
    "apk".split()
)


@functools.lru_cache(maxsize=262144)
def is_static(path: str) -> bool:
    """A request for a file (stylesheet, image, script, download) rather than a page."""
    last = path.rsplit("/", 1)[-1]
    if "." not in last:
        return False
    return last.rsplit(".", 1)[-1].lower() in _STATIC_EXT
