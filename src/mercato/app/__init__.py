"""The HTTP application: create_app() wires settings, database, routers and middleware."""

from mercato.app.factory import create_app

__all__ = ["create_app"]
