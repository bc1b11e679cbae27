"""The Polish catalogue is complete: a string in the code without a Polish translation fails here."""

from django.utils import translation

from zaplecze.core import i18n


def test_every_translatable_string_has_a_polish_translation():
    gaps = i18n.missing("pl")
    assert gaps == [], f"{len(gaps)} untranslated string(s); run `make messages` and translate: {gaps[:20]}"


def test_extraction_finds_template_and_python_strings():
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in i18n.extract_template_catalog()}
    assert "Dashboard" in ids  # template
    assert "Sales organiser" in ids  # Python (role label)


def test_polish_plural_forms_are_used():
    with translation.override("pl"):
        assert translation.ngettext("order", "orders", 5) == "zamówień"
        assert translation.ngettext("order", "orders", 22) == "zamówienia"
        assert translation.ngettext("order", "orders", 1) == "zamówienie"
        assert translation.ngettext("%(n)s attempt", "%(n)s attempts", 12) % {"n": 12} == "12 prób"
