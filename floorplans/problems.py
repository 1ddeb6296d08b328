"""Problems found while reading, importing or validating a floor plan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["FloorplanError", "Problem", "Severity"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One defect of a floor plan, naming the feature at fault.

    Attributes:
        severity: "error" makes ``sporing floorplan check`` fail; "warning" does not.
        feature_id: Id of the feature at fault ("" for the file as a whole).
        code: Short stable machine-readable code (e.g. "duplicate-id").
        message: Human-readable explanation.
    """

    severity: Severity
    feature_id: str
    code: str
    message: str

    def __str__(self) -> str:
        where = f"[{self.feature_id}] " if self.feature_id else ""
        return f"{self.severity}: {where}{self.code}: {self.message}"


class FloorplanError(Exception):
    """A floor plan could not be read at all; ``problems`` says why."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.problems: list[Problem] = problems or []
