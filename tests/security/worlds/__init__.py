"""One file per module: `build(world) -> {path parameter: value}` for that module's URLs (see support.py)."""
