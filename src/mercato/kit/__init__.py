"""Shared plumbing with no business rules. Imports no module of `mercato.modules`."""
