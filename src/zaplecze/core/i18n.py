"""Translation catalogues without GNU gettext: extract with Babel (templates via Django's templatize),
update the .po files, compile .mo files. `make run` needs nothing but Python.

    python -m zaplecze.core.i18n extract     # update locale/*/LC_MESSAGES/django.po from the sources
    python -m zaplecze.core.i18n compile     # .po -> .mo
    python -m zaplecze.core.i18n missing pl  # list untranslated strings (non-zero exit if any)
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages import mofile, pofile
from babel.messages.catalog import Catalog
from babel.messages.extract import extract

PACKAGE_DIR = Path(__file__).resolve().parent.parent
LOCALE_DIR = PACKAGE_DIR / "locale"
LANGUAGES = ("pl", "en")
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "npgettext_lazy": ((1, "c"), 2, 3),
}
SKIP_DIRS = {"migrations", "__pycache__", "static", "locale"}


def _po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / "django.po"


def _source_files() -> list[Path]:
    files = []
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if any(part in SKIP_DIRS for part in path.relative_to(PACKAGE_DIR).parts[:-1]):
            continue
        if path.suffix in {".py", ".html", ".txt"} and path.is_file():
            if path.suffix == ".txt" and "templates" not in path.parts:
                continue
            files.append(path)
    return files


def extract_template_catalog() -> Catalog:
    """Every translatable message in the package's Python code and templates."""
    from django.utils.translation.template import templatize

    catalog = Catalog(project="zaplecze", charset="utf-8")
    for path in _source_files():
        rel = str(path.relative_to(PACKAGE_DIR))
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".py":
            source = text
        else:
            # templatize keeps line numbers; indentation is meaningless there and would trip the tokenizer.
            source = "\n".join(line.lstrip() for line in templatize(text, origin=rel).split("\n"))
        for lineno, message, comments, context in extract(
            "python", io.BytesIO(source.encode("utf-8")), keywords=KEYWORDS, comment_tags=("Translators:",)
        ):
            if not message or (isinstance(message, tuple) and not message[0]):
                continue
            catalog.add(message, locations=[(rel, lineno)], auto_comments=comments, context=context)
    return catalog


def read_catalog(lang: str) -> Catalog:
    path = _po_path(lang)
    if not path.exists():
        return Catalog(locale=lang, project="zaplecze", charset="utf-8")
    with open(path, "rb") as fh:
        return pofile.read_po(fh, locale=lang)


def write_catalog(catalog: Catalog, lang: str) -> Path:
    path = _po_path(lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    catalog.fuzzy = False
    catalog.header_comment = (
        f"# Zaplecze — {lang} translations. Update with: python -m zaplecze.core.i18n extract"
    )
    catalog.project, catalog.version = "zaplecze", "1"
    with open(path, "wb") as fh:
        pofile.write_po(fh, catalog, omit_header=False, ignore_obsolete=True, width=100, sort_output=True)
    return path


def update_catalogs() -> list[Path]:
    template = extract_template_catalog()
    written = []
    for lang in LANGUAGES:
        catalog = read_catalog(lang)
        catalog.update(template, no_fuzzy_matching=True)
        written.append(write_catalog(catalog, lang))
    return written


def missing(lang: str) -> list[str]:
    """Messages used in the code that have no (non-fuzzy) translation in `lang`."""
    catalog = read_catalog(lang)
    out = []
    for msg in extract_template_catalog():
        if not msg.id:
            continue
        have = catalog.get(msg.id, context=msg.context)
        strings = have.string if have is not None else None
        values = list(strings) if isinstance(strings, tuple | list) else [strings]
        if have is None or have.fuzzy or not all(values):
            out.append(msg.id if isinstance(msg.id, str) else msg.id[0])
    return out


def compile_po(po_path: Path) -> Path:
    with open(po_path, "rb") as fh:
        catalog = pofile.read_po(fh)
    mo_path = po_path.with_suffix(".mo")
    tmp = mo_path.with_suffix(".mo.tmp")
    with open(tmp, "wb") as fh:
        mofile.write_mo(fh, catalog, use_fuzzy=False)
    tmp.replace(mo_path)
    return mo_path


def compile_all() -> list[Path]:
    return [compile_po(p) for p in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))]


def ensure_compiled() -> None:
    for po in LOCALE_DIR.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            compile_po(po)


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else ""
    if cmd == "compile":
        paths = [Path(p) for p in argv[1:]] or sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))
        for p in paths:
            print(f"compiled {compile_po(p)}")
        return 0
    if cmd in {"extract", "missing"}:
        import os

        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zaplecze.settings")
        django.setup()
        if cmd == "extract":
            for p in update_catalogs():
                print(f"updated {p}")
            return 0
        gaps = missing(argv[1] if len(argv) > 1 else "pl")
        for m in gaps:
            print(m)
        print(f"{len(gaps)} untranslated", file=sys.stderr)
        return 1 if gaps else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
