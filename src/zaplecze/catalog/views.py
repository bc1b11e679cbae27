"""Product screens: the product list (filters, bulk actions), the product page (details, description with a
sanitised preview, variants, attributes, offers per channel, images, GPSR, findings and the panels of other
areas), a new product, manufacturers and the category tree. Thin doors: writes go through `services` and
`images`, reads through `selectors`. Every change is a POST to its own URL requiring ``catalog.edit``."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from zaplecze.core.access import require
from zaplecze.core.errors import DomainError
from zaplecze.core.permissions import user_has
from zaplecze.core.viewhelpers import form_error as _form_error
from zaplecze.core.viewhelpers import or_404 as _get

from . import images, selectors, services, stock
from .forms import (
    CategoryForm,
    DescriptionForm,
    ImageUploadForm,
    ImageUrlForm,
    ManufacturerForm,
    OfferForm,
    ProductCreateForm,
    ProductForm,
    VariantForm,
    format_attributes,
)
from .models import AuditRuleConfig, Product, ProductImage, Variant
from .panels import product_panels

log = logging.getLogger("zaplecze.catalog")

PAGE_SIZE = 50


def _url_or_none(name: str, *args) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _back(request, fallback: str) -> str:
    nxt = request.POST.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        return nxt
    return fallback


def _product_url(product_id: int, anchor: str = "") -> str:
    return reverse("catalog:product", args=[product_id]) + (f"#{anchor}" if anchor else "")


# --- product list -------------------------------------------------------------------------------------


@require("catalog.view")
@require_safe
def product_list(request):
    f = selectors.ProductFilter.from_params(request.GET)
    page = selectors.product_page(f, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE)
    params = request.GET.copy()
    params.pop("cursor", None)
    tree = selectors.category_tree()
    return render(
        request,
        "catalog/product_list.html",
        {
            "f": f,
            "page": page,
            "params": params.urlencode(),
            "first_page": bool(request.GET.get("cursor")),
            "statuses": Product.Status.choices,
            "categories": tree,
            "manufacturers": list(selectors.manufacturers()),
            "brands": selectors.brands(),
            "rules": selectors.finding_rules(),
            "severities": AuditRuleConfig.Severity.choices,
            "channels": services.channel_choices(),
            "sorts": [
                ("name", _("Name A–Z")),
                ("-name", _("Name Z–A")),
                ("-updated", _("Recently changed")),
                ("score", _("Lowest score first")),
                ("-score", _("Highest score first")),
                ("newest", _("Newest")),
            ],
            "can_edit": user_has(request.user, "catalog.edit"),
            # The import/export area's screens, linked by name (absent until that area is installed).
            "export_url": _url_or_none("catalog:import_export") or _url_or_none("catalog:export"),
            "import_url": _url_or_none("catalog:import"),
        },
    )


@require("catalog.edit")
@require_POST
def products_bulk(request):
    ids = [int(x) for x in request.POST.getlist("ids") if x.isdigit()]
    action = request.POST.get("action") or ""
    back = _back(request, reverse("catalog:products"))
    try:
        if action in ("status:active", "status:draft", "status:archived", "archive"):
            status = "archived" if action == "archive" else action.split(":", 1)[1]
            n = services.products_bulk_update(product_ids=ids, status=status, actor=request.user)
        elif action == "category":
            category = request.POST.get("category") or None
            n = services.products_bulk_update(
                product_ids=ids, category=category, set_category=True, actor=request.user
            )
        else:
            raise DomainError(_("Choose what to change."), field="action")
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(n)s products changed.") % {"n": n})
    return redirect(back)


# --- new product --------------------------------------------------------------------------------------


@require("catalog.edit")
def product_create(request):
    tree = selectors.category_tree()
    form = ProductCreateForm(
        request.POST or None,
        categories=tree,
        manufacturers=selectors.manufacturers(),
        initial={"status": Product.Status.DRAFT},
    )
    if request.method == "POST" and form.is_valid():
        d = form.data_for_service()
        try:
            product = services.product_create(
                name=d["name"],
                status=d["status"],
                brand=d["brand"],
                category=services._category(d["category"]),
                manufacturer=services._manufacturer(d["manufacturer"]),
                variants=[{"sku": d["sku"], "price": d["price"], "ean": d["ean"], "vat_rate": d["vat_rate"]}],
                actor=request.user,
                source="manual",
            )
            extra = {k: d[k] for k in ("safety_info", "perishable") if d.get(k)}
            if extra:
                services.product_update(product_id=product.pk, data=extra, actor=request.user)
        except DomainError as exc:
            field = (exc.field or "").rsplit(".", 1)[-1]
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            messages.success(request, _("Product created."))
            return redirect("catalog:product", product_id=product.pk)
    return render(request, "catalog/product_create.html", {"form": form}, status=400 if form.errors else 200)


# --- product page -------------------------------------------------------------------------------------


def _product_context(request, product_id: int, **forms) -> dict:
    product = _get(selectors.product_detail, product_id)
    tree = selectors.category_tree()
    manufacturers = list(selectors.manufacturers())
    variants = list(product.variants.all())
    channels = services.channel_choices()
    known = dict(channels)
    for v in variants:
        for o in v.offers.all():
            known.setdefault(o.channel, o.channel)
    available = stock.available([v.pk for v in variants])
    variant_forms = []
    for v in variants:
        bound = forms.get("variant_form") if forms.get("variant_form_id") == v.pk else None
        form = bound or VariantForm(
            initial={
                "sku": v.sku,
                "name": v.name,
                "ean": v.ean,
                "price": v.price,
                "vat_rate": v.vat_rate,
                "cost_price": v.cost_price,
                "weight_kg": v.weight_kg,
                "length_cm": v.length_cm,
                "width_cm": v.width_cm,
                "height_cm": v.height_cm,
                "mpn": v.mpn,
                "active": v.active,
                "attributes": format_attributes(v.attributes),
            },
            prefix=f"v{v.pk}",
        )
        for name, fld in form.fields.items():  # inputs in table cells belong to the row's form
            fld.widget.attrs["form"] = f"vform-{v.pk}"
            fld.widget.attrs["aria-label"] = f"{fld.label} ({v.sku})"
            if name == "attributes":
                fld.widget.attrs["rows"] = max(1, len(v.attributes or {}))
        v.stock = None if available is None else available.get(v.pk, 0)
        variant_forms.append((v, form))
    attribute_names: list[str] = []
    for v in variants:
        for name in v.attributes or {}:
            if name not in attribute_names:
                attribute_names.append(name)
    offers = [(v, o, known.get(o.channel, o.channel)) for v in variants for o in v.offers.all()]
    can_edit = user_has(request.user, "catalog.edit")
    m = product.manufacturer
    ctx = {
        "product": product,
        "path": selectors.category_path(product.category),
        "variants": variants,
        "variant_forms": variant_forms,
        "attribute_names": attribute_names,
        "offers": offers,
        "channels": channels,
        "images": list(product.images.all()),
        "findings": list(product.audit_findings.all()),
        "gpsr_gaps": services.manufacturer_gpsr_gaps(m) if m else None,
        "eu": services.EU_EEA,
        "can_edit": can_edit,
        "stock_known": available is not None,
        "form": forms.get("form")
        or ProductForm(
            initial={
                "name": product.name,
                "status": product.status,
                "category": product.category_id or "",
                "brand": product.brand,
                "manufacturer": product.manufacturer_id or "",
                "perishable": product.perishable,
                "safety_info": product.safety_info,
            },
            categories=tree,
            manufacturers=manufacturers,
        ),
        "description_form": forms.get("description_form")
        or DescriptionForm(initial={"description_html": product.description_html}),
        "new_variant_form": forms.get("new_variant_form") or VariantForm(prefix="new"),
        "offer_form": forms.get("offer_form")
        or OfferForm(channels=channels or [("", "—")], auto_id="offer-%s"),
        "upload_form": forms.get("upload_form") or ImageUploadForm(auto_id="upload-%s"),
        "url_form": forms.get("url_form") or ImageUrlForm(auto_id="imgurl-%s"),
        "open_section": forms.get("open_section", ""),
        "preview": services.Sanitised(product.description_html),
    }
    ctx["panels"] = _panels(request, product)
    return ctx


def _panels(request, product) -> list[dict]:
    """The panels of other areas, each rendered on its own: one failing panel shows a note, not an error
    page (it is logged with its traceback)."""
    try:
        specs = product_panels(request, product)
    except Exception:
        log.exception("product panels failed for product %s", product.pk)
        return [
            {"name": "error", "title": _("Other sections"), "html": _("These sections could not be shown.")}
        ]
    out = []
    for p in specs:
        context = {**p.get("context", {}), "product": product, "request": request, "panel_name": p["name"]}
        try:
            html = render_to_string(p["template"], context, request=request)
        except Exception:
            log.exception("product panel %s failed for product %s", p["name"], product.pk)
            html = _("This section could not be shown.")
        out.append({**p, "html": html})
    return out


def _render_product(request, product_id: int, status: int = 200, **forms):
    return render(
        request, "catalog/product_detail.html", _product_context(request, product_id, **forms), status=status
    )


@require("catalog.view")
@require_safe
def product_detail(request, product_id: int):
    return _render_product(request, product_id)


@require("catalog.edit")
@require_POST
def product_edit(request, product_id: int):
    _get(selectors.access_product, product_id)
    form = ProductForm(
        request.POST, categories=selectors.category_tree(), manufacturers=selectors.manufacturers()
    )
    if form.is_valid():
        try:
            result = services.product_update(
                product_id=product_id, data=form.data_for_service(), actor=request.user
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Saved.") if result.changes else _("Nothing changed."))
            return redirect(_product_url(product_id, "details"))
    return _render_product(request, product_id, status=400, form=form)


@require("catalog.edit")
@require_POST
def product_description(request, product_id: int):
    _get(selectors.access_product, product_id)
    form = DescriptionForm(request.POST)
    if form.is_valid():
        try:
            result = services.product_update(
                product_id=product_id,
                data={"description_html": form.cleaned_data["description_html"]},
                actor=request.user,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            if result.removed_html:
                messages.warning(
                    request,
                    _("Description saved; removed as unsafe: %(what)s.")
                    % {"what": ", ".join(result.removed_html)},
                )
            else:
                messages.success(request, _("Description saved."))
            return redirect(_product_url(product_id, "description"))
    return _render_product(request, product_id, status=400, description_form=form)


@require("catalog.edit")
@require_POST
def description_preview(request, product_id: int):
    """The description as it will be stored (sanitised), for the preview beside the editor (htmx)."""
    _get(selectors.access_product, product_id)
    result = services.sanitize_html((request.POST.get("description_html") or "")[:100_000])
    return render(request, "catalog/product_description_preview.html", {"result": result})


# --- variants -----------------------------------------------------------------------------------------


def _variant_data(form: VariantForm) -> dict:
    d = dict(form.cleaned_data)
    d["ean"] = d.get("ean") or ""
    return d


def _own_variant(product_id: int, variant_id: int) -> Variant:
    variant = Variant.objects.filter(pk=variant_id, product_id=product_id).first()
    if variant is None:
        raise Http404
    return variant


@require("catalog.edit")
@require_POST
def variant_add(request, product_id: int):
    _get(selectors.access_product, product_id)
    form = VariantForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            services.variant_create(product_id=product_id, data=_variant_data(form), actor=request.user)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Variant added."))
            return redirect(_product_url(product_id, "variants"))
    return _render_product(request, product_id, status=400, new_variant_form=form, open_section="new-variant")


@require("catalog.edit")
@require_POST
def variant_edit(request, product_id: int, product_variant_id: int):
    variant = _own_variant(product_id, product_variant_id)
    form = VariantForm(request.POST, prefix=f"v{variant.pk}")
    if form.is_valid():
        try:
            services.variant_update(variant_id=variant.pk, data=_variant_data(form), actor=request.user)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Variant %(sku)s saved.") % {"sku": form.cleaned_data["sku"]})
            return redirect(_product_url(product_id, "variants"))
    return _render_product(request, product_id, status=400, variant_form=form, variant_form_id=variant.pk)


@require("catalog.edit")
@require_POST
def variant_remove(request, product_id: int, product_variant_id: int):
    variant = _own_variant(product_id, product_variant_id)
    try:
        outcome = services.variant_remove(variant_id=variant.pk, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if outcome == "deleted":
            messages.success(request, _("Variant %(sku)s deleted.") % {"sku": variant.sku})
        else:
            messages.warning(
                request,
                _(
                    "Variant %(sku)s archived (inactive): it has history (orders, stock or prices) or is the only one."
                )
                % {"sku": variant.sku},
            )
    return redirect(_product_url(product_id, "variants"))


# --- offers -------------------------------------------------------------------------------------------


@require("catalog.edit")
@require_POST
def offer_save(request, product_id: int):
    _get(selectors.access_product, product_id)
    channels = services.channel_choices()
    known = list(channels)
    posted = (request.POST.get("channel") or "").strip()
    if posted and posted not in dict(known) and not channels:
        known.append((posted, posted))
    form = OfferForm(request.POST, channels=known, auto_id="offer-%s")
    variant_id = request.POST.get("variant") or ""
    if (
        not variant_id.isdigit()
        or not Variant.objects.filter(pk=int(variant_id), product_id=product_id).exists()
    ):
        form.add_error(None, _("Choose a variant of this product."))
    elif form.is_valid():
        d = form.cleaned_data
        try:
            services.offer_save(
                variant_id=int(variant_id),
                channel=d["channel"],
                data={
                    "price": d["price"],
                    "active": d["active"],
                    "external_id": d["external_id"],
                    "url": d["url"],
                },
                actor=request.user,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Offer saved."))
            return redirect(_product_url(product_id, "offers"))
    return _render_product(request, product_id, status=400, offer_form=form, open_section="new-offer")


# --- images -------------------------------------------------------------------------------------------


@require("catalog.edit")
@require_POST
def image_upload(request, product_id: int):
    _get(selectors.access_product, product_id)
    form = ImageUploadForm(request.POST, request.FILES, auto_id="upload-%s")
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            images.image_upload(
                product_id=product_id,
                file=upload,
                filename=upload.name,
                alt=form.cleaned_data["alt"],
                actor=request.user,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Image added."))
            return redirect(_product_url(product_id, "images"))
    return _render_product(request, product_id, status=400, upload_form=form)


@require("catalog.edit")
@require_POST
def image_url(request, product_id: int):
    _get(selectors.access_product, product_id)
    form = ImageUrlForm(request.POST, auto_id="imgurl-%s")
    if form.is_valid():
        try:
            images.image_add_url(
                product_id=product_id,
                url=form.cleaned_data["url"],
                alt=form.cleaned_data["alt"],
                actor=request.user,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, _("Image URL added; its size is read in the background."))
            return redirect(_product_url(product_id, "images"))
    return _render_product(request, product_id, status=400, url_form=form)


@require("catalog.edit")
@require_POST
def image_action(request, product_id: int, product_image_id: int):
    image = ProductImage.objects.filter(pk=product_image_id, product_id=product_id).first()
    if image is None:
        raise Http404
    action = request.POST.get("action") or ""
    try:
        if action == "alt":
            images.image_update(image_id=image.pk, alt=request.POST.get("alt", ""), actor=request.user)
            messages.success(request, _("Alternative text saved."))
        elif action in ("up", "down"):
            images.image_move(image_id=image.pk, offset=-1 if action == "up" else 1, actor=request.user)
        elif action == "delete":
            images.image_delete(image_id=image.pk, actor=request.user)
            messages.success(request, _("Image removed."))
        elif action == "recheck" and image.source_url:
            images.queue_url_check([image.pk])
            messages.success(request, _("The image will be checked again in the background."))
        else:
            messages.error(request, _("Choose what to do with the image."))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(_product_url(product_id, "images"))


@require("catalog.view")
@require_safe
def image_file(request, product_image_id: int):
    """An uploaded image file, to signed-in users (stored under the data dir, not a public media URL)."""
    image = ProductImage.objects.filter(pk=product_image_id).exclude(file="").first()
    if image is None:
        raise Http404
    try:
        handle = image.file.open("rb")
    except OSError:
        raise Http404
    response = FileResponse(handle, content_type=image.content_type or "application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    response["Cache-Control"] = "private, max-age=86400"
    return response


# --- panels of other areas ----------------------------------------------------------------------------


@require("catalog.view")
@require_POST
def panel_post(request, product_id: int, panel_name: str):
    """A form in a panel of another area: the panel's spec has a `post(request, product) -> str` that
    checks its own permission and raises DomainError to refuse."""
    product = _get(selectors.access_product, product_id)
    spec = next((p for p in product_panels(request, product) if p["name"] == panel_name), None)
    if spec is None or not callable(spec.get("post")):
        raise Http404
    try:
        message = spec["post"](request, product)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if message:
            messages.success(request, message)
    return redirect(_product_url(product.pk, f"panel-{panel_name}"))


# --- manufacturers ------------------------------------------------------------------------------------


@require("catalog.view")
@require_safe
def manufacturer_list(request):
    q = (request.GET.get("q") or "").strip()[:100]
    rows = list(selectors.manufacturers(q)[:500])
    for m in rows:
        m.gaps = services.manufacturer_gpsr_gaps(m)
    return render(
        request,
        "catalog/manufacturer_list.html",
        {"manufacturers": rows, "q": q, "can_edit": user_has(request.user, "catalog.edit")},
    )


def _manufacturer_form_page(request, manufacturer=None):
    fields = services.MANUFACTURER_FIELDS
    initial = {f: getattr(manufacturer, f) for f in fields} if manufacturer else {"country": "PL"}
    form = ManufacturerForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if request.POST.get("action") == "delete" and manufacturer is not None:
            try:
                services.manufacturer_delete(manufacturer_id=manufacturer.pk, actor=request.user)
            except DomainError as exc:
                form = ManufacturerForm(initial=initial)
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("Manufacturer deleted."))
                return redirect("catalog:manufacturers")
        elif form.is_valid():
            try:
                saved = services.manufacturer_save(
                    data=form.cleaned_data,
                    manufacturer_id=manufacturer.pk if manufacturer else None,
                    actor=request.user,
                )
            except DomainError as exc:
                _form_error(form, exc)
            else:
                if saved.warnings:
                    messages.warning(
                        request,
                        _("Saved, but GPSR data is missing: %(gaps)s.") % {"gaps": ", ".join(saved.warnings)},
                    )
                else:
                    messages.success(request, _("Manufacturer saved."))
                return redirect("catalog:manufacturer", manufacturer_id=saved.manufacturer.pk)
    gaps = services.manufacturer_gpsr_gaps(manufacturer) if manufacturer else []
    products = list(manufacturer.products.order_by("name")[:50]) if manufacturer else []
    return render(
        request,
        "catalog/manufacturer_form.html",
        {"form": form, "manufacturer": manufacturer, "gaps": gaps, "products": products},
        status=400 if form.errors else 200,
    )


@require("catalog.edit")
def manufacturer_create(request):
    return _manufacturer_form_page(request)


@require("catalog.edit")
def manufacturer_edit(request, manufacturer_id: int):
    return _manufacturer_form_page(request, _get(selectors.access_manufacturer, manufacturer_id))


# --- categories ---------------------------------------------------------------------------------------


@require("catalog.view")
@require_safe
def category_list(request):
    tree = selectors.category_tree()
    return render(
        request,
        "catalog/category_tree.html",
        {"tree": tree, "form": CategoryForm(tree=tree), "can_edit": user_has(request.user, "catalog.edit")},
    )


@require("catalog.edit")
@require_POST
def category_action(request):
    action = request.POST.get("action") or ""
    raw_id = request.POST.get("category") or ""
    category_id = int(raw_id) if raw_id.isdigit() else None
    parent = request.POST.get("parent") or None
    try:
        if action == "create":
            cat = services.category_create(
                name=request.POST.get("name", ""), parent_id=parent, actor=request.user
            )
            messages.success(request, _("Category %(c)s created.") % {"c": cat.name})
        elif category_id is None:
            raise DomainError(_("Choose a category."), field="category")
        elif action == "rename":
            services.category_rename(
                category_id=category_id, name=request.POST.get("name", ""), actor=request.user
            )
            messages.success(request, _("Category renamed."))
        elif action == "move":
            services.category_move(category_id=category_id, parent_id=parent, actor=request.user)
            messages.success(request, _("Category moved."))
        elif action == "delete":
            services.category_delete(category_id=category_id, actor=request.user)
            messages.success(request, _("Category deleted."))
        else:
            raise DomainError(_("Choose what to do."), field="action")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect(reverse("catalog:categories") + (f"#category-{category_id}" if category_id else ""))
