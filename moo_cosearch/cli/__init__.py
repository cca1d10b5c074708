"""``moo-cosearch`` command line (argparse front end only): ``_main`` (spaces, samplers,
objectives, backends, run, dashboard, simulate), ``_surrogate`` (sample, train-surrogate,
verify), ``_compare`` (compare). ``python -m moo_cosearch.cli`` runs the same."""

from __future__ import annotations

from ._main import CLIError, build_parser, main, safe_file_name

__all__ = ["CLIError", "build_parser", "main", "safe_file_name"]
