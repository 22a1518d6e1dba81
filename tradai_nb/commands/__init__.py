"""The tradai-nb subcommands, one module per area; each exposes register(subparsers)."""

from __future__ import annotations

import argparse
import os

from tradai_nb import config

# Where --env takes its default from, before `local`.
ENV_VARIABLE = "TRADAI_ENV"


def default_environment() -> str:
    """The environment a command acts on when --env is not given: $TRADAI_ENV, else local."""
    return os.environ.get(ENV_VARIABLE) or "local"


def add_env_argument(parser: argparse.ArgumentParser) -> None:
    """--env: one of the known environments, by default $TRADAI_ENV, else local."""
    parser.add_argument(
        "--env",
        choices=config.ENVIRONMENTS,
        default=default_environment(),
        help=f"environment (default: ${ENV_VARIABLE}, else local)",
    )
