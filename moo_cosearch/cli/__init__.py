"""``moo-cosearch`` command line (argparse front end only): ``_main`` (the parser, spaces,
samplers, objectives, backends, dashboard, simulate), ``_run`` (run), ``_surrogate`` (sample,
train-surrogate, verify), ``_compare`` (compare, compare-ranks), ``_common`` (the one-line
error, log lines). ``python -m moo_cosearch.cli`` runs the same."""

from __future__ import annotations

from ._common import CLIError
from ._main import build_parser, main
from ._run import safe_file_name

__all__ = ["CLIError", "build_parser", "main", "safe_file_name"]
