"""closing the loop: the first appointment and the declaration confirmed by the patient, the
link of the latest follow-up message, the yearly satisfaction questionnaire, and FICHE 6's age
band and médecin traitant asked at an unscheduled-care booking

Revision ID: 0018
Revises: 0016
Create Date: 2026-12-04 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patient_requests") as batch:
        batch.add_column(sa.Column("confirmation_asked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("confirmation_channel", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("first_visit_confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("declared_confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("answer_link_hash", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_patient_requests_answer_link_hash", ["answer_link_hash"])
    # FICHE 6's activity report: asked at an unscheduled-care booking (None: not asked).
    with op.batch_alter_table("snp_bookings") as batch:
        batch.add_column(sa.Column("age_band", sa.String(length=5), nullable=True))
        batch.add_column(sa.Column("has_doctor", sa.String(length=7), nullable=True))
    op.create_table(
        "satisfaction_surveys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_id", sa.Integer(), sa.ForeignKey("patient_requests.id", ondelete="CASCADE"), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("request_id", "year", name="uq_satisfaction_surveys_request_year"),
    )
    op.create_table(
        "satisfaction_answers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("territory_id", sa.Integer(), sa.ForeignKey("territories.id", ondelete="CASCADE"), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("satisfaction", sa.String(length=10), nullable=False),
        sa.Column("delay", sa.String(length=10), nullable=False),
        sa.Column("recommend", sa.String(length=10), nullable=False),
    )
    op.create_index("ix_satisfaction_answers_territory_year", "satisfaction_answers", ["territory_id", "year"])


def downgrade() -> None:
    op.drop_index("ix_satisfaction_answers_territory_year", table_name="satisfaction_answers")
    op.drop_table("satisfaction_answers")
    op.drop_table("satisfaction_surveys")
    with op.batch_alter_table("snp_bookings") as batch:
        batch.drop_column("has_doctor")
        batch.drop_column("age_band")
    with op.batch_alter_table("patient_requests") as batch:
        batch.drop_constraint("uq_patient_requests_answer_link_hash", type_="unique")
        batch.drop_column("answer_link_hash")
        batch.drop_column("declared_confirmed_at")
        batch.drop_column("first_visit_confirmed_at")
        batch.drop_column("confirmation_channel")
        batch.drop_column("confirmation_asked_at")
