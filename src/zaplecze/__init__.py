"""Zaplecze: the back office of an online shop's sales operations."""

__version__ = "0.1.0"
