"""Third-party browser assets, taken from installed PyPI packages at build time (never committed).

* htmx ships inside django-htmx (served by its static finder).
* vega + vega-lite + vega-embed: vl-convert-python builds the bundle offline.
"""

from __future__ import annotations

from pathlib import Path

GEN_DIR = Path(__file__).resolve().parent / "static" / "zaplecze" / "gen"
VEGA_BUNDLE = GEN_DIR / "vega-bundle.js"


def build_vega_bundle(force: bool = False) -> Path:
    if VEGA_BUNDLE.exists() and not force:
        return VEGA_BUNDLE
    import vl_convert

    GEN_DIR.mkdir(parents=True, exist_ok=True)
    code = vl_convert.javascript_bundle()  # assigns window.vegaEmbed, window.vega, window.vegaLite
    tmp = VEGA_BUNDLE.with_suffix(".tmp")
    tmp.write_text(code, encoding="utf-8")
    tmp.replace(VEGA_BUNDLE)
    return VEGA_BUNDLE


if __name__ == "__main__":
    print(f"wrote {build_vega_bundle(force=True)}")
