from .support import world  # noqa: F401  (fixture)
