"""MaxCare v4 data models: tasks, providers, their pages, and lenient timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel


def parse_timestamp(value: Any) -> datetime | None:
    """Lenient timestamp: Postgres text, ISO 8601 ('Z'), epoch seconds; anything else -> None."""
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        try:
            result = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    # Naive values carry no zone; MaxCare stores UTC, so read them as UTC.
    return result if result.tzinfo else result.replace(tzinfo=UTC)


def _none_to_list(value: Any) -> Any:
    return [] if value is None else value


Timestamp = Annotated[datetime | None, BeforeValidator(parse_timestamp)]
StrList = Annotated[list[str], BeforeValidator(_none_to_list)]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        coerce_numbers_to_str=True,
    )


class ProviderSummary(_Model):
    """A provider as embedded in tasks (`assignedProviders`)."""

    id: str
    first_name: str | None = None
    last_name: str | None = None
    display_first_name: str | None = None
    display_last_name: str | None = None
    username: str | None = None
    roles: StrList = Field(default_factory=list)
    individual_npi: str | None = None
    can_finalize: bool | None = None
    can_cosign: bool | None = None

    @property
    def display_name(self) -> str:
        """'Dr. James Wilson, MD'; falls back to first + last name, username, then the ID."""
        for parts in (
            (self.display_first_name, self.display_last_name),
            (self.first_name, self.last_name),
            (self.username,),
        ):
            name = " ".join(p.strip() for p in parts if p and p.strip())
            if name:
                return name
        return self.id


class Provider(ProviderSummary):
    """A provider from the /providers endpoints (ProviderV3)."""

    hidden: bool | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


class Task(_Model):
    """A MaxCare task. `status`/`sync_status` are plain strings: the enums are not documented."""

    id: str
    status: str | None = None
    sync_status: str | None = None
    notes: str | None = Field(default=None, repr=False)  # patient data: keep out of reprs/logs
    note_id: str | None = None
    ehr_type: str | None = None
    assigned_providers: Annotated[list[ProviderSummary], BeforeValidator(_none_to_list)] = Field(
        default_factory=list
    )
    created_at: Timestamp = None
    updated_at: Timestamp = None


class Pagination(_Model):
    page: int = 1
    page_size: int = 100
    total_count: int = 0
    total_pages: int = 0


class TaskPage(_Model):
    tasks: Annotated[list[Task], BeforeValidator(_none_to_list)] = Field(default_factory=list)
    pagination: Pagination = Field(default_factory=Pagination)


class ProviderPage(_Model):
    providers: Annotated[list[Provider], BeforeValidator(_none_to_list)] = Field(
        default_factory=list
    )
    pagination: Pagination = Field(default_factory=Pagination)
