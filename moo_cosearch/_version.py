"""The package version (one place; read by the root package and the CLI)."""

__version__ = "0.1.0"
