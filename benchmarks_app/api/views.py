from rest_framework import generics

from .. import selectors
from .serializers import JobSerializer


class JobDetailView(generics.RetrieveAPIView):
    """Status, progress and result of an asynchronous job (returned as the task URL of 202 answers)."""

    serializer_class = JobSerializer
    lookup_url_kwarg = "job_id"

    def get_object(self):
        from django.http import Http404

        try:
            return selectors.job_get(self.kwargs["job_id"])
        except Exception as exc:  # DoesNotExist or a malformed UUID
            raise Http404("No such job") from exc
