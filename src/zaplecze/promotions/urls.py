from django.urls import path

from . import views

app_name = "promotions"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.campaign_new, name="new"),
    path("calendar/", views.calendar, name="calendar"),
    path("<int:campaign_id>/", views.campaign_detail, name="campaign"),
    path("<int:campaign_id>/edit/", views.campaign_edit, name="edit"),
    path("<int:campaign_id>/check/", views.campaign_check_run, name="check"),
    path("<int:campaign_id>/check.csv", views.check_csv, name="check_csv"),
    path("<int:campaign_id>/launch/", views.campaign_launch, name="launch"),
    path("<int:campaign_id>/cancel/", views.campaign_cancel, name="cancel"),
    path("<int:campaign_id>/unschedule/", views.campaign_unschedule, name="unschedule"),
    path("<int:campaign_id>/rules.json", views.rules_json, name="rules"),
    path("<int:campaign_id>/codes/add/", views.code_add, name="code_add"),
    path("<int:campaign_id>/codes/generate/", views.codes_generate, name="codes_generate"),
    path("<int:campaign_id>/codes.csv", views.codes_csv, name="codes_csv"),
    path("<int:campaign_id>/results/", views.campaign_results, name="results"),
]
