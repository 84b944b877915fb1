"""Filter fields shared by the API's filter sets."""
from django_filters import rest_framework as filters

from .api import INT64_MAX, INT64_MIN


class IdFilter(filters.NumberFilter):
    """An integer filter bounded to the database's 64-bit range (beyond it SQLite raised OverflowError: 500)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", INT64_MIN)
        kwargs.setdefault("max_value", INT64_MAX)
        super().__init__(*args, **kwargs)
