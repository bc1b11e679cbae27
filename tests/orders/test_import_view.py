"""The upload screen: permission, upload -> job -> worker (immediate mode in tests) -> report on the job page."""

from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from zaplecze.core.models import Job
from zaplecze.orders.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path):
    """Uploads go to a temp data dir, and the queue runs tasks at once (conftest asks for immediate mode
    through ZAPLECZE_QUEUE_IMMEDIATE, but the settings may be loaded before it is set)."""
    from huey.contrib.djhuey import HUEY

    settings.DATA_DIR = tmp_path
    was = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = was


CSV = (
    "channel,external_id,placed_at,sku,quantity,unit_price_gross\n"
    "shop,1,2026-03-02T10:00:00+01:00,A,1,10\n"
    "shop,2,2026-03-02T10:00:00+01:00,A,2,10\n"
    "shop,3,2026-03-02T10:00:00+01:00,A,1,dziesięć\n"
).encode()
URL = "/orders/import/"


def _uploads():
    folder = Path(settings.DATA_DIR) / "uploads"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_url_is_the_routed_import_screen():
    assert reverse("orders:import") == URL


def test_anonymous_is_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={URL}"


def test_without_permission_nothing_is_stored_or_queued(client, make_user):
    client.force_login(make_user("readonly"))
    before = _uploads()
    response = client.post(URL, {"file": SimpleUploadedFile("o.csv", CSV), "format": "auto"})
    assert response.status_code == 403
    assert Job.objects.count() == 0
    assert _uploads() == before


def test_form_renders(admin_client):
    response = admin_client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'enctype="multipart/form-data"' in body
    assert 'name="channel"' in body and 'value="allegro"' in body


def test_missing_file_is_refused(admin_client):
    response = admin_client.post(URL, {"format": "auto"})
    assert response.status_code == 400
    assert Job.objects.count() == 0


def test_upload_is_imported_by_the_worker_with_counts_and_row_errors(
    admin_client, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(
            URL, {"file": SimpleUploadedFile("zamówienia.csv", CSV), "channel": "erli", "format": "auto"}
        )
    assert len(callbacks) == 1
    job = Job.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("web:job", args=[job.pk])
    assert (job.kind, job.owner, job.state) == ("orders.import", admin_user, "done")
    assert job.params["name"] == "zamówienia.csv"
    assert (job.progress_done, job.progress_total) == (4, 4)
    result = job.result
    assert (result["created"], result["updated"], result["unchanged"], result["failed"]) == (2, 0, 0, 1)
    assert result["errors"] == [
        {"line": 4, "field": "unit_price_gross", "message": "'dziesięć' is not a number"}
    ]
    assert set(Order.objects.values_list("channel__code", "external_id")) == {("erli", "1"), ("erli", "2")}
    assert not Path(job.params["path"]).exists()  # the upload is removed once imported

    page = admin_client.get(response.url)
    assert page.status_code == 200
    assert "dziesięć" in page.content.decode()


def test_an_unreadable_upload_fails_the_job_with_the_reason(admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(URL, {"file": SimpleUploadedFile("x.csv", b"foo,bar\n1,2\n"), "format": "auto"})
    job = Job.objects.get()
    assert job.state == "failed"
    assert job.error.startswith("Cannot tell the format of this file from its header (foo, bar).")
