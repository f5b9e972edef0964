from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.templating import Jinja2Templates

from app.core.identifiers import french_phone
from app.doctors.professions import PROFESSIONS, display_name
from app.notifications.delivery import state_label as message_state
from app.web.labels import french_number, label, of_name, plural

PARIS = ZoneInfo("Europe/Paris")

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def paris_time(value) -> str:
    """Times are stored in UTC and shown in Europe/Paris."""
    return value.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M") if value else ""


def paris_hm(value) -> str:
    """The hour and minute in Europe/Paris."""
    return value.astimezone(PARIS).strftime("%H:%M") if value else ""


def french_date(value) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


templates.env.filters["paris_time"] = paris_time
templates.env.filters["paris_hm"] = paris_hm
templates.env.filters["french_phone"] = french_phone
templates.env.filters["french_date"] = french_date
templates.env.filters["french_number"] = french_number
templates.env.filters["plural"] = plural
templates.env.filters["of_name"] = of_name
templates.env.filters["label"] = label
templates.env.filters["message_state"] = message_state
# A practitioner record (app.doctors.models.Doctor) as named to a coordinator: "Dr …" for a doctor.
templates.env.filters["practitioner"] = lambda d: display_name(d.profession, d.given_name, d.family_name)
templates.env.globals["professions"] = PROFESSIONS
