"""deploy/nginx/orientation.conf.template, rendered and run: Debian's nginx, unprivileged, in its
own prefix on free loopback ports, terminating TLS and verifying the SAS platform's client
certificate (certificates made here by trustme), in front of `orientation serve` with
FHIR_CLIENT_AUTH=proxy.

The proxy talks to the app from 127.0.0.2 (`proxy_bind`), as another host would: the app
believes the identity headers from that address only, so a client reaching the app directly
(from 127.0.0.1) with forged headers is refused."""

import os
import pwd
import shutil
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from string import Template

import httpx
import pytest
import trustme

from tests.helpers.operator import free_port, serving

TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "nginx" / "orientation.conf.template"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PROXY_SOURCE = "127.0.0.2"
SAS_SUBJECT = "CN=sas.test.example,OU=SAS"

pytestmark = pytest.mark.skipif(
    not os.path.exists(NGINX) and not os.environ.get("ORIENTATION_REQUIRE_NGINX"),
    reason="nginx absent (apt-get install nginx-light); ORIENTATION_REQUIRE_NGINX=1 makes this a failure",
)

MAIN_CONF = """worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    include {prefix}/orientation.conf;
}}
"""


def _unprivileged() -> dict:
    """As root (CI), nginx runs as nobody: no privilege, as a user's own process would."""
    if os.geteuid() != 0:
        return {}
    return {"user": "nobody", "group": pwd.getpwnam("nobody").pw_gid}


@pytest.fixture(scope="module")
def pki():
    server_ca, sas_ca, stranger_ca = trustme.CA(), trustme.CA(), trustme.CA()
    return {
        "server_ca": server_ca,
        "server": server_ca.issue_cert("localhost", "127.0.0.1"),
        "sas_ca": sas_ca,
        "sas": sas_ca.issue_cert("sas.test.example", common_name="sas.test.example", organization_unit_name="SAS"),
        "other": sas_ca.issue_cert("x.test.example", common_name="x.test.example", organization_unit_name="X"),
        "stranger": stranger_ca.issue_cert(
            "sas.test.example", common_name="sas.test.example", organization_unit_name="SAS"
        ),
    }


@pytest.fixture(scope="module")
def app_port(database_url):
    port = free_port()
    env = {
        "ORIENTATION_DATABASE_URL": database_url,
        "ORIENTATION_FHIR_CLIENT_AUTH": "proxy",
        "ORIENTATION_FHIR_TRUSTED_PROXIES": PROXY_SOURCE,
        "ORIENTATION_FHIR_ALLOWED_SUBJECTS": SAS_SUBJECT,
        "ORIENTATION_TRUST_FORWARDED_FOR": "true",
        "ORIENTATION_TRUSTED_PROXIES": PROXY_SOURCE,
    }
    with serving("--port", str(port), url=f"http://127.0.0.1:{port}", **env):
        yield port


@pytest.fixture(scope="module")
def nginx(pki, app_port):
    prefix = Path(tempfile.mkdtemp(prefix="orientation-nginx-"))
    try:
        (prefix / "tmp").mkdir()
        pki["server"].private_key_and_cert_chain_pem.write_to_path(str(prefix / "server.pem"))
        pki["sas_ca"].cert_pem.write_to_path(str(prefix / "sas-ca.pem"))
        port = free_port()
        rendered = Template(TEMPLATE.read_text(encoding="utf-8")).safe_substitute(
            SERVER_NAME="localhost",
            LISTEN=f"127.0.0.1:{port}",
            TLS_CERTIFICATE=str(prefix / "server.pem"),
            TLS_CERTIFICATE_KEY=str(prefix / "server.pem"),
            SAS_CLIENT_CA=str(prefix / "sas-ca.pem"),
            APP_UPSTREAM=f"127.0.0.1:{app_port}",
            PROXY_SOURCE=PROXY_SOURCE,
        )
        assert "${" not in rendered.split("# Plain HTTP")[0].split("upstream orientation_app")[1]
        (prefix / "orientation.conf").write_text(rendered, encoding="utf-8")
        (prefix / "nginx.conf").write_text(MAIN_CONF.format(prefix=prefix), encoding="utf-8")
        if os.geteuid() == 0:
            for path in [prefix, *prefix.rglob("*")]:
                os.chown(path, pwd.getpwnam("nobody").pw_uid, -1)
        command = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
        checked = subprocess.run([*command, "-t"], capture_output=True, text=True, **_unprivileged())
        assert checked.returncode == 0, checked.stderr
        process = subprocess.Popen(
            [*command, "-g", "daemon off;"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **_unprivileged()
        )
        try:
            _wait_for(port, process, prefix)
            yield {"port": port, "prefix": prefix}
        finally:
            process.terminate()
            process.wait(10)
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def _wait_for(port: int, process: subprocess.Popen, prefix: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(f"https://127.0.0.1:{port}/healthz", verify=False, timeout=1)
            return
        except httpx.TransportError:
            if process.poll() is not None:
                raise AssertionError((prefix / "error.log").read_text(errors="replace")) from None
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.1)


def _client(pki, cert: str | None) -> httpx.Client:
    context = ssl.create_default_context()
    pki["server_ca"].configure_trust(context)
    if cert is not None:
        pki[cert].configure_cert(context)
    return httpx.Client(verify=context, timeout=10)


FORGED = {"X-SSL-Client-Verify": "SUCCESS", "X-SSL-Client-S-DN": SAS_SUBJECT}


def test_the_sas_certificate_reaches_fhir_through_nginx(pki, nginx):
    with _client(pki, "sas") as client:
        response = client.get(f"https://localhost:{nginx['port']}/fhir/metadata")
    assert response.status_code == 200, response.text
    assert response.json()["resourceType"] == "CapabilityStatement"


def test_without_a_certificate_fhir_is_refused_and_forged_headers_change_nothing(pki, nginx):
    url = f"https://localhost:{nginx['port']}/fhir/metadata"
    with _client(pki, None) as client:
        assert client.get(url).status_code == 403
        assert client.get(url, headers=FORGED).status_code == 403
        # The pages need no certificate: browsers reach them over the same TLS.
        assert client.get(f"https://localhost:{nginx['port']}/healthz").status_code == 200


def test_a_certificate_of_another_authority_or_another_subject_is_refused(pki, nginx):
    url = f"https://localhost:{nginx['port']}/fhir/metadata"
    with _client(pki, "stranger") as client:
        assert client.get(url, headers=FORGED).status_code == 400  # nginx: not signed by the SAS's CA
    with _client(pki, "other") as client:
        refused = client.get(url, headers=FORGED)
    assert refused.status_code == 403  # verified by nginx, but not on the app's allow-list
    assert refused.json()["resourceType"] == "OperationOutcome"


def test_a_direct_client_forging_the_identity_headers_is_ignored(app_port, nginx):
    response = httpx.get(f"http://127.0.0.1:{app_port}/fhir/metadata", headers=FORGED, timeout=10)
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"
