"""The ``sporing`` command line.

Each package contributes its own subcommands through a ``register(subparsers)`` function in its
``cli`` module, so this file only assembles them. Handlers import their heavy dependencies
lazily, so ``sporing --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Before any package defines a Numba kernel: cache compiled kernels in the user's cache
# directory, so a read-only install still caches (floorplans and simulator compile too).
import positioning._numba  # noqa: F401  # isort: skip

__all__ = ["build_parser", "main"]

#: Modules that contribute subcommands, in the order ``--help`` lists them.
_COMMAND_MODULES = (
    "tracker.commands",
    "tracker.store.commands",
    "tracker.reports.commands",
    "tracker.auth_commands",
    "floorplans.cli",
    "simulator.cli",
    "positioning.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every package's subcommands."""
    parser = argparse.ArgumentParser(
        prog="sporing",
        description="Sporing: real-time location of hospital equipment (BLE/UWB over MQTT).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        code = handler(args)
    except KeyboardInterrupt:
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
