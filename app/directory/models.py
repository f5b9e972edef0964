"""What the national directory says of the GPs practising in a CPTS's communes.

Kept apart from ``Doctor`` on purpose: a ``Doctor`` is a volunteer, with what the doctor or the
coordinator entered; a ``DirectoryPractitioner`` is what the RPPS extraction published, replaced
at every import. The two meet on the RPPS number, so an import never overwrites what a person
entered, and a volunteer stays a volunteer whatever the directory says."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, UTCDateTime, utcnow


class DirectoryPractitioner(Base):
    """A general practitioner of the RPPS with at least one practice in the CPTS's communes."""

    __tablename__ = "directory_practitioners"
    __table_args__ = (UniqueConstraint("territory_id", "rpps", name="uq_directory_practitioners_territory_rpps"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id", ondelete="CASCADE"), index=True)
    rpps: Mapped[str] = mapped_column(String(11), index=True)
    civility: Mapped[str | None] = mapped_column(String(20))  # "Docteur", "Professeur" (civilité d'exercice)
    family_name: Mapped[str] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    know_how_code: Mapped[str | None] = mapped_column(String(10))  # "SM53"
    know_how_label: Mapped[str | None] = mapped_column(String(100))  # "Spécialiste en Médecine Générale"
    # A fingerprint of everything the directory published of this practitioner and its
    # practices: an import compares it to tell "changed" from "unchanged" without a diff.
    fingerprint: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    practices: Mapped[list["DirectoryPractice"]] = relationship(
        back_populates="practitioner",
        cascade="all, delete-orphan",
        order_by="DirectoryPractice.id",
        lazy="selectin",
    )


class DirectoryPractice(Base):
    """One practice situation (one line of the extraction) inside the CPTS's communes."""

    __tablename__ = "directory_practices"

    id: Mapped[int] = mapped_column(primary_key=True)
    practitioner_id: Mapped[int] = mapped_column(
        ForeignKey("directory_practitioners.id", ondelete="CASCADE"), index=True
    )
    mode: Mapped[str | None] = mapped_column(String(1))  # L libéral, S salarié, B bénévole
    structure_name: Mapped[str | None] = mapped_column(String(200))  # raison sociale or enseigne
    address: Mapped[str] = mapped_column(String(200))  # "3 rue Pasteur"
    postcode: Mapped[str | None] = mapped_column(String(5))
    insee_code: Mapped[str] = mapped_column(String(5), index=True)
    city: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    latitude: Mapped[float | None] = mapped_column()
    longitude: Mapped[float | None] = mapped_column()
    precision: Mapped[str | None] = mapped_column(String(20))  # as PracticeLocation.precision

    practitioner: Mapped[DirectoryPractitioner] = relationship(back_populates="practices")


class DirectoryImport(Base):
    """One run of ``orientation directory import`` (or of the upload): what it found."""

    __tablename__ = "directory_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id", ondelete="CASCADE"), index=True)
    file_name: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lines_read: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    gone: Mapped[int] = mapped_column(Integer, default=0)
    unreadable: Mapped[int] = mapped_column(Integer, default=0)
    # Line numbers and reasons of the unreadable lines (never their content: it names people),
    # and the RPPS numbers added / changed / gone, for the report. Capped by the importer.
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
