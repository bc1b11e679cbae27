"""Production settings pass Django's deployment checks; the secret key is generated once and kept private."""

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZAPLECZE_", "DJANGO_"))}
    env["ZAPLECZE_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def _production_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The documented production variables (README, configuration)."""
    production = {
        "ZAPLECZE_ENV": "production",
        "ZAPLECZE_SECRET_KEY": secrets.token_urlsafe(50),
        "ZAPLECZE_ALLOWED_HOSTS": "sklep.example.pl",
        "ZAPLECZE_CSRF_TRUSTED_ORIGINS": "https://sklep.example.pl",
        "ZAPLECZE_BASE_URL": "https://sklep.example.pl",
    }
    return _env(data_dir, **{**production, **extra})


def _check_deploy(env):
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_the_production_variables(tmp_path):
    result = _check_deploy(_production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_fails_when_debug_is_left_on_in_production(tmp_path):
    result = _check_deploy(_production_env(tmp_path, ZAPLECZE_DEBUG="1"))
    assert result.returncode != 0
    assert "security.W018" in result.stderr + result.stdout


def test_check_deploy_fails_with_a_short_secret_key(tmp_path):
    result = _check_deploy(_production_env(tmp_path, ZAPLECZE_SECRET_KEY="short"))
    assert result.returncode != 0
    assert "security.W009" in result.stderr + result.stdout


def _secret_key(env) -> str:
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "DJANGO_SETTINGS_MODULE": "zaplecze.settings"},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_secret_key_is_generated_on_first_run_private_and_reused(tmp_path):
    data_dir = tmp_path / "data"
    first = _secret_key(_env(data_dir))
    second = _secret_key(_env(data_dir))

    key_file = data_dir / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == first == second
    assert len(first) >= 50
    assert _secret_key(_env(tmp_path / "other")) != first


def test_a_given_secret_key_wins_and_nothing_is_written(tmp_path):
    assert _secret_key(_env(tmp_path, ZAPLECZE_SECRET_KEY="k" * 60)) == "k" * 60
    assert not (tmp_path / "secret_key").exists()
