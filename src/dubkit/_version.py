"""The package version (read by hatchling and ``dubkit --version``)."""

__version__ = "0.1.0"
