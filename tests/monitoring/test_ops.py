"""Operations endpoints (/healthz, /readyz, /metrics), request ids and JSON logs."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import time

import pytest
from django.db import OperationalError
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from zaplecze.analytics import spool
from zaplecze.core import heartbeat, opsmetrics
from zaplecze.core.requestlog import (
    JsonFormatter,
    RequestContextFilter,
    RequestLogMiddleware,
    redact,
    valid_request_id,
)
from zaplecze.monitoring import ops_checks

TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def _isolated(settings, tmp_path, monkeypatch):
    """A data dir of its own (the spool), no token, a fresh heartbeat, and a worker that is expected."""
    settings.DATA_DIR = tmp_path
    settings.METRICS_TOKEN = ""
    monkeypatch.setattr(ops_checks, "worker_expected", lambda: True)
    heartbeat.beat()
    yield
    spool.close()


@pytest.fixture
def json_log():
    """The root logger also writes JSON lines (the production format) into a buffer; access lines on."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root, access = logging.getLogger(), logging.getLogger("zaplecze.request")
    old_level = access.level
    access.setLevel(logging.DEBUG)
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)
    access.setLevel(old_level)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def metric_samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def scrape(client: Client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return metric_samples(response.content.decode())


# --- /healthz ---------------------------------------------------------------------------------------------


def test_healthz_answers_without_touching_the_database(client):
    # no django_db mark: any database access in this test raises
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


# --- /readyz ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_readyz_is_200_when_database_worker_and_spool_are_fine(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "worker", "spool"}
    assert all(check["ok"] for check in body["checks"].values())
    # from loopback without a token setting the details are shown
    assert body["checks"]["spool"]["pending_bytes"] == 0
    assert body["checks"]["worker"]["heartbeat_age_s"] < 60


@pytest.mark.django_db
def test_readyz_is_503_for_a_stale_heartbeat(client, settings):
    settings.READY_HEARTBEAT_MAX_AGE = 300
    heartbeat.beat(now=time.time() - 301)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["worker"]["ok"] is False
    assert body["checks"]["worker"]["heartbeat_age_s"] >= 301
    assert body["checks"]["database"]["ok"] is True
    # a fresh beat (what the worker's periodic task writes) makes it ready again
    from zaplecze.core.tasks import worker_heartbeat_periodic

    worker_heartbeat_periodic.call_local()
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_readyz_worker_check_can_be_turned_off(client, settings):
    settings.READY_HEARTBEAT_MAX_AGE = 0
    heartbeat.beat(now=time.time() - 10_000)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["worker"]["skipped"] is True


@pytest.mark.django_db
def test_readyz_is_503_for_an_old_spool_backlog_and_200_once_flushed(client, settings):
    settings.READY_SPOOL_MAX_AGE = 900
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    spool.append([{"event": "pageview", "site": "shop.example"}], now=old)
    spool.close()
    response = client.get("/readyz")
    assert response.status_code == 503
    check = response.json()["checks"]["spool"]
    assert check["ok"] is False
    assert check["pending_segments"] == 1
    assert check["pending_bytes"] > 0
    assert check["oldest_pending_age_s"] >= 20 * 60
    # the flusher commits the segment's offset: nothing is pending any more
    (segment,) = spool.segments()
    spool.offsets_save({segment.name: segment.stat().st_size})
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_readyz_is_503_for_a_spool_backlog_too_big(client, settings):
    spool.append([{"event": "pageview", "site": "shop.example", "url": "x" * 200}])
    spool.close()
    settings.READY_SPOOL_MAX_BYTES = 100
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["spool"]["pending_bytes"] > 100
    settings.READY_SPOOL_MAX_BYTES = 10_000
    assert client.get("/readyz").status_code == 200


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_fails(client, monkeypatch):
    def broken():
        raise OperationalError("could not connect to server at db.internal:5432 user=zaplecze password=x")

    monkeypatch.setattr(ops_checks, "_ping_database", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    check = response.json()["checks"]["database"]
    assert check == {"ok": False, "detail": "error: OperationalError", "ms": check["ms"]}
    assert "db.internal" not in response.content.decode()  # the driver's message is never shown


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_does_not_answer_in_time(client, monkeypatch, settings):
    settings.READY_DB_TIMEOUT = 0.2
    monkeypatch.setattr(ops_checks, "_ping_database", lambda: time.sleep(1.0))
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 0.9
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["detail"] == "no answer within 0.2 s"


@pytest.mark.django_db
def test_readyz_shows_only_names_and_ok_to_an_untrusted_caller(settings):
    settings.METRICS_TOKEN = TOKEN
    heartbeat.beat(now=time.time() - 10_000)
    anonymous = Client(REMOTE_ADDR="203.0.113.9")
    response = anonymous.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": {"ok": True}, "worker": {"ok": False}, "spool": {"ok": True}},
    }
    detailed = anonymous.get("/readyz", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").json()
    assert detailed["checks"]["worker"]["heartbeat_age_s"] >= 10_000


# --- /metrics ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_parse_and_count_requests(client):
    key = ("zaplecze_http_requests_total", (("method", "GET"), ("status", "200"), ("view", "ops:healthz")))
    before = scrape(client).get(key, 0.0)
    for _ in range(3):
        client.get("/healthz")
    after = scrape(client)
    assert after[key] == before + 3
    count_key = ("zaplecze_http_request_duration_seconds_count", (("method", "GET"), ("view", "ops:healthz")))
    assert after[count_key] >= 3
    # the scrape-time sections all computed
    assert after[("zaplecze_metrics_section_up", (("section", "queue"),))] == 1
    assert after[("zaplecze_metrics_section_up", (("section", "sync"),))] == 1
    assert after[("zaplecze_metrics_section_up", (("section", "outbox"),))] == 1
    assert after[("zaplecze_metrics_section_up", (("section", "collector"),))] == 1
    assert after[("zaplecze_queue_pending_tasks", ())] == 0
    assert after[("zaplecze_worker_heartbeat_age_seconds", ())] < 60


@pytest.mark.django_db
def test_metrics_sync_lag_is_the_age_of_the_channels_last_success(client):
    from zaplecze.integrations.models import Connection, SyncError
    from zaplecze.integrations.services import connection_create

    conn = connection_create(
        channel_code="shop",
        platform="woocommerce",
        base_url="https://shop.example",
        credentials={"consumer_key": "ck_x", "consumer_secret": "cs_x", "webhook_secret": "w"},
        actor=None,
    )
    labels = (("channel", "shop"), ("platform", "woocommerce"))
    never = scrape(client)
    assert never[("zaplecze_sync_last_success_timestamp_seconds", labels)] == 0
    assert ("zaplecze_sync_last_success_age_seconds", labels) not in never

    last = timezone.now() - dt.timedelta(minutes=42)
    Connection.objects.filter(pk=conn.pk).update(last_success_at=last)
    SyncError.objects.create(connection=conn, external_id="17", message="bad order")
    SyncError.objects.create(
        connection=conn, external_id="18", message="fixed", state=SyncError.State.RESOLVED
    )
    samples = scrape(client)
    age = samples[("zaplecze_sync_last_success_age_seconds", labels)]
    assert 42 * 60 <= age < 42 * 60 + 30
    assert samples[("zaplecze_sync_last_success_timestamp_seconds", labels)] == pytest.approx(
        last.timestamp()
    )
    assert samples[("zaplecze_sync_open_errors", labels)] == 1
    assert samples[("zaplecze_sync_status", (*labels, ("status", "new")))] == 1


@pytest.mark.django_db
def test_metrics_count_jobs_outbox_and_the_spool(client):
    from zaplecze.core.services import job_create, job_finish

    job = job_create(kind="import", title="broken import", owner=None)
    job_finish(job_id=job.pk, error="row 3: bad SKU")
    spool.append([{"event": "pageview"}, {"event": "pageview"}])
    spool.close()
    pending = sum(seg.stat().st_size for seg in spool.segments())
    samples = scrape(client)
    assert samples[("zaplecze_jobs", (("state", "failed"),))] == 1
    assert samples[("zaplecze_jobs", (("state", "queued"),))] == 0
    assert samples[("zaplecze_outbox_emails", (("state", "pending"),))] == 0
    assert samples[("zaplecze_collector_spool_pending_bytes", ())] == pending > 0
    assert samples[("zaplecze_collector_events_stored_today", ())] == 0


@pytest.mark.django_db
def test_metrics_token_protection(settings, make_user):
    remote = Client(REMOTE_ADDR="203.0.113.9")
    local = Client()  # the test client calls from 127.0.0.1
    # no token configured: direct loopback only, not through a proxy
    assert local.get("/metrics").status_code == 200
    assert local.get("/metrics", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 403
    assert remote.get("/metrics").status_code == 403
    # a token configured: it is required, also from loopback
    settings.METRICS_TOKEN = TOKEN
    response = local.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert remote.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token").status_code == 401
    assert remote.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    # or a signed-in user with monitoring access (not one without)
    remote.force_login(make_user("readonly"))
    assert remote.get("/metrics").status_code == 200
    warehouse = Client(REMOTE_ADDR="203.0.113.9")
    warehouse.force_login(make_user("warehouse"))
    assert warehouse.get("/metrics").status_code == 401


def test_metrics_directory_compaction_keeps_the_counts(tmp_path, monkeypatch):
    """Files of ended processes are folded into the archive; the sums are the same before and after."""
    from prometheus_client.mmap_dict import MmapedDict, mmap_key
    from prometheus_client.multiprocess import MultiProcessCollector

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    dead_pid = 999_999_99  # beyond pid_max: never alive
    for pid, value in ((dead_pid, 2.0), (dead_pid - 1, 5.0)):
        d = MmapedDict(str(tmp_path / f"counter_{pid}.db"))
        d.write_value(mmap_key("c", "c_total", ["view"], ["x"], "help"), value, 0.0)
        d.close()
    live = MmapedDict(str(tmp_path / f"counter_{os.getpid()}.db"))
    live.write_value(mmap_key("c", "c_total", ["view"], ["x"], "help"), 1.0, 0.0)
    live.close()

    def total() -> float:
        (metric,) = MultiProcessCollector.merge(sorted(str(p) for p in tmp_path.glob("*.db")))
        return sum(s.value for s in metric.samples)

    assert total() == 8.0
    assert opsmetrics.compact() == 2
    assert sorted(p.name for p in tmp_path.glob("*.db")) == sorted(
        ["counter_archive.db", f"counter_{os.getpid()}.db"]
    )
    assert total() == 8.0
    assert opsmetrics.compact() == 0


# --- request ids and logs ---------------------------------------------------------------------------------


def test_request_id_is_echoed_when_valid_and_replaced_when_not(client):
    given = "req-0123456789abcdef"
    assert client.get("/healthz", HTTP_X_REQUEST_ID=given)["X-Request-ID"] == given
    for bad in (
        "short",
        "x" * 129,
        "bad id with spaces",
        "inj\r\nSet-Cookie: a=b",
        "<script>alert(1)</script>",
    ):
        answered = client.get("/healthz", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
        assert answered != bad
        assert valid_request_id(answered)
    assert client.get("/healthz")["X-Request-ID"] != client.get("/healthz")["X-Request-ID"]


@pytest.mark.django_db
def test_a_requests_log_lines_are_json_and_carry_its_request_id(client, json_log, admin_user):
    heartbeat.beat(now=time.time() - 10_000)  # /readyz answers 503: Django logs it too
    client.force_login(admin_user)
    response = client.get("/readyz", HTTP_X_REQUEST_ID="probe-42-abcdef")
    assert response.status_code == 503
    records = lines(json_log)
    mine = [r for r in records if r["request_id"] == "probe-42-abcdef"]
    assert {r["logger"] for r in mine} >= {"zaplecze.request", "django.request"}
    access = next(r for r in mine if r["logger"] == "zaplecze.request")
    assert access["method"] == "GET"
    assert access["path"] == "/readyz"
    assert access["status"] == 503
    assert access["duration_ms"] >= 0
    assert access["user_id"] == admin_user.pk
    assert access["level"] == "WARNING"
    assert dt.datetime.fromisoformat(access["time"]).utcoffset() == dt.timedelta(0)
    # a second request: its own id, none of the first request's
    client.get("/no-such-page/")
    others = [r for r in lines(json_log) if r.get("path") == "/no-such-page/"]
    assert others and all(r["request_id"] not in ("probe-42-abcdef", "-") for r in others)
    assert len({r["request_id"] for r in others}) == 1


@pytest.mark.django_db
def test_exceptions_are_logged_with_their_traceback_in_one_json_line(json_log):
    log = logging.getLogger("zaplecze.test")
    try:
        raise ValueError("broken thing")
    except ValueError:
        log.exception("it failed")
    (record,) = [r for r in lines(json_log) if r["logger"] == "zaplecze.test"]
    assert record["message"] == "it failed"
    assert record["level"] == "ERROR"
    assert "ValueError: broken thing" in record["exc"]
    assert record["request_id"] == "-"


@pytest.mark.django_db
def test_no_secret_in_the_logs(client, json_log):
    from zaplecze.integrations.services import connection_create

    conn = connection_create(
        channel_code="shop",
        platform="woocommerce",
        base_url="https://shop.example",
        credentials={"consumer_key": "ck_x", "consumer_secret": "cs_x", "webhook_secret": "w"},
        actor=None,
    )
    token = conn.webhook_token
    client.post(
        f"/hooks/woocommerce/{token}/?consumer_key=ck_live_abcdef&consumer_secret=cs_live_abcdef",
        data=b"{}",
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer zpl_supersecret_value",
        HTTP_COOKIE="sessionid=cookie-secret-value",
    )
    client.get(f"/hooks/woocommerce/{token}")  # no slash: redirected, the path still masked
    logging.getLogger("zaplecze.integrations").warning(
        "GET https://shop.example/wp-json/wc/v3/orders?consumer_key=ck_live_abcdef&consumer_secret=cs_live_abcdef"
    )
    text = json_log.getvalue()
    assert "/hooks/woocommerce/***/" in text
    assert '"path": "/hooks/woocommerce/***", "status": 301' in text
    for secret in (token, "ck_live_abcdef", "cs_live_abcdef", "zpl_supersecret_value", "cookie-secret-value"):
        assert secret not in text


def test_redact_masks_credentials_in_free_text():
    assert redact("url=https://u:p4ss@db.example/x") == "url=https://u:***@db.example/x"
    assert redact("Authorization: Bearer abcdef123456") == "Authorization: Bearer ***"
    assert redact("/api?page=2&api_key=XYZ123&x=1") == "/api?page=2&api_key=***&x=1"
    assert redact("nothing to hide, page=2") == "nothing to hide, page=2"


@pytest.mark.django_db
def test_task_outcomes_are_counted_and_task_log_lines_carry_the_task(client, json_log):
    from huey.contrib.djhuey import db_task

    opsmetrics.install_task_hooks()

    @db_task(name="ops_test_failing_task")
    def failing_task() -> None:
        logging.getLogger("zaplecze.test").warning("inside the task")
        raise RuntimeError("task broke")

    def view(request):
        failing_task()  # the queue runs tasks inline in tests; the error is recorded, not raised here
        return HttpResponse("queued")

    key = ("zaplecze_tasks_total", (("outcome", "error"), ("task", "ops_test_failing_task")))
    before = scrape(client).get(key, 0.0)
    request = RequestFactory().post("/somewhere/", HTTP_X_REQUEST_ID="enqueue-req-0001")
    response = RequestLogMiddleware(view)(request)
    assert response["X-Request-ID"] == "enqueue-req-0001"
    assert scrape(client)[key] == before + 1
    (inside,) = [r for r in lines(json_log) if r["message"] == "inside the task"]
    assert inside["task"] == "ops_test_failing_task"
    assert inside["task_id"]
    # the line that ties the request to the task, at INFO inside a request
    (enqueued,) = [r for r in lines(json_log) if r["message"] == "task enqueued: ops_test_failing_task"]
    assert enqueued["request_id"] == "enqueue-req-0001"
    assert enqueued["task_id"] == inside["task_id"]
    assert enqueued["level"] == "INFO"


@pytest.mark.django_db
def test_the_ops_endpoints_are_public_views_in_the_security_walk(make_user):
    from tests.security.urlwalk import walk
    from zaplecze.core.access import PUBLIC
    from zaplecze.core.permissions import Role

    routes = {ep.route: ep for ep in walk()}
    for route in ("healthz", "readyz", "metrics"):
        assert routes[route].required_permission == PUBLIC
    for role in [*Role.values, None]:
        client = Client()
        if role is not None:
            client.force_login(make_user(role))
        for route in ("healthz", "readyz", "metrics"):
            assert client.get(f"/{route}").status_code == 200, (route, role)
            assert client.post(f"/{route}").status_code == 405, (route, role)
