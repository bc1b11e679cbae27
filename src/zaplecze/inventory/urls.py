"""Stock screens mounted under /stock/ beside the levels list (web:stock): ledger, warehouses and bins,
stocktakes, transfers and the stock file import."""

from django.urls import path

from . import views

app_name = "inventory"
urlpatterns = [
    path("ledger/", views.ledger, name="ledger"),
    path("ledger.csv", views.ledger_csv, name="ledger_csv"),
    path("warehouses/", views.warehouses, name="warehouses"),
    path("warehouses/create/", views.warehouse_create, name="warehouse_create"),
    path("warehouses/<int:warehouse_id>/edit/", views.warehouse_edit, name="warehouse_edit"),
    path("bins/", views.bins_default, name="bins_default"),
    path("warehouses/<int:warehouse_id>/bins/", views.bins, name="bins"),
    path("warehouses/<int:warehouse_id>/bins/create/", views.bin_create, name="bin_create"),
    path("warehouses/<int:warehouse_id>/bins/file/", views.bins_file, name="bins_file"),
    path("bins/<int:location_id>/edit/", views.bin_edit, name="bin_edit"),
    path("levels/<int:level_id>/bin/", views.level_bin, name="level_bin"),
    path("counts/", views.stocktakes, name="stocktakes"),
    path("counts/new/", views.stocktake_new, name="stocktake_new"),
    path("counts/<int:stocktake_id>/", views.stocktake, name="stocktake"),
    path("counts/<int:stocktake_id>/status/", views.stocktake_status, name="stocktake_status"),
    path("counts/<int:stocktake_id>/count/", views.stocktake_count, name="stocktake_count"),
    path("counts/<int:stocktake_id>/import/", views.stocktake_import, name="stocktake_import"),
    path("counts/<int:stocktake_id>/sheet.csv", views.stocktake_sheet, {"fmt": "csv"}, name="stocktake_csv"),
    path(
        "counts/<int:stocktake_id>/sheet.xlsx", views.stocktake_sheet, {"fmt": "xlsx"}, name="stocktake_xlsx"
    ),
    path("counts/<int:stocktake_id>/post/", views.stocktake_post, name="stocktake_post"),
    path("transfers/", views.transfers, name="transfers"),
    path("transfers/new/", views.transfer_new, name="transfer_new"),
    path("transfers/<int:transfer_id>/", views.transfer, name="transfer"),
    path("transfers/<int:transfer_id>/action/", views.transfer_action, name="transfer_action"),
    path("import/", views.stock_import, name="import"),
]
