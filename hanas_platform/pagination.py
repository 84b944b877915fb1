"""List pagination of the API (own module: DRF imports it while its settings load)."""
from django.conf import settings
from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """``?page=`` and ``?page_size=`` (bounded by HANAS_MAX_PAGE_SIZE; larger values are clipped to it)."""

    page_size_query_param = "page_size"

    @property
    def max_page_size(self):
        return settings.HANAS_MAX_PAGE_SIZE
