"""Bokeh's integrity checks on every page's document (``check_integrity``: a glyph naming a column its source lacks,
a figure without renderers, an empty layout, ...). The served app skips them per session (``app/app_hooks.py``:
~40 ms of CPU each), so they run here, once per page."""

from __future__ import annotations

import pytest
from bokeh.core.validation import check_integrity
from bokeh.document import Document
from bokeh.settings import settings
from panel.io.state import set_curdoc

import app.site as site_module
from app.app_hooks import skip_document_validation
from app.pages import PAGES

#: no training or lab run: the checks concern the models a session is built with
QUIET = {"deep": {"auto_train": "false"}, "remedies": {"auto_run": "false"}}


@pytest.mark.parametrize("slug", [p.slug for p in PAGES])
def test_every_page_document_passes_bokehs_integrity_checks(slug, monkeypatch):
    monkeypatch.setattr(site_module, "session_query", lambda: {"page": slug, **QUIET.get(slug, {})})
    doc = Document()
    with set_curdoc(doc):
        site = site_module.make_site()
        doc.add_root(site.view.get_root(doc))
    issues = check_integrity([m for root in doc.roots for m in root.references()])
    assert issues.error == [] and issues.warning == [], (issues.error, issues.warning)
    site.page.close()


def test_the_served_app_skips_validation_unless_asked_for(monkeypatch):
    monkeypatch.delenv("BOKEH_VALIDATE_DOC", raising=False)
    try:
        skip_document_validation()
        assert settings.perform_document_validation() is False
        settings.perform_document_validation.unset_value()
        monkeypatch.setenv("BOKEH_VALIDATE_DOC", "true")
        skip_document_validation()
        assert settings.perform_document_validation() is True
    finally:
        settings.perform_document_validation.unset_value()
