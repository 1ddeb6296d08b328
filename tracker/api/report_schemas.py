"""Response models of the report endpoints (``/api/v1/reports/...``).

Each report answers ``{"meta": ReportMeta, "rows": [...]}``; the same rows are the CSV lines
of ``format=csv``. Times are local ISO 8601 with the UTC offset.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "FleetOut",
    "FleetRowOut",
    "ForecastOut",
    "ForecastRowOut",
    "GroupsOut",
    "IdleOut",
    "IdleRowOut",
    "MaintenanceOut",
    "MaintenanceRowOut",
    "MissingOut",
    "MissingRowOut",
    "MoveOut",
    "ReportMeta",
    "RoomTimeOut",
    "RoomTimeRowOut",
    "UtilizationOut",
    "UtilizationRowOut",
]


class ReportMeta(BaseModel):
    """What a report covers."""

    report: str
    tz: str = Field(description="Time zone of local dates and hours")
    from_: str | None = Field(default=None, alias="from",
                              description="Window start (local ISO date-time)")
    to: str | None = Field(default=None, description="Window end, exclusive")
    generated_at: str
    rollup_refreshed_to: str | None = Field(
        default=None, description="The rollup covers time up to here (null: never refreshed, "
                                  "or a report that does not read it: rooms and the worklists)")
    params: dict[str, Any] = Field(default_factory=dict, description="The filters applied")

    model_config = {"populate_by_name": True}


class UtilizationRowOut(BaseModel):
    """Time in each state and uses of one group in one period."""

    period: str
    period_start: str | None
    asset: str | None
    type: str | None
    department: str | None
    hours: float = Field(description="Asset-hours observed")
    pct: dict[str, float] = Field(description="Percentage of the hours per state")
    hours_by_state: dict[str, float]
    uses: int
    mean_use_min: float | None


class UtilizationOut(BaseModel):
    """The utilization report."""

    meta: ReportMeta
    rows: list[UtilizationRowOut]


class ProfileOut(BaseModel):
    """Peak and 95th percentile of concurrent use per slot (hour of day or weekday)."""

    peak: list[int]
    p95: list[int]


class FleetRowOut(BaseModel):
    """Fleet sizing of one type in one owning department (null: all departments)."""

    type: str
    department: str | None
    owned: int
    hours: int
    peak: int
    p95: int
    mean_in_use: float
    spare: int
    by_hour: ProfileOut = Field(description="Local hours 0-23")
    by_weekday: ProfileOut = Field(description="Monday first")
    shortages: list[str] = Field(description="Hours with none available")
    recommendation: dict[str, str] = Field(description="Keys 'en' and 'no' (bokmål)")


class FleetOut(BaseModel):
    """The fleet sizing report."""

    meta: ReportMeta
    rows: list[FleetRowOut]


class IdleRowOut(BaseModel):
    """An asset that has not left its room for ``idle_days``."""

    asset: str
    name: str
    type: str | None
    department: str | None
    level: str | None
    room: str
    room_name: str | None
    state: str
    since: str | None
    idle_days: float


class IdleOut(BaseModel):
    """Idle equipment."""

    meta: ReportMeta
    rows: list[IdleRowOut]


class MissingRowOut(BaseModel):
    """An asset not seen for ``hours_missing`` hours (null: never seen)."""

    asset: str
    name: str
    type: str | None
    department: str | None
    status: str
    last_seen: str | None
    hours_missing: float | None
    level: str | None
    room: str | None
    room_name: str | None
    last_gateway: str | None = Field(
        description="The gateway that heard the asset strongest at its last fix (null when "
                    "never seen, or for fixes stored before this was recorded)")


class MissingOut(BaseModel):
    """Missing equipment."""

    meta: ReportMeta
    rows: list[MissingRowOut]


class MaintenanceRowOut(BaseModel):
    """One stop of the maintenance worklist, in walking-route order."""

    order: int
    asset: str
    name: str
    type: str | None
    department: str | None
    next_maintenance: str
    days_left: int
    level: str | None
    room: str | None
    room_name: str | None
    state: str
    collectable: bool
    last_seen: str | None
    walk_m: float | None = Field(description="Metres walked from the start to here")


class MaintenanceOut(BaseModel):
    """Maintenance worklist."""

    meta: ReportMeta
    rows: list[MaintenanceRowOut]


class ForecastRowOut(BaseModel):
    """The 7-day hourly forecast of one type owned by one department (null: all)."""

    type: str
    department: str | None
    weeks: int = Field(description="Past weeks learnt from")
    peak_plan: int = Field(description="Most units needed in any hour (planning quantile)")
    peak_at: str | None
    hours: list[str]
    mean: list[float] = Field(description="Expected units in use per hour")
    plan: list[int] = Field(description="Units to have per hour (planning quantile)")


class MoveOut(BaseModel):
    """A suggested redistribution before a shortage."""

    type: str
    units: int
    from_department: str
    to_department: str
    before: str
    need: int = Field(description="Peak units the receiving department will need")
    holds: int = Field(description="Usable units it holds now")
    text: dict[str, str] = Field(description="Keys 'en' and 'no' (bokmål)")


class ForecastOut(BaseModel):
    """Needs forecast and redistribution suggestions."""

    meta: ReportMeta
    rows: list[ForecastRowOut]
    moves: list[MoveOut]


class RoomTimeRowOut(BaseModel):
    """Time a group spent in one room."""

    room: str
    room_name: str | None
    level: str | None
    category: str | None
    hours: float
    share_pct: float = Field(description="Percentage of the group's time in any room")


class RoomTimeOut(BaseModel):
    """Where a group spends its time (heat map data)."""

    meta: ReportMeta
    rows: list[RoomTimeRowOut]


class GroupsOut(BaseModel):
    """Equipment types and owning departments in the registry (report filters)."""

    types: list[str]
    departments: list[str]
