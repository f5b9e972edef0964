"""Who may do what: the one table of the roles' rights, and the few rules that also look at
the object. Endpoints (`require`), pages (`page_for`, the templates' `can`) and services ask
here instead of comparing roles; which rows a caller sees is `app.accounts.access`.

README's "Who may do what" table is generated from `PERMISSIONS` (`markdown_table`), and a
test holds the two equal."""

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from app.accounts.models import Role
from app.core.errors import Forbidden, NotFound

if TYPE_CHECKING:  # principal.py's `require` reads this table
    from app.accounts.principal import Principal


class Action(StrEnum):
    MANAGE_TERRITORIES = "manage_territories"
    MANAGE_ACCOUNTS = "manage_accounts"
    READ_AUDIT = "read_audit"
    MANAGE_DOCTORS = "manage_doctors"
    EDIT_DOCTOR = "edit_doctor"
    EDIT_OWN_PRACTICE = "edit_own_practice"
    SUBMIT_REQUEST = "submit_request"
    READ_REQUESTS = "read_requests"
    LIST_OWN_SUBMISSIONS = "list_own_submissions"
    HANDLE_REQUESTS = "handle_requests"
    OFFER_PATIENT = "offer_patient"
    READ_INDICATORS = "read_indicators"
    READ_DOCTOR_RATES = "read_doctor_rates"
    MANAGE_SOURCES = "manage_sources"
    SEE_SLOTS = "see_slots"
    MANAGE_SLOTS = "manage_slots"
    CANCEL_BOOKING = "cancel_booking"
    MANAGE_CPTS_SLOTS = "manage_cpts_slots"
    MANAGE_CENTRES = "manage_centres"
    SEARCH_SLOTS = "search_slots"
    BOOK_SLOT = "book_slot"
    BOOK_SLOT_FROM_SAS = "book_slot_from_sas"
    EXERCISE_RIGHTS = "exercise_rights"
    READ_TERRITORY = "read_territory"
    RECRUIT_DOCTORS = "recruit_doctors"
    IMPORT_DIRECTORY = "import_directory"
    RECORD_WALK_IN = "record_walk_in"
    LOG_CALL = "log_call"


@dataclass(frozen=True)
class Permission:
    roles: frozenset[Role]
    what: str  # for README's table
    # Roles for which the action's routes do not exist (404, not 403): the secretariat learns
    # nothing of médecin-traitant requests, not even that the pages are there.
    hidden_from: frozenset[Role] = frozenset()


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


MANAGERS = _roles(Role.ADMIN, Role.COORDINATOR)
SUBMITTERS = _roles(Role.PROFESSIONAL, Role.CPAM)  # the requests they submitted, and those only
# The médecin-traitant requests are none of the secretariat's business: their routes are 404 to it.
NOT_FOR_SECRETARIAT = _roles(Role.SECRETARIAT)
# Who sees every patient of a CPTS: when REQUIRE_SECOND_FACTOR is set, these roles reach
# nothing before a second factor (app/accounts/second_factor.py).
SECOND_FACTOR_ROLES = MANAGERS

PERMISSIONS: dict[Action, Permission] = {
    Action.MANAGE_TERRITORIES: Permission(_roles(Role.ADMIN), "create and change a CPTS"),
    Action.MANAGE_ACCOUNTS: Permission(
        MANAGERS,
        "list, create or invite, edit, deactivate and reactivate accounts (a coordinator: in its CPTS, never an admin)",
    ),
    Action.READ_AUDIT: Permission(MANAGERS, "read the audit trail (a coordinator: its CPTS's)"),
    Action.MANAGE_DOCTORS: Permission(
        MANAGERS, "register, import, deactivate doctors; confirmation links and reminders; take a place"
    ),
    Action.EDIT_DOCTOR: Permission(
        MANAGERS | {Role.DOCTOR}, "read and edit a doctor's record and availability (a doctor: its own)"
    ),
    Action.EDIT_OWN_PRACTICE: Permission(_roles(Role.DOCTOR), "its own practice's page (`/espace/mon-cabinet`)"),
    Action.SUBMIT_REQUEST: Permission(
        MANAGERS | SUBMITTERS,
        "submit a request for a patient, attesting consent (the CPAM: for its insured, credited to its CPAM source)",
        NOT_FOR_SECRETARIAT,
    ),
    Action.READ_REQUESTS: Permission(
        MANAGERS | SUBMITTERS,
        "read requests (a professional, the CPAM: those it submitted)",
        NOT_FOR_SECRETARIAT,
    ),
    Action.LIST_OWN_SUBMISSIONS: Permission(
        SUBMITTERS, "its submissions' page (`/espace/mes-demandes`)", NOT_FOR_SECRETARIAT
    ),
    Action.HANDLE_REQUESTS: Permission(
        MANAGERS, "the queue: suggestions, send the list, notes, transitions (match, close)", NOT_FOR_SECRETARIAT
    ),
    Action.OFFER_PATIENT: Permission(
        MANAGERS,
        "offer a patient to ranked doctors (its page), switch the automatic offers of its CPTS",
        NOT_FOR_SECRETARIAT,
    ),
    Action.READ_INDICATORS: Permission(MANAGERS, "indicators and exports"),
    Action.READ_DOCTOR_RATES: Permission(
        _roles(Role.COORDINATOR),
        "acceptance and response rates per doctor of its CPTS (indicators page and its exports): "
        "the coordination's, not the doctors' nor the deployment admin's",
    ),
    Action.MANAGE_SOURCES: Permission(MANAGERS, "flyer sources and their QR codes"),
    Action.SEE_SLOTS: Permission(
        MANAGERS | {Role.DOCTOR, Role.SECRETARIAT},
        "the board of slots and bookings (a doctor: its own; the secretariat: its CPTS's)",
    ),
    Action.MANAGE_SLOTS: Permission(
        MANAGERS | {Role.DOCTOR}, "see, publish and change slots, patterns and bookings (a doctor: its own)"
    ),
    Action.CANCEL_BOOKING: Permission(
        MANAGERS | {Role.DOCTOR, Role.SECRETARIAT},
        "cancel a booking (a doctor: on its own slots; the secretariat: its CPTS's)",
    ),
    Action.MANAGE_CPTS_SLOTS: Permission(MANAGERS, "publish for any doctor or centre of the CPTS"),
    Action.MANAGE_CENTRES: Permission(MANAGERS, "unscheduled-care centres"),
    Action.SEARCH_SLOTS: Permission(
        MANAGERS | {Role.SECRETARIAT}, "search free slots for a caller (doctors' first, the centre's as fallback)"
    ),
    Action.BOOK_SLOT: Permission(MANAGERS | {Role.SECRETARIAT}, "book a slot for a patient (API or booking page)"),
    Action.BOOK_SLOT_FROM_SAS: Permission(
        _roles(Role.REGULATOR), "book a slot visible to the SAS, on the booking page opened from the SAS only"
    ),
    Action.EXERCISE_RIGHTS: Permission(
        MANAGERS, "a person's rights: find, export, rectify and erase a person's records (`/espace/personnes`)"
    ),
    Action.READ_TERRITORY: Permission(
        MANAGERS, "the territory page: map of the CPTS's GPs, needs and coverage per commune (`/espace/territoire`)"
    ),
    Action.RECRUIT_DOCTORS: Permission(
        MANAGERS, "invite the directory's GPs to volunteer, approve or reject sign-ups, the six-month refresh campaign"
    ),
    Action.IMPORT_DIRECTORY: Permission(
        MANAGERS, "import the national directory (RPPS) into its CPTS, read the imports' reports (`/espace/annuaire`)"
    ),
    Action.RECORD_WALK_IN: Permission(
        MANAGERS | {Role.DOCTOR},
        "record a passage without a booking at a centre or a doctor's (FICHE 6's report; a doctor: its own)",
    ),
    Action.LOG_CALL: Permission(
        _roles(Role.COORDINATOR, Role.SECRETARIAT),
        "log a call to the CPTS's phone line: who, why, outcome; nothing about the caller (`/espace/appels`)",
    ),
}


def roles_for(action: Action) -> frozenset[Role]:
    return PERMISSIONS[action].roles


def allows(role: Role, action: Action) -> bool:
    return role in PERMISSIONS[action].roles


def may(principal: "Principal", action: Action) -> bool:
    return allows(principal.role, action)


def hidden(role: Role, action: Action) -> bool:
    """Whether this action's routes do not exist for this role (404 rather than 403)."""
    return role in PERMISSIONS[action].hidden_from


def refuse(role: Role, actions: "tuple[Action, ...] | list[Action]", message: str) -> NotFound | Forbidden:
    """The refusal of a caller none of whose roles' rights covers these actions: 404 when they
    are all hidden from its role, 403 otherwise."""
    if actions and all(hidden(role, a) for a in actions):
        return NotFound("Cette page n'existe pas.")
    return Forbidden(message)


def ensure(principal: "Principal", action: Action, message: str = "Votre rôle ne permet pas cette action.") -> None:
    """Raises Forbidden (403) unless the caller may do this (404 when hidden from its role)."""
    if not may(principal, action):
        raise refuse(principal.role, (action,), message)


# ---- Rules that look at the object ---------------------------------------------------------


def booking_action(origin: str) -> Action:
    """From the SAS (`origin` "sas") only the SAS regulation books; elsewhere the coordination."""
    return Action.BOOK_SLOT_FROM_SAS if origin == "sas" else Action.BOOK_SLOT


def may_book_slot(principal: "Principal", origin: str) -> bool:
    return may(principal, booking_action(origin))


def books_from_sas(principal: "Principal") -> bool:
    """Whether the caller's bookings come from the SAS (the regulation's accounts)."""
    return may(principal, Action.BOOK_SLOT_FROM_SAS)


def may_publish_for(principal: "Principal", doctor_id: int | None) -> bool:
    """A slot for this doctor (None: a centre). Which doctors and centres exist for the
    caller is visibility (app.accounts.access); this is whether it may publish for others."""
    if may(principal, Action.MANAGE_CPTS_SLOTS):
        return True
    return doctor_id is not None and doctor_id == principal.doctor_id and may(principal, Action.MANAGE_SLOTS)


def may_create_account(by: "Principal | None", role: Role, territory_ids: set[int]) -> bool:
    """`by` None: the deployment's operator at the command line. Coordinators add people to
    their own CPTS, never an admin."""
    if by is None or by.role is Role.ADMIN:
        return True
    return may(by, Action.MANAGE_ACCOUNTS) and role is not Role.ADMIN and territory_ids <= by.territory_ids


def may_change_account(principal: "Principal", role: Role) -> bool:
    """An admin's account is changed by an admin only."""
    return may(principal, Action.MANAGE_ACCOUNTS) and (role is not Role.ADMIN or principal.role is Role.ADMIN)


def works_in_every_cpts(principal: "Principal") -> bool:
    """An admin works for the whole deployment: its account lists and audit rows are every CPTS's."""
    return principal.role is Role.ADMIN


def switches_whole_account(principal: "Principal", account_territory_ids: frozenset[int]) -> bool:
    """Deactivating: an admin switches the whole account off; a coordinator only when every CPTS
    of the account is one of its (otherwise the account leaves the coordinator's CPTS alone)."""
    return principal.role is Role.ADMIN or account_territory_ids <= principal.territory_ids


def submitter_kind(principal: "Principal") -> str:
    """How a signed-in submission is labelled: by the coordination, the CPAM, or a professional."""
    if may(principal, Action.HANDLE_REQUESTS):
        return "coordinator"
    return "cpam" if principal.role is Role.CPAM else "professional"


def credits_organisation(submitted_by: str) -> bool:
    """A submission credited to the submitter's organisation (its source): a professional's
    (pharmacy, practice…) or the CPAM's."""
    return submitted_by in ("professional", "cpam")


# ---- README ---------------------------------------------------------------------------------


def markdown_table() -> str:
    """README's "Who may do what" table, generated from PERMISSIONS ("404": its routes do not
    exist for that role)."""
    roles = list(Role)
    lines = [
        "| action | what | " + " | ".join(f"`{r.value}`" for r in roles) + " |",
        "| --- | --- | " + " | ".join(":---:" for _ in roles) + " |",
    ]
    for action, permission in PERMISSIONS.items():
        marks = " | ".join(
            "✓" if r in permission.roles else "404" if r in permission.hidden_from else "" for r in roles
        )
        lines.append(f"| `{action.value}` | {permission.what} | {marks} |")
    return "\n".join(lines)
