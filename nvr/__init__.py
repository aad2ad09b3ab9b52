"""Vigil: an event-sourced network video recorder."""

__version__ = "0.1.0"
