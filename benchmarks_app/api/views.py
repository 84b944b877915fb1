"""REST views of benchmarks_app: jobs, the calibration store, circuits, estimates, leaderboards, trends."""
from __future__ import annotations

import json

from django.conf import settings
from django.db.models import Count
from django.http import Http404
from django.urls import reverse
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, status
from rest_framework import serializers as drf_serializers
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from cost_engine.errors import CostEngineError
from hanas_platform.api import INT64_MAX, INT64_MIN, InputError, response_doc
from hanas_platform.csv_export import CSVExportMixin
from hanas_platform.filters import IdFilter

from .. import selectors, services
from ..models import CalibrationSnapshot, Circuit, CostEstimate
from .serializers import (BackendDetailSerializer, BackendSerializer, CircuitCreateSerializer, CircuitSerializer,
                          CostEstimateListSerializer, CostEstimateSerializer, EstimateRequestSerializer, JobSerializer,
                          SnapshotDetailSerializer, SnapshotSummarySerializer)


class JobDetailView(generics.RetrieveAPIView):
    """Status, progress and result of an asynchronous job (returned as the task URL of 202 answers)."""

    serializer_class = JobSerializer
    lookup_url_kwarg = "job_id"

    def get_object(self):
        try:
            return selectors.job_get(self.kwargs["job_id"])
        except Exception as exc:  # DoesNotExist or a malformed UUID
            raise Http404("No such job") from exc


# --- calibration store ------------------------------------------------------------------------------
def _int_param(request, name):
    value = request.query_params.get(name)
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        raise InputError(f"{name} must be an integer", field=name) from None
    if not INT64_MIN <= number <= INT64_MAX:
        raise InputError(f"{name} must be a 64-bit integer", field=name)
    return number


SINCE_UNTIL = [OpenApiParameter("since", OpenApiTypes.STR, description="ISO date (from 00:00 UTC) or date-time"),
               OpenApiParameter("until", OpenApiTypes.STR,
                                description="ISO date (the whole day, to 23:59:59.999999 UTC) or date-time")]


LIST_FILTERS = [filters.DjangoFilterBackend, SearchFilter, OrderingFilter]
PROFILE_PARAMS = [OpenApiParameter("profile", OpenApiTypes.STR,
                                   description="execution profile NAME or NAME@vN for wallclock_s (default: your "
                                               "team's default for the backend, else ibm-default)"),
                  OpenApiParameter("n_circuits", OpenApiTypes.INT, description="circuit executions per job")]
PROFILE_QUERY = ("profile", "n_circuits")


def profile_selectors():
    from profiles_app import selectors as profile_sel

    return profile_sel


def _profile(request, ref, backend):
    """(row, engine profile, notes): ``ref`` if given (unknown -> 400 naming it), else the caller's team
    default for ``backend``, else the built-in ibm-default."""
    return profile_selectors().resolve(request.user, ref or None, backend)


def _n_circuits(request):
    return profile_selectors().n_circuits_param(request.query_params.get("n_circuits"))


def _profile_fields(row, engine, notes) -> dict:
    """What a leaderboard or trend answer says about its profile (the ref also as a scalar, for CSV exports)."""
    return {"execution_profile": profile_selectors().describe(row, engine, notes),
            "execution_profile_ref": engine.label}


class BackendList(generics.ListAPIView):
    """Backends with their latest calibration's key metrics."""

    serializer_class = BackendSerializer
    filter_backends = LIST_FILTERS
    search_fields = ["name", "processor_family"]
    ordering_fields = ["name", "num_qubits", "processor_family", "snapshot_count"]

    @extend_schema(parameters=[OpenApiParameter("processor_family", OpenApiTypes.STR),
                               OpenApiParameter("num_qubits", OpenApiTypes.INT),
                               OpenApiParameter("min_qubits", OpenApiTypes.INT),
                               OpenApiParameter("max_qubits", OpenApiTypes.INT)])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        r = self.request
        return selectors.backend_list(processor_family=r.query_params.get("processor_family") or None,
                                      num_qubits=_int_param(r, "num_qubits"), min_qubits=_int_param(r, "min_qubits"),
                                      max_qubits=_int_param(r, "max_qubits"), user=r.user).annotate(
            snapshot_count=Count("snapshots", filter=selectors.snapshot_visibility_q(r.user, "snapshots__")))


class BackendDetail(generics.RetrieveAPIView):
    serializer_class = BackendDetailSerializer

    def get_object(self):
        backend = selectors.backend_get(self.kwargs["name"], self.request.user)
        # documented on the detail as on the list: the snapshots this caller may see
        backend.snapshot_count = selectors.visible_snapshots(self.request.user, backend.snapshots.all()).count()
        return backend


class SnapshotList(generics.ListAPIView):
    """A backend's snapshots, newest first (summary metrics; the detail has the full data)."""

    serializer_class = SnapshotSummarySerializer

    @extend_schema(parameters=SINCE_UNTIL)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no backend in the URL
            return CalibrationSnapshot.objects.none()
        backend = selectors.backend_get(self.kwargs["name"], self.request.user)
        return selectors.snapshot_summaries(backend, self.request.query_params.get("since"),
                                            self.request.query_params.get("until"))


class SnapshotDetail(generics.RetrieveDestroyAPIView):
    """A snapshot with its full data. DELETE: staff or the uploader (its estimates go with it)."""

    serializer_class = SnapshotDetailSerializer

    def get_object(self):
        return selectors.snapshot_get(selectors.backend_get(self.kwargs["name"], self.request.user),
                                      self.kwargs["snapshot_id"])

    def perform_destroy(self, instance):
        services.snapshot_delete(instance, self.request.user)


class SnapshotPromote(APIView):
    """Staff make an uploaded snapshot public: it may then become the backend's "latest" for everyone."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=SnapshotSummarySerializer)
    def post(self, request, name, snapshot_id):
        snap = selectors.snapshot_get(selectors.backend_get(name, request.user), snapshot_id)
        return Response(SnapshotSummarySerializer(services.snapshot_promote(snap, request.user)).data)


class SnapshotHide(APIView):
    """Staff or the uploader hide a snapshot (``{"hidden": false}`` shows it again): hidden, it drops out of
    "latest", leaderboards and trends for everyone else."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=inline_serializer("SnapshotHide", {"hidden": drf_serializers.BooleanField(default=True)}),
                   responses=SnapshotSummarySerializer)
    def post(self, request, name, snapshot_id):
        hidden = request.data.get("hidden", True) if hasattr(request.data, "get") else True
        if not isinstance(hidden, bool):
            raise InputError("hidden must be true or false", field="hidden")
        snap = selectors.snapshot_get(selectors.backend_get(name, request.user), snapshot_id)
        return Response(SnapshotSummarySerializer(services.snapshot_set_hidden(snap, request.user, hidden)).data)


POINTS_DOC = "list: {snapshot_id, calibrated_at, value} in calibrated_at order"


class TrendView(APIView):
    """Time series of one summary metric, ordered by calibrated_at."""

    @extend_schema(parameters=[OpenApiParameter("metric", OpenApiTypes.STR, enum=list(selectors.TREND_FIELDS))]
                   + SINCE_UNTIL,
                   responses=response_doc("Trend", backend="backend name", metric="summary metric",
                                          points=POINTS_DOC))
    def get(self, request, name):
        backend = selectors.backend_get(name, request.user)
        metric = request.query_params.get("metric") or "t1_median"
        points = selectors.trend(backend, metric, request.query_params.get("since"), request.query_params.get("until"))
        return Response({"backend": backend.name, "metric": metric, "points": points})


class QubitHistoryView(APIView):
    @extend_schema(parameters=[OpenApiParameter("field", OpenApiTypes.STR, enum=list(selectors.QUBIT_FIELDS))]
                   + SINCE_UNTIL,
                   responses=response_doc("QubitHistory", backend="backend name", qubit="qubit index",
                                          field="qubit property", points=POINTS_DOC))
    def get(self, request, name, qubit):
        backend = selectors.backend_get(name, request.user)
        field = request.query_params.get("field") or "t1"
        points = selectors.qubit_history(backend, qubit, field, request.query_params.get("since"),
                                         request.query_params.get("until"))
        return Response({"backend": backend.name, "qubit": qubit, "field": field, "points": points})


class EdgeHistoryView(APIView):
    @extend_schema(parameters=SINCE_UNTIL,
                   responses=response_doc("EdgeHistory", backend="backend name", edge="[q0, q1]",
                                          points="list: {snapshot_id, calibrated_at, gate, error, duration_s}"))
    def get(self, request, name, q0, q1):
        backend = selectors.backend_get(name, request.user)
        points = selectors.edge_history(backend, q0, q1, request.query_params.get("since"),
                                        request.query_params.get("until"))
        return Response({"backend": backend.name, "edge": [q0, q1], "points": points})


class DiffView(APIView):
    """The qubits and edges that changed most between two snapshots (ids or ISO dates)."""

    @extend_schema(parameters=[OpenApiParameter("from", OpenApiTypes.STR, required=True),
                               OpenApiParameter("to", OpenApiTypes.STR, required=True),
                               OpenApiParameter("top", OpenApiTypes.INT)],
                   responses=response_doc("SnapshotDiff", backend="backend name",
                                          from_="object: {snapshot_id, calibrated_at}",
                                          to="object: {snapshot_id, calibrated_at}",
                                          qubits="list: {qubit, field, relative_change, from, to, changes}, "
                                                 "largest change first",
                                          edges="list: {edge, gate, from, to, relative_change, broken_now, "
                                                "broken_before}, largest change first",
                                          summary="object: summary metric -> {from, to}"))
    def get(self, request, name):
        backend = selectors.backend_get(name, request.user)
        old = selectors.resolve_snapshot_ref(backend, request.query_params.get("from"), "from")
        new = selectors.resolve_snapshot_ref(backend, request.query_params.get("to"), "to")
        top = _int_param(request, "top") or 10
        return Response(selectors.snapshot_diff(backend, old, new, top=min(max(top, 1), 200)))


class CalibrationUpload(APIView):
    """Upload a calibration: our JSON, IBM properties JSON, or {"properties": ..., "configuration": ...}; as a
    JSON body or a multipart ``file``. 201 created, 200 already stored, 400 naming the bad field."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: SnapshotSummarySerializer,
                                                           200: SnapshotSummarySerializer},
                   parameters=[OpenApiParameter("team", OpenApiTypes.STR, description="share the upload with this "
                                                "team of yours (default: your only team)")])
    def post(self, request):
        limit = settings.HANAS_MAX_UPLOAD_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:  # refused before the body is read
            raise InputError(f"upload is {declared} bytes; the limit is HANAS_MAX_UPLOAD_BYTES={limit}",
                             field="file", status_code=413)
        payload = request.data
        team = request.query_params.get("team")
        if "file" in getattr(request, "FILES", {}):
            if request.FILES["file"].size > limit:
                raise InputError(f"uploaded file is {request.FILES['file'].size} bytes; the limit is "
                                 f"HANAS_MAX_UPLOAD_BYTES={limit}", field="file", status_code=413)
            team = team or request.data.get("team")
            raw = request.FILES["file"].read()
            try:
                payload = json.loads(raw)
            except ValueError as exc:
                raise InputError(f"uploaded file is not valid JSON: {exc}", field="file") from exc
        try:
            snapshot, created = services.upload_calibration(payload, user=request.user, team_name=team)
        except CostEngineError as exc:
            raise InputError(str(exc), field=exc.field or "calibration") from exc
        body = dict(SnapshotSummarySerializer(snapshot).data, created=created)
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
def _default_options():
    from cost_engine.quantum import MODEL_VERSION

    return services.cost_options({}).options_hash(), MODEL_VERSION


def _query_value(name, raw, default):
    """A cost option from a query string, cast like its CostOptions default (bool: true/false/1/0; a None default
    takes a float or "null")."""
    text = str(raw).strip()
    if isinstance(default, bool):
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise InputError(f"{name} must be true or false", field=name)
    if default is None and text.lower() in ("null", "none"):
        return None
    cast = int if isinstance(default, int) else float if isinstance(default, float) or default is None else str
    try:
        return cast(text)
    except ValueError:
        raise InputError(f"{name} must be {'an integer' if cast is int else 'a number'}", field=name) from None


def _option_params() -> list:
    """Query parameters documenting every CostOptions field (leaderboards and cost trends take them all)."""
    import dataclasses

    from cost_engine.quantum import CostOptions

    kinds = {bool: OpenApiTypes.BOOL, int: OpenApiTypes.INT, float: OpenApiTypes.NUMBER, str: OpenApiTypes.STR}
    return [OpenApiParameter(f.name, kinds.get(type(f.default), OpenApiTypes.NUMBER),
                             description=f"cost option (default {f.default!r})") for f in dataclasses.fields(CostOptions)]


def _options_from_query(q, allowed=()):
    """The cost options of a GET query (every CostOptions field may be given) and the current model version.
    Any other parameter than the options and ``allowed`` is a 400 naming it."""
    import dataclasses

    from cost_engine.quantum import MODEL_VERSION, CostOptions

    defaults = {f.name: f.default for f in dataclasses.fields(CostOptions)}
    unknown = sorted(set(q) - set(defaults) - set(allowed) - {"format"})
    if unknown:
        raise InputError(f"unknown query parameter(s) {unknown}; allowed: {sorted(set(allowed) | set(defaults))}",
                         field=unknown[0])
    opts = {name: _query_value(name, q[name], default) for name, default in defaults.items()
            if q.get(name) not in (None, "")}
    return services.cost_options(opts), MODEL_VERSION


class CircuitFilter(filters.FilterSet):
    tag = filters.CharFilter(method="filter_tag")
    is_reference = filters.BooleanFilter()
    min_qubits = IdFilter(field_name="num_qubits", lookup_expr="gte")
    max_qubits = IdFilter(field_name="num_qubits", lookup_expr="lte")
    name = filters.CharFilter(method="filter_name", help_text="part of the circuit's name (yours, if you named it)")

    class Meta:
        model = Circuit
        fields = ["is_reference", "name"]

    def filter_name(self, qs, name, value):
        from django.db.models import Q

        user = getattr(self.request, "user", None)
        cond = Q(name__icontains=value)
        if user is not None and user.is_authenticated:
            cond = (Q(name__icontains=value) & ~Q(aliases__owner=user)) | Q(aliases__owner=user,
                                                                           aliases__name__icontains=value)
        return qs.filter(cond).distinct()

    def filter_tag(self, qs, name, value):
        return qs.filter(tags__contains=[value]) if settings.DATABASES["default"]["ENGINE"].endswith(
            "postgresql") else qs.filter(tags__icontains=f'"{value}"')


class CircuitListCreate(generics.ListCreateAPIView):
    """Stored circuits. POST OpenQASM 2 or 3 (limits: HANAS_MAX_CIRCUIT_QUBITS / _GATES / _BYTES)."""

    queryset = Circuit.objects.all()
    filterset_class = CircuitFilter
    filter_backends = LIST_FILTERS
    search_fields = ["name", "tags"]
    ordering_fields = ["id", "name", "num_qubits", "num_gates", "created_at"]

    def get_serializer_class(self):
        return CircuitCreateSerializer if self.request.method == "POST" else CircuitSerializer

    @extend_schema(request=CircuitCreateSerializer, responses={201: CircuitSerializer, 200: CircuitSerializer})
    def post(self, request, *args, **kwargs):
        ser = CircuitCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        circuit, created = services.circuit_create(owner=request.user, **ser.validated_data)
        return Response(CircuitSerializer(circuit, context={"request": request}).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class CircuitDetail(generics.RetrieveAPIView):
    serializer_class = CircuitSerializer

    def get_object(self):
        return selectors.circuit_get(self.kwargs["pk"])


class EstimateFilter(filters.FilterSet):
    circuit = IdFilter(field_name="circuit_id")
    backend = filters.CharFilter(method="filter_backend")
    since = filters.CharFilter(method="filter_since", help_text="ISO date (from 00:00 UTC) or date-time")
    until = filters.CharFilter(method="filter_until", help_text="ISO date (the whole day, UTC) or date-time")
    snapshot = IdFilter(field_name="snapshot_id")
    zero_survival = filters.BooleanFilter()
    model_version = filters.CharFilter(help_text="the cost-model version that computed the estimate")
    current = filters.BooleanFilter(method="filter_current",
                                    help_text="true: the current model version only; false: older versions only")

    class Meta:
        model = CostEstimate
        fields = ["circuit", "snapshot", "zero_survival", "model_version"]

    def filter_current(self, qs, name, value):
        from cost_engine.quantum import MODEL_VERSION

        if value is None:
            return qs
        return qs.filter(model_version=MODEL_VERSION) if value else qs.exclude(model_version=MODEL_VERSION)

    def filter_backend(self, qs, name, value):  # short names (kingston) as in paths; unknown or invisible: no rows
        try:
            return qs.filter(backend=selectors.backend_get(value, self.request.user))
        except InputError:
            return qs.none()

    def filter_since(self, qs, name, value):
        return qs.filter(snapshot_calibrated_at__gte=selectors.parse_when(value, "since"))

    def filter_until(self, qs, name, value):
        return qs.filter(snapshot_calibrated_at__lte=selectors.parse_when(value, "until"))


class EstimateListCreate(CSVExportMixin, generics.ListCreateAPIView):
    """Cost estimates. POST asks "what does this circuit cost on this backend?": small circuits are answered
    at once (201 new, 200 already stored); large ones return 202 with a job URL reporting progress."""

    filterset_class = EstimateFilter
    serializer_class = CostEstimateListSerializer
    filter_backends = LIST_FILTERS
    search_fields = ["circuit__name", "backend__name"]
    ordering_fields = ["id", "created_at", "snapshot_calibrated_at", "wallclock_s", "t_eff_s", "log_esp",
                       "shots_total", "n_swaps", "depth"]

    def get_queryset(self):
        return (selectors.visible_estimates(self.request.user).select_related("circuit", "backend")
                .defer(*selectors.ESTIMATE_ROW_DEFER).order_by("-snapshot_calibrated_at", "-id"))

    @extend_schema(parameters=PROFILE_PARAMS)
    def get(self, request, *args, **kwargs):
        """Stored estimates; wallclock_s under ?profile= (default: your team's, else ibm-default), named in
        the answer's execution_profile (ordering by wallclock_s uses the stored ibm-default value)."""
        row, engine, notes = _profile(request, request.query_params.get("profile"), None)
        n_circuits = _n_circuits(request)
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        rows = list(page if page is not None else queryset)
        profile_selectors().apply_to_estimates(rows, engine, n_circuits)
        data = self.get_serializer(rows, many=True).data
        response = self.get_paginated_response(data) if page is not None else Response({"results": data})
        if isinstance(response.data, dict):  # a CSV export is the bare list of rows
            response.data["execution_profile"] = profile_selectors().describe(row, engine, notes)
        return response

    @extend_schema(request=EstimateRequestSerializer,
                   responses={200: CostEstimateSerializer, 201: CostEstimateSerializer, 202: OpenApiTypes.OBJECT,
                              503: OpenApiTypes.OBJECT})
    def post(self, request, *args, **kwargs):
        with services.circuits_discarded_on_error():  # a failed estimate leaves no new circuit behind
            return self._estimate(request)

    def _estimate(self, request):
        ser = EstimateRequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        # options and snapshot are checked before an inline circuit is stored: a bad request writes nothing
        options = services.cost_options({k: data[k] for k in services.cost_option_names() if k in data})
        snapshot = selectors.snapshot_for(data["backend"], data.get("snapshot") or "latest", user=request.user)
        prof_row, engine, prof_notes = _profile(request, data.get("profile"), snapshot.backend)
        n_circuits = data.get("n_circuits") or 1
        if data.get("circuit") is not None:
            circuit = selectors.circuit_get(data["circuit"])
        elif data.get("qasm"):
            circuit, _ = services.circuit_create(qasm=data["qasm"], name=data.get("name", ""), owner=request.user)
        else:
            raise InputError("give a circuit id or inline qasm", field="circuit")
        if circuit.num_qubits > snapshot.backend.num_qubits:
            raise InputError(f"circuit has {circuit.num_qubits} qubits; {snapshot.backend.name} has "
                             f"{snapshot.backend.num_qubits}", field="circuit")
        if circuit.num_gates * max(circuit.num_qubits, 1) > settings.HANAS_SYNC_ESTIMATE_MAX_WORK:
            job = services.job_create(kind="estimate", owner=request.user, total=1, params={
                "circuit": circuit.pk, "snapshot": snapshot.pk, "options": options.to_dict(),
                "profile": prof_row.pk if prof_row else None, "n_circuits": n_circuits})
            services.job_dispatch(job)  # broker down: the job is marked failed, 503 naming the cause
            url = request.build_absolute_uri(reverse("job-detail", args=[job.pk]))
            return Response({"job": str(job.pk), "status_url": url, "status": "queued",
                             "execution_profile": profile_selectors().describe(prof_row, engine, prof_notes)},
                            status=status.HTTP_202_ACCEPTED, headers={"Location": url})
        estimate, created = services.estimate_get_or_create(circuit, snapshot, options)
        body = profile_selectors().apply_to_body(
            dict(CostEstimateSerializer(estimate, context={"request": request}).data), estimate.report, prof_row,
            engine, prof_notes, n_circuits)
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class EstimateDetail(generics.RetrieveAPIView):
    """One stored estimate; wall-clock under ?profile=NAME[@vN] (default: your team's, else ibm-default) and
    ?n_circuits=."""

    serializer_class = CostEstimateSerializer

    def get_queryset(self):
        return selectors.visible_estimates(self.request.user)

    @extend_schema(parameters=PROFILE_PARAMS)
    def get(self, request, *args, **kwargs):
        est = self.get_object()
        row, engine, notes = _profile(request, request.query_params.get("profile"), est.backend)
        body = profile_selectors().apply_to_body(dict(self.get_serializer(est).data), est.report, row, engine, notes,
                                                 _n_circuits(request))
        return Response(body)


ROW_DOC = ("list: {rank, backend, processor_family, circuit, circuit_name, snapshot_id, snapshot_calibrated_at, "
           "value, estimate, zero_survival, wallclock_s, wallclock_interval_s, t_eff_s, log_esp, n_swaps, runnable, unrunnable_reason, "
           "note}: ranked rows first; then runnable rows without a value; then unrunnable rows (stored refusal or "
           "zero survival), rank and value null, with the reason")
METRIC_PARAM = OpenApiParameter("metric", OpenApiTypes.STR, enum=sorted(selectors.LEADERBOARD_METRICS))


class BackendLeaderboard(CSVExportMixin, APIView):
    """Which machine runs this circuit best now: each backend's latest snapshot, ranked."""

    @extend_schema(parameters=[OpenApiParameter("circuit", OpenApiTypes.INT, required=True), METRIC_PARAM,
                               *_option_params(), *PROFILE_PARAMS],
                   responses=response_doc("BackendLeaderboard", circuit="circuit id", circuit_name="circuit name",
                                          metric="ranking metric", higher_is_better="ranking direction",
                                          options="object: the cost options", rows=ROW_DOC,
                                          unrunnable="list: {backend, reason}: backends that cannot run the "
                                                     "circuit on their latest snapshot",
                                          not_estimated="backends with no stored estimate on their latest snapshot",
                                          too_small="backends with fewer qubits than the circuit",
                                          execution_profile="object: the profile wallclock_s is computed with",
                                          execution_profile_ref="name@vN of that profile"))
    def get(self, request):
        if not request.query_params.get("circuit"):
            raise InputError("give ?circuit=<id>", field="circuit")
        circuit = selectors.circuit_get(request.query_params["circuit"])
        options, version = _options_from_query(request.query_params, ("circuit", "metric", *PROFILE_QUERY))
        prof_row, engine, prof_notes = _profile(request, request.query_params.get("profile"), None)
        board = selectors.backend_leaderboard(circuit, request.query_params.get("metric"), options.options_hash(),
                                              version, user=request.user, engine=engine,
                                              n_circuits=_n_circuits(request))
        rows = board["rows"]  # named by the caller's alias (selectors.with_alias)
        alias = selectors.circuit_aliases(request.user, [circuit.pk]).get(circuit.pk)
        return Response({"circuit": circuit.pk, "circuit_name": alias[0] if alias and alias[0] else circuit.name,
                         "metric": board["metric"],
                         "higher_is_better": board["higher_is_better"], "options": options.to_dict(),
                         **_profile_fields(prof_row, engine, prof_notes),
                         "rows": rows, "unrunnable": board["unrunnable"],
                         "not_estimated": board["not_estimated"], "too_small": board["too_small"]})


class CircuitLeaderboard(CSVExportMixin, APIView):
    """Which circuits are cheapest on this backend's latest snapshot."""

    @extend_schema(parameters=[OpenApiParameter("backend", OpenApiTypes.STR, required=True), METRIC_PARAM,
                               *_option_params(), *PROFILE_PARAMS],
                   responses=response_doc("CircuitLeaderboard", backend="backend name", metric="ranking metric",
                                          snapshot_id="the backend's latest snapshot",
                                          higher_is_better="ranking direction", rows=ROW_DOC,
                                          unrunnable="list: {circuit, circuit_name, reason}",
                                          execution_profile="object: the profile wallclock_s is computed with",
                                          execution_profile_ref="name@vN of that profile"))
    def get(self, request):
        if not request.query_params.get("backend"):
            raise InputError("give ?backend=<name>", field="backend")
        backend = selectors.backend_get(request.query_params["backend"], request.user)
        options, version = _options_from_query(request.query_params, ("backend", "metric", *PROFILE_QUERY))
        prof_row, engine, prof_notes = _profile(request, request.query_params.get("profile"), backend)
        board = selectors.circuit_leaderboard(backend, request.query_params.get("metric"), options.options_hash(),
                                              version, user=request.user, engine=engine,
                                              n_circuits=_n_circuits(request))
        return Response({"backend": backend.name, "metric": board["metric"], "snapshot_id": board["snapshot_id"],
                         **_profile_fields(prof_row, engine, prof_notes),
                         "higher_is_better": board["higher_is_better"],
                         "rows": board["rows"], "unrunnable": board["unrunnable"]})


COST_TREND_DOC = response_doc(
    "CostTrend", circuit="circuit id", backend="backend name", metric="cost metric", options="object: the cost options",
    points="list: {snapshot_id, calibrated_at, value, estimate, zero_survival, runnable, unrunnable_reason, drivers: "
           "the calibration terms that moved the metric most since the previous runnable point: {term, delta, unit, "
           "explains, quantity, from, to, text, elements: [{kind: qubit|coupler|circuit|routing|unattributed, "
           "qubit|coupler, gate, field, from, to, count, contribution}]}}; a snapshot where the backend cannot run "
           "the circuit has value null, runnable false and the reason",
    pending="estimates still being computed (202)", job_url="the job computing them, or null",
    execution_profile="object: the profile wallclock_s is computed with",
    execution_profile_ref="name@vN of that profile", n_circuits="circuit executions per job")


class CostTrend(CSVExportMixin, APIView):
    """One point per snapshot of the backend: the circuit's cost metric over time. Missing estimates are
    computed on demand (at once when few, else in a background job whose URL is returned)."""

    @extend_schema(parameters=[
        OpenApiParameter("backend", OpenApiTypes.STR, required=True),
        OpenApiParameter("metric", OpenApiTypes.STR, enum=list(selectors.TREND_METRICS)),
        *SINCE_UNTIL, *_option_params(), *PROFILE_PARAMS],
        responses={200: COST_TREND_DOC, 202: COST_TREND_DOC})
    def get(self, request, pk):
        q = request.query_params
        circuit = selectors.circuit_get(pk)
        if not q.get("backend"):
            raise InputError("give ?backend=<name>", field="backend")
        backend = selectors.backend_get(q["backend"], request.user)
        metric = q.get("metric") or "wallclock_s"
        if metric not in selectors.TREND_METRICS:
            raise InputError(f"unknown metric {metric!r}; allowed: {list(selectors.TREND_METRICS)}", field="metric")
        since, until = selectors.parse_when(q.get("since"), "since"), selectors.parse_when(q.get("until"), "until")
        options, version = _options_from_query(q, ("backend", "metric", "since", "until", *PROFILE_QUERY))
        prof_row, engine, prof_notes = _profile(request, q.get("profile"), backend)
        n_circuits = _n_circuits(request)
        if circuit.num_qubits > backend.num_qubits:
            raise InputError(f"circuit has {circuit.num_qubits} qubits; {backend.name} has {backend.num_qubits}",
                             field="circuit")
        snaps, ests, refusals = selectors.cost_trend_points(circuit, backend, options.options_hash(), version,
                                                            since, until)
        missing = [s for s in snaps if s.pk not in ests and s.pk not in refusals]
        job_url = None
        if missing and len(missing) <= settings.HANAS_SYNC_TREND_MAX_MISSING:
            for snap in missing:  # a refused snapshot is data (unrunnable there), not an error of this request
                try:
                    ests[snap.pk], _ = services.estimate_get_or_create(circuit, snap, options)
                except services.EstimateRefused as exc:
                    refusals[snap.pk] = exc.refusal
        elif missing:
            job = services.job_create(kind="cost-trend", owner=request.user, total=len(missing), params={
                "circuit": circuit.pk, "snapshots": [s.pk for s in missing], "options": options.to_dict()})
            services.job_dispatch(job)
            job_url = request.build_absolute_uri(reverse("job-detail", args=[job.pk]))
        if metric == "wallclock_s":  # under the profile, from each estimate's stored terms
            profile_selectors().apply_to_estimates(list(ests.values()), engine, n_circuits)
        points = selectors.cost_trend_rows(snaps, ests, refusals, metric)
        body = {"circuit": circuit.pk, "backend": backend.name, "metric": metric, "options": options.to_dict(),
                "points": points, "pending": len(missing) if job_url else 0, "job_url": job_url,
                **_profile_fields(prof_row, engine, prof_notes), "n_circuits": n_circuits}
        return Response(body, status=status.HTTP_202_ACCEPTED if job_url else status.HTTP_200_OK)
