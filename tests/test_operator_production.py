"""ENVIRONMENT=production: `serve` and `worker` refuse to start, listing every setting that
production needs and is missing, before they touch the database."""

import subprocess

import pytest

from app.core.production import production_problems
from app.core.settings import Settings
from tests.helpers.cli import ORIENTATION, command_env

READY = {
    "environment": "production",
    "secret_key": "k" * 48,
    "public_url": "https://orientation.cpts-exemple.fr",
    "database_url": "postgresql+psycopg://orientation@db.internal/orientation",
    "fhir_client_auth": "proxy",
    "fhir_allowed_subjects": "CN=sas.sante.fr,OU=SAS",
    "smtp_host": "smtp.cpts-exemple.fr",
    "mail_from": "CPTS <ne-pas-repondre@cpts-exemple.fr>",
    "sms_provider": "http",
    "sms_endpoint": "https://sms.fournisseur.example/v1/messages",
    "sms_api_key": "sms-key",
    "require_second_factor": True,
    "password_hash_cost": "standard",
}


def _problems(**changes) -> list[str]:
    return production_problems(Settings(**{**READY, **changes}))


def test_a_complete_production_configuration_has_no_problem():
    assert _problems() == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"secret_key": None}, "ORIENTATION_SECRET_KEY manque"),
        ({"secret_key": "test-secret-key"}, "ORIENTATION_SECRET_KEY est une valeur d'exemple"),
        ({"secret_key": "short"}, "ORIENTATION_SECRET_KEY est une valeur d'exemple ou trop courte"),
        ({"public_url": None}, "ORIENTATION_PUBLIC_URL"),
        ({"public_url": "http://orientation.cpts-exemple.fr"}, "ORIENTATION_PUBLIC_URL"),
        ({"database_url": "sqlite://"}, "SQLite en mémoire"),
        ({"database_url": "sqlite:///:memory:"}, "SQLite en mémoire"),
        ({"fhir_client_auth": "none"}, "ORIENTATION_FHIR_CLIENT_AUTH=none"),
        ({"fhir_allowed_subjects": ""}, "ORIENTATION_FHIR_ALLOWED_SUBJECTS"),
        ({"fhir_client_auth": "tls"}, "ORIENTATION_TLS_CLIENT_CA_FILE"),
        ({"smtp_host": None}, "ORIENTATION_SMTP_HOST"),
        ({"mail_from": "Orientation <ne-pas-repondre@orientation.invalid>"}, "ORIENTATION_MAIL_FROM"),
        ({"sms_provider": "file"}, "ORIENTATION_SMS_PROVIDER"),
        ({"sms_endpoint": "http://sms.example"}, "ORIENTATION_SMS_ENDPOINT"),
        ({"sms_endpoint": None}, "ORIENTATION_SMS_ENDPOINT"),
        ({"require_second_factor": False}, "ORIENTATION_REQUIRE_SECOND_FACTOR"),
        ({"password_hash_cost": "test-only-cheap"}, "ORIENTATION_PASSWORD_HASH_COST"),
    ],
)
def test_each_missing_setting_is_named(change, named):
    problems = _problems(**change)
    assert len(problems) == 1 and named in problems[0], problems


def test_a_sqlite_file_is_fine_for_one_host():
    assert _problems(database_url="sqlite:////data/orientation.sqlite3") == []


def test_several_processes_need_the_shared_rate_limits():
    settings = Settings(**READY)
    assert production_problems(settings, workers=1) == []
    assert "ORIENTATION_RATE_LIMIT_STORE=database" in production_problems(settings, workers=2)[0]
    shared = Settings(**{**READY, "rate_limit_store": "database"})
    assert production_problems(shared, workers=4) == []


def _run(tmp_path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = command_env(**variables)
    for name in [n for n in env if n.startswith("ORIENTATION_") and n not in variables]:
        del env[name]  # only what the test sets, as on a fresh host
    return subprocess.run([ORIENTATION, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("command", [("serve", "--port", "1"), ("worker", "--once")])
def test_serve_and_worker_refuse_to_start_and_say_what_is_missing(tmp_path, command):
    database = tmp_path / "orientation.sqlite3"
    result = _run(
        tmp_path, *command, ORIENTATION_ENVIRONMENT="production", ORIENTATION_DATABASE_URL=f"sqlite:///{database}"
    )
    assert result.returncode == 1
    for named in (
        "ORIENTATION_SECRET_KEY",
        "ORIENTATION_PUBLIC_URL",
        "ORIENTATION_FHIR_ALLOWED_SUBJECTS",
        "ORIENTATION_SMTP_HOST",
        "ORIENTATION_SMS_PROVIDER",
        "docs/deploy.md",
    ):
        assert named in result.stderr, result.stderr
    assert not database.exists()  # refused before migrating anything
    assert not (tmp_path / "var" / "secret_key").exists()


def test_the_worker_starts_in_production_once_all_is_set(tmp_path):
    variables = {f"ORIENTATION_{name.upper()}": str(value) for name, value in READY.items()}
    variables["ORIENTATION_DATABASE_URL"] = f"sqlite:///{tmp_path / 'orientation.sqlite3'}"
    result = _run(tmp_path, "worker", "--once", **variables)
    assert result.returncode == 0, result.stderr
    assert "0 message(s) sent" in result.stdout


def test_a_secret_key_file_put_there_on_purpose_will_do(tmp_path):
    key = tmp_path / "secret_key"
    assert "ORIENTATION_SECRET_KEY manque" in _problems(secret_key=None, secret_key_file=key)[0]  # not there yet
    key.write_text("s" * 48)
    assert _problems(secret_key=None, secret_key_file=key) == []
