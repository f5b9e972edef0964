"""The bundled table of French communes and its lookups (no database, no network)."""

import time
from pathlib import Path

import pytest

from app.territories.communes import get_commune_index, normalize_name

DATA_FILE = Path(__file__).resolve().parents[1] / "app" / "territories" / "data" / "communes.csv.gz"


@pytest.fixture(scope="module")
def communes():
    return get_commune_index()


def codes(found) -> list[str]:
    return [c.insee for c in found]


def test_every_commune_and_the_arrondissements_are_there_in_a_compact_file(communes):
    assert len(communes) > 34_000
    arrondissements = [c for c in (communes.get(f"{p}") for p in [
        *(f"751{n:02d}" for n in range(1, 21)), *(f"6938{n}" for n in range(1, 10)),
        *(f"132{n:02d}" for n in range(1, 17)),
    ]) if c]  # fmt: skip
    assert len(arrondissements) == 45
    assert DATA_FILE.stat().st_size < 3_000_000


def test_lookup_by_insee_code(communes):
    arras = communes.get("62041")
    assert (arras.name, arras.department) == ("Arras", "62")
    assert arras.latitude == pytest.approx(50.29, abs=0.05)
    assert arras.longitude == pytest.approx(2.77, abs=0.05)
    assert communes.get("2a004").name == "Ajaccio"
    assert communes.get("2A004").department == "2A"
    assert communes.get("13201").parent_insee == "13055"
    assert "75001" in communes.get("75056").postcodes
    assert communes.get("99999") is None


def test_postcode_serving_several_communes(communes):
    assert set(codes(communes.by_postcode("62217"))) == {
        "62004", "62013", "62099", "62568", "62611", "62817", "62869"
    }  # fmt: skip
    assert {"13087", "13025"} <= set(codes(communes.by_postcode("13790")))
    assert communes.by_postcode("00000") == []


def test_city_with_arrondissements_is_served_through_them(communes):
    assert codes(communes.by_postcode("75001")) == ["75101"]
    assert codes(communes.match("13001", "Marseille")) == ["13201"]


@pytest.mark.parametrize(
    ("postcode", "written", "insee"),
    [
        ("62217", "tilloy les mofflaines", "62817"),
        ("62217", "TILLOY-LEZ-MOFFLAINES", "62817"),
        ("62217", "Mercatel", "62568"),
        ("62000", "ARRAS", "62041"),
        ("62223", "St Laurent Blangy", "62753"),
        ("62223", "ste catherine", "62744"),
        ("62118", "Roeux", "62718"),
    ],
)
def test_match_tolerates_the_ways_people_write_a_commune(communes, postcode, written, insee):
    assert codes(communes.match(postcode, written)) == [insee]


def test_match_outside_the_postcode_finds_nothing(communes):
    assert communes.match("62217", "Arras") == []


def test_former_commune_name_finds_the_commune_it_merged_into(communes):
    merged = next(c for c in communes.find_by_name("Aurseulles"))
    former = merged.aliases[0]
    assert merged.insee in codes(communes.match(merged.postcodes[0], former))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Saint-Laurent-Blangy", "saint laurent blangy"),
        ("ST LAURENT BLANGY", "saint laurent blangy"),
        ("Ste-Catherine", "sainte catherine"),
        ("Rœux", "roeux"),
        ("Tilloy-lès-Mofflaines", "tilloy les mofflaines"),
        ("  L'Abergement-Clémenciat ", "l abergement clemenciat"),
    ],
)
def test_normalize_name(text, expected):
    assert normalize_name(text) == expected


def test_search_for_the_picker(communes):
    assert codes(communes.search("arr"))[0] == "62041"
    assert codes(communes.search("mofflaines")) == ["62817"]
    assert codes(communes.search("62041"))[0] == "62041"
    assert all(any(p.startswith("6221") for p in c.postcodes) for c in communes.search("6221"))
    assert "62753" in codes(communes.search("st-laurent-bl"))
    assert len(communes.search("saint", limit=7)) == 7
    assert communes.search("   ") == []


def test_lookups_are_fast_enough_to_run_on_every_keystroke(communes):
    communes.search("warm-up")  # the prefix index is built on first search
    started = time.perf_counter()
    for _ in range(10_000):
        communes.match("62217", "tilloy les mofflaines")
    assert time.perf_counter() - started < 0.5  # ~5 µs each here; a table scan would be ~ms
    started = time.perf_counter()
    for _ in range(1_000):
        communes.search("sain")
    assert time.perf_counter() - started < 5  # ~1 ms each here
