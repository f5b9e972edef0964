"""The national directory's import (issue 17, item 1): the RPPS extraction in its real format,
read as a stream, the CPTS's GPs upserted by RPPS, the gone removed, a report without names."""

import gzip
import io
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from app.accounts.principal import operator
from app.audit.models import AuditEvent
from app.core.database import for_writing
from app.core.errors import Unprocessable
from app.demo import GRAND_ARRAS_COMMUNES
from app.directory import service
from app.directory.extraction import HEADER
from app.directory.models import DirectoryImport, DirectoryPractice, DirectoryPractitioner
from app.doctors.models import Doctor
from app.geocoding.service import build_geocoding_service
from tests.fakes.ban import BanAddress
from tests.helpers.cli import run
from tests.helpers.scoped_queries import scoped_reads_guard

pytestmark = pytest.mark.usefixtures("demo_territories")

SAMPLE = Path(__file__).parent / "data" / "annuaire-sante-extrait.txt"
# The sample's GPs practising in the Grand Arras (tests/data/annuaire-sante-extrait.txt):
MARTIN, LEFEBVRE, MOREAU, GIRARD = "10000005016", "10000005024", "10000005040", "10000005081"
FOURNIER, LAMBERT, BERNARD = "10000005099", "10000005107", "10000005149"
GRAND_ARRAS = {MARTIN, LEFEBVRE, MOREAU, GIRARD, FOURNIER, LAMBERT, BERNARD}
GRAND_ARRAS_INSEE = set(GRAND_ARRAS_COMMUNES)
BLANC = "10000005131"  # Rousset: Provence Santé
DUBOIS = "10000005032"  # Lens only: outside every CPTS
# Names in the sample: a report or a log line must never carry them.
NAMES = ("MARTIN", "LEFEBVRE", "COUPE", "FAUX", "ALAIN", "CLAIRE", "DUBOIS")


@pytest.fixture
def sessions(engine):
    return sessionmaker(bind=for_writing(engine), expire_on_commit=False)


def _import(sessions, geocoding, content: bytes, territory: str | None = "grand-arras", **options):
    return service.import_directory(
        sessions,
        geocoding,
        operator(),
        io.BytesIO(content),
        "PS_LibreAcces_Personne_activite.txt",
        territory=territory,
        **options,
    )


def _directory(sessions, slug: str = "grand-arras") -> dict[str, DirectoryPractitioner]:
    from app.territories.models import Territory

    with sessions() as session:
        territory = session.scalars(select(Territory).where(Territory.slug == slug)).one()
        rows = session.scalars(select(DirectoryPractitioner).where(DirectoryPractitioner.territory_id == territory.id))
        return {p.rpps: p for p in rows}


def _without(text: str, rpps: str) -> str:
    return "\n".join(line for line in text.split("\n") if f"|{rpps}|" not in line)


def test_the_command_keeps_the_grand_arras_gps_and_nothing_outside(database_url, sessions):
    done = run(database_url, "directory", "import", str(SAMPLE), "--territory", "grand-arras")
    assert done.returncode == 0, done.stderr
    directory = _directory(sessions)
    assert set(directory) == GRAND_ARRAS
    assert _directory(sessions, "provence-sante") == {}  # only the CPTS asked for
    # A doctor with two practices is one practitioner with two practices.
    assert sorted(p.insee_code for p in directory[LEFEBVRE].practices) == ["62004", "62041"]
    # Practising in Tilloy and in Lille: kept, with the Tilloy practice only.
    assert [(p.insee_code, p.city) for p in directory[MOREAU].practices] == [("62817", "Tilloy-lès-Mofflaines")]
    # No commune code, only "62000 ARRAS" in the Bureau cedex: Arras.
    assert [(p.insee_code, p.postcode, p.address) for p in directory[GIRARD].practices] == [
        ("62041", "62000", "15 Rue SAINT-AUBERT")
    ]
    martin = directory[MARTIN]
    assert (martin.civility, martin.family_name, martin.know_how_code) == ("Docteur", "MARTIN", "SM53")
    practice = martin.practices[0]
    assert (practice.address, practice.phone, practice.mode) == ("3 Rue PASTEUR", "+33321000000", "L")
    assert practice.structure_name == "CABINET DU DR MARTIN"
    assert practice.latitude is not None and practice.precision == "municipality"  # no BAN: the centroid
    assert directory[LAMBERT].practices[0].address == "CENTRE DE SANTE DES HAUTS"  # no street: its place
    assert directory[BERNARD].practices[0].address == "10 b Rue DE LA PAIX"
    assert directory[FOURNIER].know_how_code == "SM26"  # an older qualification
    emails = {p.insee_code: p.email for p in directory[LEFEBVRE].practices}
    assert emails == {"62041": "claire.lefebvre@medecins.example.fr", "62004": None}
    # The report, in French: counts, RPPS numbers and line numbers; never a name.
    out = done.stdout
    assert "17 lignes lues" in out and "7 ajouté(s), 0 modifié(s), 0 inchangé(s), 0 parti(s)" in out
    assert "2 ligne(s) illisible(s)" in out
    assert "ligne 14 : 19 champs au lieu de 52" in out
    assert "ligne 15 : numéro RPPS invalide" in out
    assert MARTIN in out and not any(name in out + done.stderr for name in NAMES)
    with sessions() as session:
        report = session.scalars(select(DirectoryImport)).one()
        assert (report.added, report.unreadable, report.lines_read, report.finished_at is not None) == (7, 2, 17, True)
        assert not any(name in str(report.details) for name in NAMES)
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "directory.import")).one()
        assert (event.object_type, event.object_id) == ("directory_import", str(report.id))


def test_a_second_run_reports_one_gone_and_one_moved(sessions, settings, fake_ban):
    """…and the moved doctor's new address alone is geocoded (the BAN, then its cache)."""
    fake_ban.addresses = [
        BanAddress("pasteur", "3 Rue Pasteur 62000 Arras", "3", "Rue Pasteur", "62000", "62041", "Arras", 2.78, 50.29),
        BanAddress(
            "gambetta", "25 Rue Gambetta 62000 Arras", "25", "Rue Gambetta", "62000", "62041", "Arras", 2.77, 50.28
        ),
    ]
    geocoding = build_geocoding_service(settings.model_copy(update={"ban_url": fake_ban.url}), sessions)
    text = SAMPLE.read_text(encoding="utf-8")
    first = _import(sessions, geocoding, text.encode())[0]
    assert (first.added, first.changed, first.unchanged, first.gone) == (7, 0, 0, 0)
    placed = _directory(sessions)[MARTIN].practices[0]
    assert (placed.latitude, placed.longitude, placed.precision) == (50.29, 2.78, "housenumber")
    asked = len(fake_ban.requests)
    assert asked == 8  # one question per practice address

    moved = _without(text, FOURNIER).replace("|3||R|Rue|PASTEUR|", "|25||R|Rue|GAMBETTA|")
    second = _import(sessions, geocoding, moved.encode())[0]
    assert (second.added, second.changed, second.unchanged, second.gone) == (0, 1, 5, 1)
    assert (second.changed_rpps, second.gone_rpps, second.added_rpps) == ([MARTIN], [FOURNIER], [])
    assert len(fake_ban.requests) == asked + 1  # the new address only
    directory = _directory(sessions)
    assert set(directory) == GRAND_ARRAS - {FOURNIER}
    now = directory[MARTIN].practices[0]
    assert (now.address, now.latitude, now.longitude) == ("25 Rue GAMBETTA", 50.28, 2.77)
    with sessions() as session:  # the gone doctor's practices went with it
        assert session.scalars(select(DirectoryPractice).where(DirectoryPractice.address.like("%SCARPE%"))).all() == []
    third = _import(sessions, geocoding, moved.encode())[0]
    assert (third.added, third.changed, third.unchanged, third.gone) == (0, 0, 6, 0)
    assert len(fake_ban.requests) == asked + 1


def test_every_cpts_of_the_deployment_by_default(sessions, geocoding):
    reports = {r.territory_name: r for r in _import(sessions, geocoding, SAMPLE.read_bytes(), territory=None)}
    assert set(_directory(sessions)) == GRAND_ARRAS
    assert set(_directory(sessions, "provence-sante")) == {BLANC}
    assert reports["CPTS Provence Santé"].added == 1
    # The line nobody could read is told to every CPTS; a GP's invalid RPPS, to its own only.
    assert [p.line for p in reports["CPTS Provence Santé"].unreadable_lines] == [14]
    assert [p.line for p in reports["CPTS du Grand Arras"].unreadable_lines] == [14, 15]
    assert DUBOIS not in _directory(sessions) | _directory(sessions, "provence-sante")


def test_unreadable_lines_are_counted_with_their_number_and_never_stop_the_import(sessions, geocoding):
    good = SAMPLE.read_bytes().split(b"\n")
    martin_line = next(raw for raw in good if MARTIN.encode() in raw)
    content = b"\n".join(
        [
            good[0],
            martin_line.replace(b"PASTEUR", b"PAST\xffEUR"),  # line 2: not UTF-8
            martin_line.replace(b"PASTEUR", b"PAST\x00EUR"),  # line 3: a NUL byte
            martin_line + b"extra|",  # line 4: one field too many
            b"",  # line 5: blank, skipped
            b"x" * 70_000,  # line 6: far too long to be a line
            martin_line[:-1],  # line 7: without its trailing "|": still whole
        ]
    )
    report = _import(sessions, geocoding, content)[0]
    assert report.lines_read == 6 and report.added == 1
    assert [(p.line, p.reason) for p in report.unreadable_lines] == [
        (2, "encodage invalide (UTF-8 attendu)"),
        (3, "caractère nul"),
        (4, "53 champs au lieu de 52"),
        (6, "ligne trop longue"),
    ]
    assert report.unreadable == 4


def test_columns_are_read_by_name_so_newer_files_with_more_columns_are_read(sessions, geocoding):
    text = SAMPLE.read_text(encoding="utf-8").strip("\n").split("\n")
    extended = [text[0] + "Code rôle|Libellé rôle|Code genre activité|"] + [row + "|||" for row in text[1:]]
    report = _import(sessions, geocoding, "\n".join(extended).encode())[0]
    assert (report.added, report.unreadable) == (7, 2)
    assert set(_directory(sessions)) == GRAND_ARRAS


def test_the_zip_the_ans_publishes_and_a_gz_are_read_as_they_are(sessions, geocoding):
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("PS_LibreAcces_Dipl_AutExerc_202612040000.txt", "autre|fichier|\n")
        archive.write(SAMPLE, "PS_LibreAcces_Personne_activite_202612040000.txt")
    assert _import(sessions, geocoding, packed.getvalue())[0].added == 7
    again = _import(sessions, geocoding, gzip.compress(SAMPLE.read_bytes()))[0]
    assert (again.added, again.unchanged) == (0, 7)


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40,
        b"\xff\xfeR\x00P\x00P\x00S\x00",  # UTF-16
        "RPPS;Nom;Prénom\n10000005016;MARTIN;PAUL\n".encode(),  # a CSV of doctors
        b"",
    ],
    ids=["png", "utf16", "csv", "empty"],
)
def test_a_file_that_is_not_the_extraction_is_refused_in_french_and_nothing_changes(sessions, geocoding, content):
    _import(sessions, geocoding, SAMPLE.read_bytes())
    with pytest.raises(Unprocessable) as refused:
        _import(sessions, geocoding, content)
    assert refused.value.message.startswith("Fichier illisible : l'extraction de l'Annuaire Santé est attendue")
    assert set(_directory(sessions)) == GRAND_ARRAS


def test_a_header_without_the_columns_it_needs_names_them(sessions, geocoding):
    header = HEADER.replace("Code commune (coord. structure)", "Commune")
    with pytest.raises(Unprocessable) as refused:
        _import(sessions, geocoding, f"{header}\n".encode())
    assert "colonnes absentes de l'en-tête : Code commune (coord. structure)." in refused.value.message


def test_a_broken_archive_or_a_failure_half_way_removes_nobody(sessions, geocoding, monkeypatch):
    _import(sessions, geocoding, SAMPLE.read_bytes())
    only_two = "\n".join([HEADER, *[row for row in SAMPLE.read_text().split("\n") if f"|{MARTIN}|" in row]])
    truncated = gzip.compress(only_two.encode())[:-30]
    with pytest.raises(Unprocessable, match="Fichier compressé illisible"):
        _import(sessions, geocoding, truncated)
    assert set(_directory(sessions)) == GRAND_ARRAS

    moved = SAMPLE.read_text().replace("|3||R|Rue|PASTEUR|", "|25||R|Rue|GAMBETTA|")
    moved = _without(_without(moved, GIRARD), FOURNIER)
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(service, "_update", failing)
    with pytest.raises(RuntimeError):
        _import(sessions, geocoding, moved.encode(), batch_size=2)
    assert calls and set(_directory(sessions)) == GRAND_ARRAS  # nobody removed
    with sessions() as session:
        latest = session.scalars(select(DirectoryImport).order_by(DirectoryImport.id.desc())).first()
        assert latest is not None and latest.finished_at is None  # shown as interrupted


def test_the_directory_never_writes_into_a_volunteer(sessions, geocoding, db, client, coordinator):
    from tests.factories import add_doctor

    doctor_id = add_doctor(client, coordinator, 1, "Arras", "62000")
    volunteer = db.get(Doctor, doctor_id)
    before = (volunteer.family_name, volunteer.given_name, volunteer.email, volunteer.updated_at)
    content = SAMPLE.read_text().replace(MARTIN, volunteer.rpps).replace("8" + MARTIN, "8" + volunteer.rpps)
    report = _import(sessions, geocoding, content.encode())[0]
    assert report.volunteers == 1 and volunteer.rpps in report.added_rpps
    db.expire_all()
    again = db.get(Doctor, doctor_id)
    assert (again.family_name, again.given_name, again.email, again.updated_at) == before
    assert _directory(sessions)[volunteer.rpps].family_name == "MARTIN"  # the directory's own record
    with sessions() as session:  # met on the RPPS, for display
        listed = service.practitioners_with_volunteers(session, operator(), volunteer.territory_id)
    assert [(p.rpps, doctor) for p, doctor in listed if doctor is not None] == [(volunteer.rpps, doctor_id)]
    assert len(listed) == 7 and [p.family_name for p, _ in listed][:2] == ["BERNARD", "FOURNIER"]


def test_the_benchmark_s_generator_makes_a_file_the_import_reads(sessions, geocoding, tmp_path):
    """A tiny run of bench/bench_directory_import.py's file: mostly elsewhere in France."""
    from bench.bench_directory_import import write_extraction

    path = tmp_path / "national.txt"
    in_territory = write_extraction(path, lines=3000, in_territory=40)
    with path.open("rb") as raw:
        report = service.import_directory(sessions, geocoding, operator(), raw, path.name, territory="grand-arras")[0]
    assert report.lines_read == 3000 and report.added == in_territory
    assert report.unreadable == 0


# ---- The page ---------------------------------------------------------------------------------


def test_the_coordinator_uploads_the_extraction_on_the_page_and_sees_the_report(client, demo, sessions):
    from tests.helpers.workspace import COORDINATOR, PROFESSIONAL, csrf_of, sign_in

    sign_in(client, COORDINATOR)
    page = client.get("/espace/annuaire")
    assert page.status_code == 200 and "Aucun import pour l'instant." in page.text.replace("&#39;", "'")
    token = csrf_of(page.text)
    files = {"file": ("PS_LibreAcces_Personne_activite_202612040000.txt", SAMPLE.read_bytes(), "text/plain")}
    with scoped_reads_guard() as guard:  # every read of the directory's tables through visibility
        done = client.post("/espace/annuaire/import", data={"csrf_token": token}, files=files)
        again = client.post("/espace/annuaire/import", data={"csrf_token": token}, files=files)
    assert guard.violations == [] and guard.reads > 0
    assert done.status_code == 200, done.text
    assert "0 médecin(s) ajouté(s), 0 modifié(s), 7 inchangé(s)" in again.text
    text = done.text.replace("&#39;", "'")
    assert "17 ligne(s) lue(s) : 7 médecin(s) ajouté(s), 0 modifié(s), 0 inchangé(s), 0 parti(s)" in text
    assert MARTIN in text and "19 champs au lieu de 52" in text
    assert not any(name in text for name in NAMES)
    assert set(_directory(sessions)) == GRAND_ARRAS  # the caller's CPTS only
    assert "PS_LibreAcces_Personne_activite_202612040000.txt" in client.get("/espace/annuaire").text
    # A binary file: a French error on the page, never a 5xx, nothing changed.
    binary = {"file": ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)) * 8, "image/png")}
    refused = client.post("/espace/annuaire/import", data={"csrf_token": token}, files=binary)
    assert refused.status_code == 422
    assert "Fichier illisible : l'extraction de l'Annuaire Santé est attendue" in refused.text.replace("&#39;", "'")
    assert set(_directory(sessions)) == GRAND_ARRAS
    empty = client.post("/espace/annuaire/import", data={"csrf_token": token})
    assert empty.status_code == 422 and "Choisissez le fichier" in empty.text
    forged = client.post("/espace/annuaire/import", data={"csrf_token": "x"}, files=files)
    assert forged.status_code == 403
    sign_in(client, PROFESSIONAL)
    assert client.get("/espace/annuaire").status_code == 403


def test_the_upload_has_its_own_cap(settings, engine, demo):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.helpers.workspace import COORDINATOR, csrf_of, sign_in

    app = create_app(settings.model_copy(update={"directory_upload_max_bytes": 4096}))
    with TestClient(app) as small:
        sign_in(small, COORDINATOR)
        token = csrf_of(small.get("/espace/annuaire").text)
        files = {"file": ("big.txt", SAMPLE.read_bytes(), "text/plain")}  # ~7 kB
        assert small.post("/espace/annuaire/import", data={"csrf_token": token}, files=files).status_code == 413
        # …above the other pages' cap (256 kB) all the same, by default:
        assert settings.directory_upload_max_bytes > settings.max_body_bytes
    app.state.engine.dispose()


def test_the_demo_s_directory_has_every_volunteer_and_thirty_more_gps_of_the_grand_arras(sessions, geocoding, demo):
    from app.directory.demo import load_demo_directory

    reports = {r.territory_name: r for r in load_demo_directory(sessions, geocoding)}
    with sessions() as session:
        volunteers = {d.rpps: d.territory_id for d in session.scalars(select(Doctor))}
    arras, provence = _directory(sessions), _directory(sessions, "provence-sante")
    assert volunteers and all(rpps in arras or rpps in provence for rpps in volunteers)
    others = set(arras) - set(volunteers)
    assert len(others) == 30
    assert sum(1 for rpps in others for p in arras[rpps].practices if p.email) >= 3
    assert all(p.insee_code in GRAND_ARRAS_INSEE for r in arras.values() for p in r.practices)
    assert reports["CPTS du Grand Arras"].volunteers == sum(
        1 for rpps in volunteers if rpps in arras
    )  # matched on the RPPS
    again = load_demo_directory(sessions, geocoding)
    assert [(r.added, r.changed, r.gone) for r in again] == [(0, 0, 0), (0, 0, 0)]
