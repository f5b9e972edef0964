"""/fhir demands the SAS platform's client certificate when configured: verified by uvicorn
itself (a real TLS server on loopback, with our own CA made by trustme), or by a trusted
reverse proxy that passes the certificate's subject."""

import ssl

import httpx
import pytest
import trustme
from fastapi.testclient import TestClient

from app.main import create_app
from tests.browser import running_server

SUBJECT = "CN=sas.sante.fr,OU=SAS"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    ca, stranger = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    files = {"ca": folder / "ca.pem", "server": folder / "server.pem"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    server.private_key_and_cert_chain_pem.write_to_path(str(files["server"]))
    for name, issuer, cn, ou in [
        ("sas", ca, "sas.sante.fr", "SAS"),
        ("other", ca, "intrus.example.fr", "SAS"),
        ("stranger", stranger, "sas.sante.fr", "SAS"),
    ]:
        cert = issuer.issue_cert(cn, common_name=cn, organization_unit_name=ou)
        files[name] = folder / f"{name}.pem"
        cert.private_key_and_cert_chain_pem.write_to_path(str(files[name]))
    return files


@pytest.fixture(scope="module")
def tls_server(database_url, pki, engine):
    """One server for the module: its tests only read /healthz and /fhir/metadata."""
    env = {
        "ORIENTATION_TLS_CERTFILE": str(pki["server"]),
        "ORIENTATION_TLS_CLIENT_CA_FILE": str(pki["ca"]),
        "ORIENTATION_FHIR_CLIENT_AUTH": "tls",
        "ORIENTATION_FHIR_ALLOWED_SUBJECTS": SUBJECT,
    }
    with running_server(database_url, env, tls=_context(pki)) as base:
        yield base


def _context(pki, client: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki["ca"]))
    if client:
        context.load_cert_chain(str(pki[client]))
    return context


def test_uvicorn_verifies_the_platforms_certificate_and_its_subject(tls_server, pki):
    metadata = f"{tls_server}/fhir/metadata"
    allowed = httpx.get(metadata, verify=_context(pki, "sas"))
    assert allowed.status_code == 200 and allowed.json()["resourceType"] == "CapabilityStatement"

    nobody = httpx.get(metadata, verify=_context(pki))
    assert nobody.status_code == 401 and nobody.json()["resourceType"] == "OperationOutcome"
    other = httpx.get(metadata, verify=_context(pki, "other"))
    assert other.status_code == 403
    # The web pages and the API stay reachable without a certificate.
    assert httpx.get(f"{tls_server}/healthz", verify=_context(pki)).status_code == 200


def test_a_certificate_from_another_authority_fails_the_handshake(tls_server, pki):
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        httpx.get(f"{tls_server}/fhir/metadata", verify=_context(pki, "stranger"))


@pytest.fixture
def proxied(settings, engine):
    def make(trusted: str) -> TestClient:
        app = create_app(
            settings.model_copy(
                update={
                    "fhir_client_auth": "proxy",
                    "fhir_allowed_subjects": f"CN=other;{SUBJECT}",
                    "fhir_trusted_proxies": trusted,
                }
            )
        )
        return TestClient(app)

    return make


def test_a_trusted_proxy_passes_the_verified_subject(proxied):
    client = proxied("testclient")  # TestClient's own address
    headers = {"X-SSL-Client-Verify": "SUCCESS", "X-SSL-Client-S-DN": "CN=sas.sante.fr,OU=SAS,O=ANS,C=FR"}
    assert client.get("/fhir/metadata", headers=headers).status_code == 200
    assert (
        client.get("/fhir/metadata", headers=headers | {"X-SSL-Client-Verify": "FAILED:unknown ca"}).status_code == 401
    )
    assert (
        client.get("/fhir/metadata", headers=headers | {"X-SSL-Client-S-DN": "CN=sas.sante.fr,OU=Autre"}).status_code
        == 403
    )
    assert client.get("/fhir/metadata").status_code == 401


def test_the_subject_header_is_ignored_from_an_untrusted_address(proxied):
    client = proxied("10.0.0.1")
    headers = {"X-SSL-Client-Verify": "SUCCESS", "X-SSL-Client-S-DN": SUBJECT}
    assert client.get("/fhir/metadata", headers=headers).status_code == 401
