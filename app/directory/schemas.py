"""What an import of the national directory reports (the CLI prints it, the page shows it)."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class UnreadableLine(BaseModel):
    line: int
    reason: str  # French; never the line's content (it names a person)


class DirectoryImportReport(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    territory_id: int
    territory_name: str = ""
    file_name: str
    started_at: datetime
    finished_at: datetime | None
    lines_read: int
    added: int
    changed: int
    unchanged: int
    gone: int
    unreadable: int
    # From `details`: the RPPS numbers (capped), the unreadable lines (capped), counts.
    added_rpps: list[str] = Field(default_factory=list)
    changed_rpps: list[str] = Field(default_factory=list)
    gone_rpps: list[str] = Field(default_factory=list)
    unreadable_lines: list[UnreadableLine] = Field(default_factory=list)
    practices: int = 0
    volunteers: int = 0
    not_general_practice: int = 0
    not_rpps: int = 0
    seconds: float | None = None

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    @property
    def practitioners(self) -> int:
        return self.added + self.changed + self.unchanged
