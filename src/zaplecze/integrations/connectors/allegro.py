"""Allegro REST API connector (to be written)."""

from __future__ import annotations

from .base import Connector


class Allegro(Connector):
    platform = "allegro"
