"""UI export of orders: small exports are answered at once, bigger ones run as a background job with
progress on the jobs page and a download link when done."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from django.urls import reverse

from zaplecze.core.models import Job
from zaplecze.core.services import job_create
from zaplecze.orders import exporting

EXPORT = reverse("orders:export")


@pytest.fixture
def small_limit(monkeypatch):
    monkeypatch.setattr(exporting, "SYNC_LIMIT", 2)


def place(ingest, n: int, **overrides):
    data = {"external_id": f"E{n}", "number": f"E-{n}", "email": f"e{n}@example.com"}
    data.update(overrides)
    return ingest(**data).order


def rows_of(content: bytes) -> list[tuple[str, str]]:
    return [(r["order_number"], r["sku"]) for r in csv.DictReader(io.StringIO(content.decode("utf-8-sig")))]


def start_export(client, capture, **params):
    with capture(execute=True):
        response = client.post(EXPORT, params)
    assert response.status_code == 302
    return Job.objects.get(kind=exporting.KIND), response


def test_an_export_up_to_the_limit_is_the_file_itself(admin_client, ingest, small_limit):
    place(ingest, 1)
    place(ingest, 2)

    response = admin_client.get(EXPORT, {"fmt": "csv"})

    assert response.status_code == 200
    assert rows_of(b"".join(response.streaming_content)) == [("E-1", "SKU-0001"), ("E-2", "SKU-0001")]
    assert not Job.objects.exists()


def test_a_bigger_export_asks_first_and_changes_nothing_on_get(admin_client, ingest, small_limit):
    for n in range(1, 4):
        place(ingest, n, channel="allegro")

    response = admin_client.get(EXPORT, {"fmt": "csv", "channel": "allegro"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "3 orders" in page
    assert 'name="channel" value="allegro"' in page
    assert not Job.objects.exists()


def test_a_bigger_export_runs_as_a_job_with_progress_and_a_download(
    admin_client, admin_user, ingest, small_limit, django_capture_on_commit_callbacks
):
    for n in range(1, 4):
        place(ingest, n, channel="allegro")
    place(ingest, 4, channel="shop")

    job, response = start_export(
        admin_client, django_capture_on_commit_callbacks, fmt="csv", channel="allegro"
    )

    assert response["Location"] == reverse("orders:export_job", args=[job.pk])
    job.refresh_from_db()
    assert (job.state, job.owner, job.progress_done, job.progress_total) == ("done", admin_user, 3, 3)
    assert job.result["orders"] == 3
    assert job.params == {"filter": {"channel": "allegro"}, "fmt": "csv"}
    page = admin_client.get(response["Location"]).content.decode()
    assert reverse("orders:export_download", args=[job.pk]) in page
    assert "3 orders exported." in page
    jobs_page = admin_client.get(reverse("web:jobs")).content.decode()
    assert job.title in jobs_page
    download = admin_client.get(reverse("orders:export_download", args=[job.pk]))
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert download["Content-Disposition"].startswith('attachment; filename="orders-')
    content = b"".join(download.streaming_content)
    assert rows_of(content) == [("E-1", "SKU-0001"), ("E-2", "SKU-0001"), ("E-3", "SKU-0001")]


def test_the_job_writes_what_the_synchronous_export_writes(
    admin_client, ingest, small_limit, django_capture_on_commit_callbacks, monkeypatch
):
    for n in range(1, 4):
        place(ingest, n)
    job, _response = start_export(admin_client, django_capture_on_commit_callbacks, fmt="csv")
    from_job = b"".join(admin_client.get(reverse("orders:export_download", args=[job.pk])).streaming_content)

    monkeypatch.setattr(exporting, "SYNC_LIMIT", 100)
    at_once = b"".join(admin_client.get(EXPORT, {"fmt": "csv"}).streaming_content)

    assert from_job == at_once


def test_an_xlsx_export_job(admin_client, ingest, small_limit, django_capture_on_commit_callbacks):
    for n in range(1, 4):
        place(ingest, n)

    job, _response = start_export(admin_client, django_capture_on_commit_callbacks, fmt="xlsx")

    download = admin_client.get(reverse("orders:export_download", args=[job.pk]))
    assert download["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    with zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))) as zf:
        assert "xl/workbook.xml" in zf.namelist()


def test_bad_input_starts_no_job(admin_client, db):
    assert admin_client.post(EXPORT, {"fmt": "pdf"}).status_code == 400
    response = admin_client.post(EXPORT, {"fmt": "csv", "date_from": "yesterday"})
    assert response.status_code == 400
    assert "date_from" in response.content.decode()
    assert not Job.objects.exists()


def test_another_users_export_and_other_jobs_are_not_found(
    client, make_user, admin_client, ingest, small_limit, django_capture_on_commit_callbacks
):
    for n in range(1, 4):
        place(ingest, n)
    job, _response = start_export(admin_client, django_capture_on_commit_callbacks, fmt="csv")
    client.force_login(make_user("marketing"))  # may export, but this job is not theirs

    assert client.get(reverse("orders:export_job", args=[job.pk])).status_code == 404
    assert client.get(reverse("orders:export_download", args=[job.pk])).status_code == 404
    other_kind = job_create(kind="import", title="import", owner=None).pk  # admins see every job
    assert admin_client.get(reverse("orders:export_job", args=[other_kind])).status_code == 404


def test_no_download_before_the_job_is_done(admin_client, admin_user, db):
    job_id = exporting.export_job_create(params={}, fmt="csv", actor=admin_user)  # on_commit never runs here

    page = admin_client.get(reverse("orders:export_job", args=[job_id]))

    assert page.status_code == 200
    assert 'hx-trigger="every 1s"' in page.content.decode()
    assert admin_client.get(reverse("orders:export_download", args=[job_id])).status_code == 404


def test_export_job_pages_need_the_export_permission(client, make_user, admin_user, db):
    job_id = exporting.export_job_create(params={}, fmt="csv", actor=admin_user)
    client.force_login(make_user("warehouse"))

    assert client.get(reverse("orders:export_job", args=[job_id])).status_code == 403
    assert client.post(EXPORT, {"fmt": "csv"}).status_code == 403
    assert Job.objects.count() == 1
