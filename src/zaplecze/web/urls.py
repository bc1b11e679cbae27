from django.urls import path

from . import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("stock/", views.stock, name="stock"),
    path("stock/<int:level_id>/", views.stock_level, name="stock_level"),
    path("stock/<int:level_id>/adjust/", views.stock_adjust, name="stock_adjust"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
]
