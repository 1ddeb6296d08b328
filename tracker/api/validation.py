"""422 errors for rules that span parameters, in FastAPI's own validation-error format."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError

__all__ = ["invalid"]


def invalid(where: str, name: str, message: str, value: object) -> RequestValidationError:
    """A 422 naming the field at fault, shaped like FastAPI's own validation errors.

    Args:
        where: ``query``, ``path`` or ``body``.
        name: The field (its public name, e.g. ``from``).
        message: What is wrong.
        value: The value received.
    """
    return RequestValidationError([{"type": "value_error", "loc": (where, name),
                                    "msg": message, "input": value}])
