"""The import task through a real queue: pickled into SQLite (or Redis) storage, dequeued, executed."""

import uuid
from pathlib import Path

import pytest
from huey import RedisHuey, SqliteHuey

from zaplecze.core.models import Job
from zaplecze.core.services import job_create, job_finish
from zaplecze.orders import tasks
from zaplecze.orders.importing import JOB_KIND, import_job_run
from zaplecze.orders.models import Order

pytestmark = pytest.mark.django_db
CSV = (
    "channel,external_id,placed_at,sku,quantity,unit_price_gross\n"
    "shop,w1,2026-03-02T10:00:00+01:00,A,1,10\n"
    "shop,w2,2026-03-02T10:00:00+01:00,A,-1,10\n"
)


def _job(tmp_path, user) -> Job:
    path = tmp_path / "upload.csv"
    path.write_text(CSV)
    return job_create(
        kind=JOB_KIND,
        title="test import",
        owner=user,
        params={"path": str(path), "name": "upload.csv", "channel": "", "format": "auto"},
    )


def _through_queue(huey, job_id: int) -> None:
    # The task's own body (call_local: without djhuey's close_db wrapper, which would close the test's
    # database connection), registered under its real name on this queue.
    task = huey.task(context=True, name="zaplecze.orders.tasks.import_orders_task")(
        tasks.import_orders_task.call_local
    )
    task(job_id)  # serialised into the queue's storage
    assert huey.pending_count() == 1
    message = huey.dequeue()  # what the consumer does: read it back...
    assert message.args == (job_id,)
    huey.execute(message)  # ...and run it
    assert huey.pending_count() == 0


def _assert_done(job: Job) -> None:
    job.refresh_from_db()
    assert job.state == "done"
    assert (job.result["created"], job.result["failed"]) == (1, 1)
    assert job.result["errors"] == [
        {"line": 3, "field": "quantity", "message": "the quantity must be greater than 0 (got -1)"}
    ]
    assert list(Order.objects.values_list("external_id", flat=True)) == ["w1"]
    assert not Path(job.params["path"]).exists()


def test_import_task_runs_through_a_sqlite_queue(tmp_path, admin_user):
    job = _job(tmp_path, admin_user)
    _through_queue(SqliteHuey(name="test", filename=str(tmp_path / "queue.sqlite3")), job.pk)
    _assert_done(job)


@pytest.mark.redis
def test_import_task_runs_through_a_redis_queue(tmp_path, admin_user):
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=0.5).ping()
    except redis.exceptions.RedisError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    huey = RedisHuey(name=f"zaplecze-test-{uuid.uuid4().hex}", host="127.0.0.1", port=6379)
    try:
        job = _job(tmp_path, admin_user)
        _through_queue(huey, job.pk)
        _assert_done(job)
    finally:
        huey.flush()


def test_a_finished_job_is_not_run_again(tmp_path, admin_user):
    job = _job(tmp_path, admin_user)
    job_finish(job_id=job.pk, result={"created": 0})
    import_job_run(job_id=job.pk)
    assert Order.objects.count() == 0
    assert Path(job.params["path"]).exists()


def test_an_unexpected_error_is_retried_and_marks_the_job_failed_on_the_last_attempt(
    tmp_path, admin_user, monkeypatch
):
    from zaplecze.orders import importing

    job = _job(tmp_path, admin_user)

    def boom(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(importing, "import_orders", boom)
    with pytest.raises(RuntimeError):
        import_job_run(job_id=job.pk, final_attempt=False)
    job.refresh_from_db()
    assert job.state == "running"  # left for the retry
    with pytest.raises(RuntimeError):
        import_job_run(job_id=job.pk, final_attempt=True)
    job.refresh_from_db()
    assert (job.state, job.error) == ("failed", "The import stopped with an internal error: disk on fire")
