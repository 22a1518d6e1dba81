"""What every notebook does first: show tables whole, show tradai-nb's errors as their message, read the settings."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from tradai_nb.errors import TradaiError
from tradai_nb.settings import Settings, from_parameters

# Whole values in tables: ARNs, URLs and export values are what operators copy; a cut one is useless.
DISPLAY_OPTIONS = {
    "display.max_columns": None,
    "display.max_colwidth": None,
    "display.width": 250,
    "display.max_rows": 200,
}


def start(namespace: Mapping[str, Any]) -> Settings:
    """The notebook's settings (its `environment` parameter's params file with any settings keys a runner
    injected), after setting up the kernel: whole values in tables, and a TradaiError shown as its one-paragraph
    message — it says what happened and what to do — instead of a traceback."""
    show_whole_values()
    show_errors_as_messages()
    return from_parameters(namespace)


def show_whole_values() -> None:
    import pandas as pd

    for option, value in DISPLAY_OPTIONS.items():
        pd.set_option(option, value)


def show_all_rows(frame: Any) -> None:
    """Display every row of a table, which DISPLAY_OPTIONS' row limit would cut in the middle: for tables whose
    stored output must be whole, such as a plan's digest of each resource's inputs (nbval compares every row)."""
    import pandas as pd
    from IPython.display import display

    with pd.option_context("display.max_rows", None, "display.min_rows", None):
        display(frame)


def show_errors_as_messages() -> None:
    """In a Jupyter kernel (or IPython), show TradaiError without the traceback; other errors keep theirs."""
    if "IPython" not in sys.modules:
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((TradaiError,), _show_message)


def _show_message(shell, etype, value, tb, tb_offset=None):
    # Keep the traceback reachable (`%tb`, debuggers) while showing only the message.
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb
    shell._showtraceback(etype, value, [f"{etype.__name__}: {value}"])
