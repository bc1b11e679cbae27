"""The `zaplecze` command. Each subcommand is a thin door into the same services as the UI and API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
    import django

    django.setup()


def progress_enabled() -> bool:
    return sys.stderr.isatty()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Zaplecze: the back office of an online shop's sales operations."""


# --- running ----------------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="Web server processes")
@click.option("--threads", default=4, show_default=True, type=int, help="Threads per process")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the web app with gunicorn (a production-grade WSGI server)."""
    from gunicorn.app.base import BaseApplication

    setup_django()
    from zaplecze.core.i18n import ensure_compiled
    from zaplecze.web.assets import build_vega_bundle

    ensure_compiled()
    build_vega_bundle()

    class App(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("accesslog", "-")
            self.cfg.set("timeout", 120)
            self.cfg.set("graceful_timeout", 10)

        def load(self):
            from zaplecze.wsgi import application

            return application

    App().run()


@main.command()
def worker() -> None:
    """Run the background worker (queued and periodic jobs)."""
    setup_django()
    from django.core.management import call_command

    call_command("run_huey")


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1)


@main.command()
@click.argument("username")
@click.option("--email", default="")
def createadmin(username: str, email: str) -> None:
    """Create an administrator. Password from ZAPLECZE_ADMIN_PASSWORD, else generated and printed once."""
    setup_django()
    from django.conf import settings

    from zaplecze.core.errors import DomainError
    from zaplecze.core.permissions import Role
    from zaplecze.core.services import user_create

    given = settings.ADMIN_PASSWORD
    try:
        _, password = user_create(
            username=username, password=given, role=Role.ADMIN, email=email, validate=False
        )
    except DomainError as exc:
        raise click.ClickException(exc.message)
    click.echo(f"Administrator: {username}")
    if not given:
        click.echo(f"Password: {password}   (shown once; change it under Account)")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="cli")
def token_create_cmd(username: str, name: str) -> None:
    """Create an API token for USERNAME and print only the token."""
    setup_django()
    from zaplecze.core.models import User
    from zaplecze.core.services import token_create

    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise click.ClickException(f"No active user {username!r}")
    click.echo(token_create(user=user, name=name))


def bootstrap(echo=click.echo) -> None:
    """First-start setup: schema, an administrator, the demo shop. Safe to run on every start."""
    setup_django()
    from django.conf import settings
    from django.core.management import call_command

    from zaplecze.core.models import User

    call_command("migrate", interactive=False, verbosity=0)
    if not User.objects.exists():
        from zaplecze.core.permissions import Role
        from zaplecze.core.services import user_create

        given = settings.ADMIN_PASSWORD
        _, password = user_create(username="admin", password=given, role=Role.ADMIN, validate=False)
        echo("=" * 60)
        echo("Administrator created. Log in at http://127.0.0.1:8000 with")
        echo("  login:    admin")
        echo(f"  password: {password if not given else '(from ZAPLECZE_ADMIN_PASSWORD)'}")
        echo("This password is shown once. Change it under Account.")
        echo("=" * 60)
    marker = settings.DATA_DIR / "demo-loaded"
    if not marker.exists() and settings.DEMO_ON_FIRST_START:
        from zaplecze.orders.models import Order

        if not Order.objects.exists():
            from zaplecze.demo import build_demo

            echo("Loading the demo shop (first start only)…")
            t0 = time.monotonic()
            stats = build_demo(
                orders=settings.DEMO_ORDERS, progress=progress_enabled(), queue_forecast=True, traffic=True
            )
            echo(
                f"Demo shop ready: {stats['orders']} orders, {stats['products']} products "
                f"in {time.monotonic() - t0:.0f} s"
            )
        marker.write_text("1")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def run(host: str, port: int) -> None:
    """Migrate, create the administrator and demo shop on first start, then serve the app with the worker.
    Ctrl-C stops both."""
    bootstrap()
    exe = [sys.executable, "-m", "zaplecze.cli"]
    procs = [
        subprocess.Popen([*exe, "worker"]),
        subprocess.Popen([*exe, "serve", "--host", host, "--port", str(port)]),
    ]
    click.echo(f"Zaplecze is running on http://{host}:{port}  (Ctrl-C stops the server and the worker)")

    def stop(*_):
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        click.echo("A process exited; stopping the other.", err=True)
    except KeyboardInterrupt:
        click.echo("\nStopping…")
    finally:
        stop()


def _register_optional() -> None:
    """Commands that live with their modules."""
    from importlib import import_module

    for mod in (
        "zaplecze.orders.cli",
        "zaplecze.catalog.cli",
        "zaplecze.demo",
        "zaplecze.inventory.cli",
        "zaplecze.service.cli",
        "zaplecze.shipping.cli",
        "zaplecze.purchasing.cli",
        "zaplecze.fulfilment.cli",
        "zaplecze.analytics.cli",
        "zaplecze.integrations.cli",
        "zaplecze.reports.cli",
        "zaplecze.promotions.cli",
        "zaplecze.monitoring.cli",
        "zaplecze.today.cli",
        "zaplecze.orders.automation_cli",
        "zaplecze.orders.cli_history",
    ):
        try:
            m = import_module(mod)
        except ImportError:
            continue
        register = getattr(m, "register_cli", None)
        if register:
            register(main)


_register_optional()

if __name__ == "__main__":
    main()
