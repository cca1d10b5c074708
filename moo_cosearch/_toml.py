"""Built-in TOML declarations (spaces, objective sets) found by name, or user files by path."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["builtin_names", "read_declaration"]


def builtin_names(package: str) -> list[str]:
    """Names (file stems) of the ``*.toml`` files shipped in ``package``."""
    return sorted(f.name[:-5] for f in resources.files(package).iterdir()
                  if f.name.endswith(".toml"))


def read_declaration(name_or_path: str | Path, package: str, what: str,
                     error: type[ValueError]) -> tuple[dict[str, Any], str]:
    """Parse a built-in declaration by name or a TOML file by path.

    Args:
        name_or_path: a built-in name, or a path (anything ending in .toml, or a file).
        package: the package holding the built-in files.
        what: what the file declares, for messages (``"space"``, ``"objective set"``).
        error: the exception type to raise.

    Returns:
        (parsed TOML, source label for messages).
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.is_file():  # a folder never shadows a built-in name
        try:
            text, source = path.read_text(), str(path)
        except OSError as e:
            raise error(f"cannot read {what} file {str(path)!r}: {e.strerror}") from None
    else:
        res = resources.files(package) / f"{name_or_path}.toml"
        if not res.is_file():
            raise error(f"unknown {what} {str(name_or_path)!r}; built-in: "
                        f"{builtin_names(package)} (or give a path to a .toml file)")
        text, source = res.read_text(), f"{name_or_path}.toml"
    try:
        return tomllib.loads(text), source
    except tomllib.TOMLDecodeError as e:
        raise error(f"malformed TOML in {source}: {e}") from None
