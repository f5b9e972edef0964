from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, UTCDateTime, utcnow


class Territory(Base):
    """A CPTS: a community of health professionals serving a list of communes."""

    __tablename__ = "territories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    finess: Mapped[str] = mapped_column(String(9), unique=True)
    phone: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(254))
    # How much each priority group weighs in the médecin-traitant queue (app.requests.priority).
    weight_ald: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    weight_age_70: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    weight_css: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The automatic offers (app/requests/offers.py): None, off (the default); else since when
    # each new eligible request is offered to the best-ranked doctor, then the next.
    auto_offers_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    communes: Mapped[list["TerritoryCommune"]] = relationship(
        back_populates="territory",
        cascade="all, delete-orphan",
        order_by="TerritoryCommune.insee_code",
    )

    @property
    def insee_codes(self) -> list[str]:
        return [c.insee_code for c in self.communes]


class TerritoryCommune(Base):
    """A commune served by a CPTS. The INSEE code is the primary key: the database itself
    guarantees that a commune belongs to at most one CPTS of the deployment."""

    __tablename__ = "territory_communes"

    insee_code: Mapped[str] = mapped_column(String(5), primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id", ondelete="CASCADE"), index=True)

    territory: Mapped[Territory] = relationship(back_populates="communes")
