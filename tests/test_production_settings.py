"""Production settings: `check --deploy --fail-level WARNING` is clean, and they refuse to start with
a development or short secret key, DEBUG asked for, or any host allowed. Each in a fresh process
(the settings module is read once per process)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
GOOD = {"DJANGO_SETTINGS_MODULE": "crm_bank.settings.production", "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "DJANGO_ALLOWED_HOSTS": "crm.bank.example"}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, **GOOD, **env}
    environment.pop("DJANGO_DEBUG", None) if "DJANGO_DEBUG" not in env else None
    # The browser tests set this in the test process (Playwright runs an event loop); a deployment
    # never has it, and the subprocess must not inherit it.
    environment.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=environment, capture_output=True,
                          text=True, timeout=120)


def test_check_deploy_is_clean_on_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(("env", "message"), [
    ({"DJANGO_SECRET_KEY": "local-development-only-not-a-secret"}, "DJANGO_SECRET_KEY"),
    ({"DJANGO_SECRET_KEY": "short"}, "DJANGO_SECRET_KEY"),
    ({"DJANGO_SECRET_KEY": "django-insecure-" + "x" * 60}, "DJANGO_SECRET_KEY"),
    ({"DJANGO_DEBUG": "true"}, "DJANGO_DEBUG"),
    ({"DJANGO_ALLOWED_HOSTS": "*"}, "DJANGO_ALLOWED_HOSTS"),
    ({"DJANGO_ALLOWED_HOSTS": "crm.bank.example,*"}, "DJANGO_ALLOWED_HOSTS"),
])
def test_production_refuses_to_start_open(env, message):
    result = _manage("check", **env)
    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_the_entry_points_default_to_production_settings():
    for path in ("crm_bank/wsgi.py", "crm_bank/asgi.py", "crm_bank/celery.py"):
        text = (BASE_DIR / path).read_text()
        assert '"crm_bank.settings.production"' in text, path


def test_flower_in_compose_asks_for_a_login_and_listens_on_loopback_only():
    import yaml

    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    flower = compose["services"]["flower"]
    auth = [part for part in flower["command"] if part.startswith("--basic-auth=")]
    assert auth and "${FLOWER_PASSWORD:?" in auth[0]  # no default password: compose refuses to start without one
    assert flower["ports"] == ["127.0.0.1:5555:5555"]


def _compose() -> dict:
    import yaml

    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def test_the_compose_stack_is_reached_over_https_only():
    """Web is not published on the host; the TLS proxy is the way in, and the app redirects to HTTPS
    and trusts the scheme and address only from that one proxy."""
    services = _compose()["services"]
    assert "ports" not in services["web"] and services["web"]["expose"] == ["8000"]
    assert "443:443" in services["proxy"]["ports"] and "web:8000" in services["proxy"]["command"]
    app_env = _compose()["x-app-env"]
    assert app_env["DJANGO_SECURE_SSL_REDIRECT"] == "${DJANGO_SECURE_SSL_REDIRECT:-true}"
    assert app_env["CRM_TRUSTED_PROXIES"] == "${CRM_TRUSTED_PROXIES:-1}"


def test_check_deploy_is_clean_with_the_compose_stacks_defaults():
    import re

    defaults = {}
    for name, value in _compose()["x-app-env"].items():
        default = re.fullmatch(r"\$\{\w+:-(.*)\}", str(value))
        if default:
            defaults[name] = default.group(1)
    assert defaults["DJANGO_SECURE_SSL_REDIRECT"] == "true"
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **defaults)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("proxies", "header"), [("0", "None"), ("1", "('HTTP_X_FORWARDED_PROTO', 'https')")])
def test_the_forwarded_scheme_is_trusted_only_behind_a_proxy(proxies, header):
    result = _manage("shell", "-c", "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)",
                     CRM_TRUSTED_PROXIES=proxies)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == header
