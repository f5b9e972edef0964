"""Appending to the audit trail. The entry joins the caller's transaction: a change and
its trace are committed together, or neither is."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.access import visible
from app.accounts.principal import Principal
from app.audit.models import AuditEvent
from app.core.database import own_transaction, utcnow


def record(
    session: Session,
    principal: Principal | None,
    action: str,
    object_type: str,
    object_id: object,
    territory_id: int | None,
    *,
    actor: str | None = None,
    client_address: str | None = None,
) -> None:
    """`actor` names a caller without an account (a doctor using its e-mailed link)."""
    session.add(AuditEvent(**_entry(principal, action, object_type, object_id, territory_id, actor, client_address)))


_INSERT_ENTRY = insert(AuditEvent.__table__)


def record_now(
    session: Session,
    principal: Principal | None,
    action: str,
    object_type: str,
    object_id: object,
    territory_id: int | None,
    *,
    actor: str | None = None,
    client_address: str | None = None,
) -> None:
    """The same entry as `record`, written at once by a plain INSERT rather than at the next
    flush: for the busiest writes (the intake), where the ORM's unit of work costs more than
    the entry itself."""
    entry = _entry(principal, action, object_type, object_id, territory_id, actor, client_address)
    session.execute(_INSERT_ENTRY, {"at": utcnow(), **entry})


def _entry(
    principal: Principal | None,
    action: str,
    object_type: str,
    object_id: object,
    territory_id: int | None,
    actor: str | None,
    client_address: str | None,
) -> dict[str, object]:
    """What an entry says: who (a user, or a caller without an account), what, where."""
    return {
        "actor_user_id": principal.user_id if principal else None,
        "actor": principal.email if principal else (actor or "anonyme"),
        "actor_role": principal.role.value if principal else "link",
        "territory_id": territory_id,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "client_address": principal.client_address if principal else client_address,
    }


def record_read(
    session: Session,
    write_sessions: sessionmaker[Session],
    principal: Principal,
    object_type: str,
    object_id: object,
    territory_id: int | None,
) -> None:
    """A read is written to the trail, committed before the data is sent. See record_reads."""
    record_reads(session, write_sessions, principal, object_type, [(object_id, territory_id)])


def record_reads(
    session: Session,
    write_sessions: sessionmaker[Session],
    principal: Principal,
    object_type: str,
    objects: list[tuple[object, int | None]],
) -> None:
    """Several objects read at once (a page of the queue): one entry each, one transaction,
    committed before the data is sent.

    `session` is the read's own. On PostgreSQL the entries join its transaction, which the
    request's unit of work commits before the answer leaves (app.core.dependencies.get_db):
    one transaction per read, not two. On SQLite a read transaction must not turn into a
    writer, so there the entries get a short write transaction of their own (own_transaction
    says why)."""
    if not objects:
        return
    if session.get_bind().dialect.name == "sqlite":
        with own_transaction(write_sessions) as own:
            _add_reads(own, principal, object_type, objects)
        return
    _add_reads(session, principal, object_type, objects)


def _add_reads(
    session: Session, principal: Principal, object_type: str, objects: list[tuple[object, int | None]]
) -> None:
    # One multi-row INSERT, not an ORM object per entry: a board can show hundreds of bookings.
    at = utcnow()
    session.execute(
        insert(AuditEvent),
        [
            {
                "at": at,
                "actor_user_id": principal.user_id,
                "actor": principal.email,
                "actor_role": principal.role.value,
                "territory_id": territory_id,
                "action": "read",
                "object_type": object_type,
                "object_id": str(object_id),
                "client_address": principal.client_address,
            }
            for object_id, territory_id in objects
        ],
    )


def list_events(
    session: Session,
    principal: Principal,
    *,
    territory_id: int | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    actor_user_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[AuditEvent]:
    query = (
        select(AuditEvent)
        .where(visible(AuditEvent, principal))  # a coordinator reads its CPTS's trail only
        .order_by(AuditEvent.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if territory_id is not None:
        query = query.where(AuditEvent.territory_id == territory_id)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    if actor_user_id is not None:
        query = query.where(AuditEvent.actor_user_id == actor_user_id)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    return session.scalars(query).all()
