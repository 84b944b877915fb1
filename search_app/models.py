"""Thin models of search runs and candidates (see search_app.services / selectors)."""
