"""Order CSV input and output.

* `reader`     streaming CSV reading: encoding (UTF-8 with/without BOM, Windows-1250) and delimiter
               (`,` `;` tab `|`) detection, physical line numbers, bounded memory.
* `values`     cell parsers: amounts with a decimal comma, quantities, dates in several formats.
* `zaplecze`   Zaplecze's own CSV (the documented format; export and import round-trip).
* `shopify`    Shopify's "Export orders" CSV.
* `woocommerce` a WooCommerce order export CSV.
* `parse`      format detection and grouping of rows into validated `OrderIn` objects.
* `export`     `export_orders(queryset, "csv" | "xlsx", out)`.

The import service that writes orders is `zaplecze.orders.importing.import_orders`.
"""
