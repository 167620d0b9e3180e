"""SQLModel table classes: the schema, its unique constraints and indexes. They stay here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python on every backend (SQLite keeps naive text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self,
        value: datetime | None,
        dialect: sa.Dialect,  # noqa: ARG002
    ) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    # On SQLite, SQLAlchemy's own DATETIME conversion (string formatting one way, a regular
    # expression the other) costs more than the rest of a click's statements together; the
    # C-implemented ``isoformat``/``fromisoformat`` read and write the very same text.

    def bind_processor(self, dialect: sa.Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            utc = value.astimezone(UTC).replace(tzinfo=None)
            return utc.isoformat(sep=" ", timespec="microseconds")

        return process

    def result_processor(self, dialect: sa.Dialect, coltype: object) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def process(value: str | datetime | None) -> datetime | None:
            if value is None:
                return None
            if isinstance(value, str):
                return datetime.fromisoformat(value).replace(tzinfo=UTC)
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

        return process


def _ts(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


def _json(*, nullable: bool = False) -> Any:
    return Field(sa_column=sa.Column(sa.JSON(), nullable=nullable))


class MemberRow(SQLModel, table=True):
    """A person, mirrored from the configuration at start-up."""

    __tablename__ = "members"

    name: str = Field(primary_key=True, max_length=100)
    display_name: str | None = None
    email: str | None = Field(default=None, index=True)
    phone: str | None = Field(default=None, index=True)
    timezone: str = "UTC"


class IdentityRow(SQLModel, table=True):
    """A chat account linked to a member."""

    __tablename__ = "identity_links"
    __table_args__ = (
        sa.UniqueConstraint("platform", "workspace", "platform_user_id", name="uq_identity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    workspace: str = Field(default="", max_length=128)
    platform_user_id: str = Field(max_length=255)
    member: str = Field(foreign_key="members.name", index=True)
    origin: str = Field(default="config", max_length=32)
    created_at: datetime = _ts()


class IncidentRow(SQLModel, table=True):
    """An incident. ``open_key`` is set only while it is not closed, so grouping is unique."""

    __tablename__ = "incidents"

    id: int | None = Field(default=None, primary_key=True)
    title: str
    description: str = ""
    severity: str = Field(max_length=16)
    status: str = Field(max_length=16, index=True)
    service: str = Field(max_length=100, index=True)
    integration: str | None = Field(default=None, max_length=100)
    group_key: str | None = None
    open_key: str | None = Field(default=None, unique=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    acked_by: str | None = None
    acked_at: datetime | None = _ts(nullable=True)
    closed_by: str | None = None
    closed_at: datetime | None = _ts(nullable=True)
    assignees: list[str] = _json()
    escalation_step: int = 0
    escalation_round: int = 0
    escalate_at: datetime | None = _ts(nullable=True, index=True)
    # The escalation policy frozen onto the incident when it opened, where its current level
    # started, and how many reminders that level has sent.
    policy: dict[str, Any] | None = _json(nullable=True)
    level_started_at: datetime | None = _ts(nullable=True)
    reminders: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    snoozed_until: datetime | None = _ts(nullable=True, index=True)
    alert_count: int = 0
    labels: dict[str, str] = _json()


class AlertRow(SQLModel, table=True):
    """An alert under an incident. ``open_key`` deduplicates while the incident is open."""

    __tablename__ = "alerts"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    integration: str = Field(max_length=100)
    dedup_key: str = Field(max_length=255)
    open_key: str | None = Field(default=None, unique=True)
    title: str
    description: str = ""
    severity: str = Field(max_length=16)
    status: str = Field(max_length=16)
    labels: dict[str, str] = _json()
    details: dict[str, Any] = _json()
    starts_at: datetime | None = _ts(nullable=True)
    ends_at: datetime | None = _ts(nullable=True)
    source_url: str | None = None
    count: int = 1
    first_seen: datetime = _ts()
    last_seen: datetime = _ts()


class TimelineRow(SQLModel, table=True):
    """One event on an incident's timeline, with who did it and from where."""

    __tablename__ = "timeline_events"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    at: datetime = _ts()
    kind: str = Field(max_length=32)
    actor: str | None = None
    source: str = Field(max_length=32)
    data: dict[str, Any] = _json()


class DeliveryRow(SQLModel, table=True):
    """One notice to one destination: the outbox. Claimed by due time, retried with backoff."""

    __tablename__ = "deliveries"
    __table_args__ = (sa.Index("ix_deliveries_due", "state", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    channel: str = Field(max_length=32)
    destination: dict[str, Any] = _json()
    # What an update rewrites ("slack:C1:1700.01"): only the newest one per target is sent.
    target: str | None = Field(default=None, index=True)
    payload: dict[str, Any] = _json()
    state: str = Field(max_length=16)
    # A page that waits (a preference's delay) is dropped if, when due, the incident is no
    # longer "unacked" or "open".
    page_while: str | None = Field(default=None, max_length=16)
    attempts: int = 0
    due_at: datetime = _ts()
    lease_until: datetime | None = _ts(nullable=True)
    last_error: str | None = None
    message_ref: str | None = None
    created_at: datetime = _ts()
    sent_at: datetime | None = _ts(nullable=True)


class DeliveryAttemptRow(SQLModel, table=True):
    """Each try at sending a delivery, kept for the record."""

    __tablename__ = "delivery_attempts"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="deliveries.id", index=True)
    at: datetime = _ts()
    ok: bool
    error: str | None = None
    duration_ms: float = 0.0


class ProcessedCallbackRow(SQLModel, table=True):
    """A platform callback already handled, with the outcome to repeat on a retry."""

    __tablename__ = "processed_callbacks"

    platform: str = Field(primary_key=True, max_length=32)
    callback_id: str = Field(primary_key=True, max_length=255)
    at: datetime = _ts(index=True)
    outcome: dict[str, Any] = _json()


metadata = SQLModel.metadata
incidents = IncidentRow.__table__  # type: ignore[attr-defined]
alerts = AlertRow.__table__  # type: ignore[attr-defined]
timeline = TimelineRow.__table__  # type: ignore[attr-defined]
deliveries = DeliveryRow.__table__  # type: ignore[attr-defined]
delivery_attempts = DeliveryAttemptRow.__table__  # type: ignore[attr-defined]
members = MemberRow.__table__  # type: ignore[attr-defined]
identities = IdentityRow.__table__  # type: ignore[attr-defined]
processed_callbacks = ProcessedCallbackRow.__table__  # type: ignore[attr-defined]


class MessageRefRow(SQLModel, table=True):
    """A card posted to a chat, so every later change of its incident can update it."""

    __tablename__ = "message_refs"
    __table_args__ = (
        sa.UniqueConstraint("platform", "chat_id", "message_id", name="uq_message_ref"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", index=True)
    platform: str = Field(max_length=32)
    chat_id: str = Field(max_length=255)
    message_id: str = Field(max_length=255)
    member: str | None = None  # a direct message to this member (its links act as them)
    delivery_id: int | None = Field(default=None, foreign_key="deliveries.id")
    created_at: datetime = _ts()


message_refs = MessageRefRow.__table__  # type: ignore[attr-defined]


class LinkCodeRow(SQLModel, table=True):
    """A one-time code a chat account was given to link itself to whoever enters it."""

    __tablename__ = "link_codes"
    __table_args__ = (
        sa.UniqueConstraint("platform", "workspace", "platform_user_id", name="uq_link_code"),
    )

    code: str = Field(primary_key=True, max_length=16)
    platform: str = Field(max_length=32)
    workspace: str = Field(default="", max_length=128)
    platform_user_id: str = Field(max_length=255)
    expires_at: datetime = _ts()


link_codes = LinkCodeRow.__table__  # type: ignore[attr-defined]


class PaceRow(SQLModel, table=True):
    """What a capped destination (a chat, a bot) was sent lately, shared by every replica."""

    __tablename__ = "paces"

    key: str = Field(primary_key=True, max_length=255)
    sent: list[float] = _json()  # send times (epoch seconds) inside the window
    # The digest card posted there last (chat, message, items, at), updated while it has room.
    digest: dict[str, Any] | None = _json(nullable=True)


paces = PaceRow.__table__  # type: ignore[attr-defined]
