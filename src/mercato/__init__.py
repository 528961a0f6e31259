"""Mercato: a headless eCommerce backend."""

__version__ = "0.1.0"
