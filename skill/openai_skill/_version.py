"""The package version (read by the build, the User-Agent and `--version`)."""

__version__ = "0.1.0"
