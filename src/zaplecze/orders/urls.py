from django.urls import path

from . import automation_views, views, views_import

app_name = "orders"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("export/", views.export, name="export"),
    path("export/<int:job_id>/", views.export_job, name="export_job"),
    path("export/<int:job_id>/download/", views.export_download, name="export_download"),
    path("bulk/", views.bulk, name="bulk"),
    path("new/", views.create, name="create"),
    path("import/", views_import.upload, name="import"),
    path("<int:order_id>/", views.detail, name="detail"),
    path("<int:order_id>/status/", views.change_status, name="change_status"),
    path("<int:order_id>/note/", views.add_note, name="add_note"),
    path("<int:order_id>/edit/", views.edit, name="edit"),
    path("<int:order_id>/attention/", views.resolve_attention, name="resolve_attention"),
    path("settings/statuses/", views.statuses, name="statuses"),
    path("settings/channels/", views.channels, name="channels"),
    path("settings/automation/", automation_views.rule_list, name="automation"),
    path("settings/automation/new/", automation_views.rule_new, name="automation_new"),
    path("settings/automation/log/", automation_views.run_log, name="automation_log"),
    path("settings/automation/<int:rule_id>/", automation_views.rule_edit, name="automation_edit"),
    path("settings/automation/<int:rule_id>/toggle/", automation_views.rule_toggle, name="automation_toggle"),
    path("settings/automation/<int:rule_id>/move/", automation_views.rule_move, name="automation_move"),
    path("settings/automation/<int:rule_id>/delete/", automation_views.rule_delete, name="automation_delete"),
    path(
        "settings/automation/<int:rule_id>/dry-run/", automation_views.rule_dry_run, name="automation_dry_run"
    ),
]
