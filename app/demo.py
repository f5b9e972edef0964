"""The demo deployment: the two CPTS of the source documents, with their exact communes.

Running it again changes nothing; later issues add doctors and slots here."""

from sqlalchemy.orm import Session

from app.territories import repository, service
from app.territories.communes import CommuneIndex
from app.territories.schemas import CommuneByName, TerritoryCreate, TerritoryUpdate

# CPTS du Grand Arras: 32 communes, INSEE codes from the project's §1.1 (seeds/000_…).
GRAND_ARRAS_COMMUNES = [
    "62041",
    "62004",
    "62753",
    "62263",
    "62099",
    "62764",
    "62861",
    "62744",
    "62037",
    "62013",
    "62609",
    "62718",
    "62073",
    "62817",
    "62810",
    "62323",
    "62712",
    "62869",
    "62042",
    "62331",
    "62097",
    "62714",
    "62892",
    "62582",
    "62369",
    "62324",
    "62332",
    "62689",
    "62290",
    "62135",
    "62425",
    "62085",
]

# CPTS Provence Santé: 12 communes given by name and postcode (seeds/003_… §2.1).
# The document gives Peynier as 13720; La Poste serves Peynier with 13790 (13720 is
# Belcodène and La Bouilladisse), so the pair is written with the postcode that exists.
PROVENCE_SANTE_COMMUNES = [
    ("13480", "Cabriès"),
    ("13320", "Bouc-Bel-Air"),
    ("13109", "Simiane-Collongue"),
    ("13120", "Gardanne"),
    ("13105", "Mimet"),
    ("13850", "Gréasque"),
    ("13590", "Meyreuil"),
    ("13710", "Fuveau"),
    ("13790", "Châteauneuf-le-Rouge"),
    ("13790", "Rousset"),
    ("13790", "Peynier"),
    ("13530", "Trets"),
]

# Fictional FINESS numbers (valid keys): the real ones are not in the documents.
DEMO_TERRITORIES = [
    TerritoryCreate(
        slug="grand-arras",
        name="CPTS du Grand Arras",
        finess="620000018",
        phone="03 21 00 00 01",
        email="coordination@cpts-grand-arras.example.fr",
        communes=GRAND_ARRAS_COMMUNES,
    ),
    TerritoryCreate(
        slug="provence-sante",
        name="CPTS Provence Santé",
        finess="130000011",
        phone="04 42 00 00 01",
        email="coordination@cpts-provence-sante.example.fr",
        communes=[CommuneByName(postcode=p, name=n) for p, n in PROVENCE_SANTE_COMMUNES],
    ),
]


def load_demo(session: Session, communes: CommuneIndex) -> list[str]:
    """Creates the demo territories, or puts them back as they should be. Returns what it did."""
    done = []
    for spec in DEMO_TERRITORIES:
        existing = repository.get_by_slug(session, spec.slug)
        if existing is None:
            territory = service.create_territory(session, spec, communes)
            done.append(f"created {territory.slug} ({len(territory.communes)} communes)")
            continue
        wanted = service.resolve_communes(spec.communes, communes)
        if sorted(wanted) != sorted(existing.insee_codes) or existing.name != spec.name:
            update = TerritoryUpdate(name=spec.name, communes=spec.communes)
            service.update_territory(session, spec.slug, update, communes)
            done.append(f"updated {spec.slug}")
        else:
            done.append(f"unchanged {spec.slug}")
    session.commit()  # a builder run as a script (the CLI, tests): the services leave committing to it
    return done
