"""The CLI's help texts (every option explained, each default shown once) and `backends`."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

import pytest

import moo_cosearch.hardware.zigzag as zigzag_module
from moo_cosearch.cli import build_parser, main
from moo_cosearch.hardware import CostBackend, backend_metrics, list_backends


def _parsers() -> dict[str, argparse.ArgumentParser]:
    top = build_parser()
    out = {"moo-cosearch": top}
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            out.update(action.choices)
    return out


def _shows_default(default: object) -> bool:
    return not (default is None or default is False or default is argparse.SUPPRESS
                or default == [])


def test_every_subcommand_has_help_and_a_description():
    parsers = _parsers()
    assert {"run", "simulate", "sample", "train-surrogate", "verify", "backends"} <= set(parsers)
    top = parsers.pop("moo-cosearch")
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in sub._choices_actions}
    for name in parsers:
        assert helps.get(name), f"command {name} has no help line"


@pytest.mark.parametrize("command", sorted(_parsers()))
def test_every_option_has_help_and_its_default_once(command):
    parser = _parsers()[command]
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help and action.help.strip(), f"{command} {name} has no help"
        text = parser._get_formatter()._expand_help(action)
        n = text.count("(default:")
        assert n <= 1, f"{command} {name}: default shown {n} times: {text!r}"
        if action.option_strings and _shows_default(action.default):
            assert n == 1, f"{command} {name}: default {action.default!r} not shown: {text!r}"
            if "default" not in action.help:      # appended by the formatter: the real value
                shown = (" ".join(map(str, action.default))
                         if isinstance(action.default, (list, tuple)) else str(action.default))
                assert text.endswith(f"(default: {shown})"), (command, name, text)
    page = parser.format_help()
    assert not re.search(r"\(default:\s+(None|False|\[\])\)", page), page


def test_run_help_shows_defaults_once(capsys):
    assert main(["run", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "else nb201-edge) (default: None)" not in out
    assert "(default: the objective set's space, else nb201-edge)" in out
    assert "derived from it (default: 0)" in out   # --seed
    assert ") (default:" not in out


def test_train_surrogate_help_documents_model_options(capsys):
    assert main(["train-surrogate", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for flag, default in [("--hidden HIDDEN [HIDDEN ...]", "256 256 256"),
                          ("--dropout DROPOUT", "0.1"), ("--lr LR", "0.001"),
                          ("--batch-size BATCH_SIZE", "128"), ("--seed SEED", "0")]:
        after = out.split(flag + " ", 1)[1].split(" --", 1)[0]
        assert not after.startswith("(default"), f"{flag} has no help: {after!r}"
        assert f"(default: {default})" in after, (flag, after)


def _backends_output(capsys) -> dict[str, str]:
    assert main(["backends"]) == 0
    blocks: dict[str, str] = {}
    name = None
    for line in capsys.readouterr().out.splitlines():
        if line and not line[0].isspace():
            name = line.split()[0]
            blocks[name] = line
        else:
            assert name is not None
            blocks[name] += "\n" + line
    return {k: " ".join(v.split()) for k, v in blocks.items()}


@pytest.mark.slow
def test_backends_lists_metrics_and_fitting_spaces(capsys):
    out = _backends_output(capsys)
    assert set(list_backends()) | {"surrogate:PATH"} <= set(out)
    for name in list_backends():
        assert "metrics: " + ", ".join(backend_metrics(name)) in out[name]
    spaces = {name: text.split("spaces: ", 1)[1] for name, text in out.items()
              if "spaces: " in text}
    assert "nb201-edge" in spaces["edge"] and "nahas-mbv2-edge" in spaces["edge"]
    assert "nb201-device" not in spaces["edge"] and "nasaic-w1" not in spaces["edge"]
    assert spaces["table"].startswith("nb201-device") and "nb201-edge" not in spaces["table"]
    assert spaces["fpga-edd"] == "edd-mbconv-fpga"
    assert "nasaic-w1, nasaic-w2, nasaic-w3" in spaces["hetero"]
    assert "train-surrogate" in out["surrogate:PATH"]


def test_backends_names_a_missing_extra_instead_of_failing(capsys, monkeypatch):
    monkeypatch.setattr(zigzag_module, "zigzag_available", lambda: False)
    out = _backends_output(capsys)
    assert "needs zigzag" in out["zigzag"] and "moo-cosearch[zigzag]" in out["zigzag"]
    assert "spaces:" not in out["zigzag"]
    assert "nb201-edge" in out["edge"]


def test_backends_survives_a_backend_that_cannot_import(capsys, monkeypatch):
    from moo_cosearch.hardware import _registry

    class Broken(CostBackend):
        name = "broken-toy"

        def evaluate(self, space, designs):
            raise ImportError("the broken-toy backend needs the toy package")

    monkeypatch.setitem(_registry._BACKENDS, "broken-toy", Broken)
    out = _backends_output(capsys)
    # (registered by setitem rather than register_backend so that the toy is removed after)
    assert "needs an optional dependency: the broken-toy backend needs the toy package" \
        in out["broken-toy"]


def test_samplers_lists_every_name_with_its_description_in_one_column(capsys):
    from moo_cosearch.samplers import list_samplers

    assert main(["samplers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    registered = list_samplers()
    assert [line.split()[0] for line in lines] == list(registered)
    starts = {line.index(desc) for line, desc in zip(lines, registered.values())}
    assert len(starts) == 1 and starts.pop() >= 2 + max(map(len, registered))


@pytest.mark.integration
def test_a_reader_that_has_gone_ends_the_output_quietly():
    """``moo-cosearch samplers | head -1``: no 'Broken pipe' error line, as ``cat`` would."""
    read, write = os.pipe()
    os.close(read)                                   # the reader is gone before any output
    try:
        proc = subprocess.run([sys.executable, "-m", "moo_cosearch.cli", "samplers"],
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert (proc.returncode, proc.stderr) == (1, "")
