"""Compile gettext catalogues with Babel, so that running Zaplecze needs no system gettext tools.

    python -m zaplecze.core.i18n compile src/zaplecze/locale/pl/LC_MESSAGES/django.po
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages import mofile, pofile

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def compile_po(po_path: Path) -> Path:
    with open(po_path, "rb") as fh:
        catalog = pofile.read_po(fh)
    mo_path = po_path.with_suffix(".mo")
    with open(mo_path, "wb") as fh:
        mofile.write_mo(fh, catalog, use_fuzzy=False)
    return mo_path


def compile_all() -> list[Path]:
    return [compile_po(p) for p in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))]


def ensure_compiled() -> None:
    for po in LOCALE_DIR.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            compile_po(po)


def main(argv: list[str]) -> int:
    if len(argv) >= 1 and argv[0] == "compile":
        paths = [Path(p) for p in argv[1:]] or sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))
        for p in paths:
            print(f"compiled {compile_po(p)}")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
