"""Feeds screens (under /products/feeds/) and the public feed files (under /feeds/, no login: the token is the
key). Thin: writes go through `catalog.feeds`' feed_* functions, reads through its selectors."""

from __future__ import annotations

import csv
import mimetypes
from decimal import Decimal
from pathlib import Path

from django import forms
from django.contrib import messages
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import get_conditional_response
from django.utils.crypto import constant_time_compare
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from zaplecze.core.access import public, require
from zaplecze.core.errors import DomainError, NotFound
from zaplecze.core.permissions import user_has
from zaplecze.core.services import job_create
from zaplecze.core.viewhelpers import form_error as _form_error

from . import feeds
from .models import Feed, Product, ProductImage

PAGE_SIZE = 100


class FeedForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    kind = forms.ChoiceField(label=gettext_lazy("Format"), choices=Feed.Kind.choices)
    channel = forms.CharField(
        label=gettext_lazy("Channel code"),
        max_length=40,
        required=False,
        help_text=gettext_lazy("Prices, links and switched-off offers of this channel; empty = base prices"),
    )
    link_template = forms.CharField(
        label=gettext_lazy("Product link template"),
        max_length=500,
        required=False,
        help_text=gettext_lazy(
            "Used when the channel's offer has no URL, e.g. https://shop.example/p/{sku}; "
            "placeholders {sku}, {ean}, {product_id}, {variant_id}"
        ),
    )
    shipping_price = forms.DecimalField(
        label=gettext_lazy("Shipping price (Google, PL)"),
        required=False,
        min_value=Decimal(0),
        max_digits=8,
        decimal_places=2,
    )
    active = forms.BooleanField(
        label=gettext_lazy("Active (served and rebuilt hourly)"), required=False, initial=True
    )


def _feed(feed_id: int) -> Feed:
    try:
        return feeds.access_feed(feed_id)
    except NotFound:
        raise Http404


# --- staff screens ------------------------------------------------------------------------------------


@require("catalog.view")
def feed_list(request):
    rows = list(feeds.feeds_list())
    can_edit = user_has(request.user, "catalog.edit")
    for f in rows:
        f.public_url = feeds.feed_public_url(f) if can_edit else ""
    return render(
        request,
        "catalog/feeds_list.html",
        {
            "feeds": rows,
            "can_edit": can_edit,
            "can_configure": user_has(request.user, "settings.catalog"),
        },
    )


@require("settings.catalog")
def feed_new(request):
    form = FeedForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            feed = feeds.feed_create(data=form.cleaned_data, actor=request.user)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Feed created. Build it now or wait for the hourly rebuild."))
            return redirect("catalog:feed", feed_id=feed.pk)
    return render(request, "catalog/feeds_form.html", {"form": form}, status=400 if form.errors else 200)


@require("settings.catalog")
def feed_edit(request, feed_id: int):
    feed = _feed(feed_id)
    initial = {
        k: getattr(feed, k) for k in ("name", "kind", "channel", "link_template", "shipping_price", "active")
    }
    form = FeedForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            feeds.feed_update(feed_id=feed.pk, data=form.cleaned_data, actor=request.user)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Feed saved. The changes apply from the next build."))
            return redirect("catalog:feed", feed_id=feed.pk)
    return render(
        request, "catalog/feeds_form.html", {"form": form, "feed": feed}, status=400 if form.errors else 200
    )


@require("catalog.view")
def feed_detail(request, feed_id: int):
    feed = _feed(feed_id)
    reason = request.GET.get("reason", "")
    reason = reason if reason in feeds.REASONS else ""
    after = (request.GET.get("after") or "")[:64]
    rows = feeds.exclusions_page(feed.pk, reason=reason, after=after, limit=PAGE_SIZE + 1)
    next_after = rows[PAGE_SIZE - 1].variant.sku if len(rows) > PAGE_SIZE else ""
    rows = rows[:PAGE_SIZE]
    for r in rows:
        r.labels = [feeds.reason_label(c) for c in r.reasons]
    counts = feeds.exclusion_counts(feed.pk)
    can_edit = user_has(request.user, "catalog.edit")
    return render(
        request,
        "catalog/feeds_detail.html",
        {
            "feed": feed,
            "rows": rows,
            "reason": reason,
            "after": after,
            "next_after": next_after,
            "counts": [(code, feeds.reason_label(code), n) for code, n in counts.items()],
            "rules": [(code, feeds.reason_label(code)) for code in feeds.RULES[feed.kind]],
            "public_url": feeds.feed_public_url(feed) if can_edit else "",
            "built": feeds.feed_file(feed).exists(),
            "can_edit": can_edit,
            "can_configure": user_has(request.user, "settings.catalog"),
        },
    )


@require("catalog.view")
def feed_exclusions_csv(request, feed_id: int):
    feed = _feed(feed_id)
    reason = request.GET.get("reason", "")
    reason = reason if reason in feeds.REASONS else ""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="feed-{feed.pk}-excluded.csv"'
    response.write("\ufeff")  # a BOM, so spreadsheets read UTF-8
    writer = csv.writer(response)
    writer.writerow(["sku", "product_id", "name", "reasons", "explanation"])
    for row in feeds.exclusions_query(feed.pk, reason).iterator(chunk_size=2000):
        writer.writerow(
            [
                row.variant.sku,
                row.variant.product_id,
                row.variant.name,
                " ".join(row.reasons),
                "; ".join(feeds.reason_label(c) for c in row.reasons),
            ]
        )
    return response


@require("catalog.edit")
@require_POST
def feed_rebuild(request, feed_id: int):
    from .tasks_feeds import feed_build_job

    feed = _feed(feed_id)
    job = job_create(
        kind="catalog.feed", title=_("Build feed %(name)s") % {"name": feed.name}, owner=request.user,
        params={"feed_id": feed.pk},
    )  # fmt: skip
    transaction.on_commit(lambda: feed_build_job(job.pk, feed.pk))
    return redirect("web:job", job_id=job.pk)


@require("settings.catalog")
@require_POST
def feed_token(request, feed_id: int):
    feed = _feed(feed_id)
    feeds.feed_token_regenerate(feed_id=feed.pk, actor=request.user)
    messages.success(
        request,
        _("New secret address made. The old one no longer works: update it in Merchant Center or Ceneo."),
    )
    return redirect("catalog:feed", feed_id=feed.pk)


@require("catalog.view")
def feed_download(request, feed_id: int):
    feed = _feed(feed_id)
    path = feeds.feed_file(feed)
    if not path.exists():
        raise Http404
    response = FileResponse(
        path.open("rb"), content_type=feeds.CONTENT_TYPES[feed.kind], as_attachment=True,
        filename=f"feed-{feed.pk}-{feeds.FILE_NAMES[feed.kind]}",
    )  # fmt: skip
    return response


# --- public files -------------------------------------------------------------------------------------


def _serve_file(request, path, content_type: str) -> HttpResponse:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise Http404
    etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
    last_modified = int(st.st_mtime)
    not_modified = get_conditional_response(request, etag=etag, last_modified=last_modified)
    if not_modified is not None:
        return not_modified
    try:
        fh = path.open("rb")  # the file is replaced by rename, so this handle keeps one whole version
    except FileNotFoundError:
        raise Http404
    response = FileResponse(fh, content_type=content_type)
    response["ETag"] = etag
    response["Last-Modified"] = http_date(last_modified)
    response["Cache-Control"] = "no-cache"
    response["X-Robots-Tag"] = "noindex"
    return response


def _public_feed(request, feed_token: str, file_name: str):
    feed = feeds.feed_by_token(feed_token, file_name)
    if feed is None:
        raise Http404
    path = feeds.feed_file(feed)
    if not path.exists():
        return HttpResponse(
            _("This feed has not been built yet."), status=503, content_type="text/plain; charset=utf-8",
            headers={"Retry-After": "600"},
        )  # fmt: skip
    return _serve_file(request, path, feeds.CONTENT_TYPES[feed.kind])


@public
@require_safe
def public_google(request, feed_token: str):
    return _public_feed(request, feed_token, "google.xml")


@public
@require_safe
def public_ceneo(request, feed_token: str):
    return _public_feed(request, feed_token, "ceneo.xml")


@public
@require_safe
def public_csv(request, feed_token: str):
    return _public_feed(request, feed_token, "products.csv")


@public
@require_safe
def public_image(request, feed_image_id: int, feed_image_sig: str):
    """An uploaded product image, for Google and Ceneo to fetch (the signature stops id guessing)."""
    if not constant_time_compare(feed_image_sig, feeds.image_signature(feed_image_id)):
        raise Http404
    image = (
        ProductImage.objects.filter(pk=feed_image_id, product__status=Product.Status.ACTIVE)
        .exclude(file="")
        .first()
    )
    if image is None:
        raise Http404
    try:
        path = default_storage.path(image.file.name)
    except NotImplementedError:  # a storage without local paths
        raise Http404
    content_type = (
        image.content_type or mimetypes.guess_type(image.file.name)[0] or "application/octet-stream"
    )
    return _serve_file(request, Path(path), content_type)
