import math

from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, status
from rest_framework import serializers as drf_serializers
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from hanas_platform.api import InputError, response_doc
from hanas_platform.csv_export import CSVExportMixin
from hanas_platform.filters import IdFilter

from .. import selectors, services
from ..models import Candidate, SearchRun
from .serializers import (CandidateBriefSerializer, CandidateSerializer, DatasetSerializer,
                          SearchRunCreateSerializer, SearchRunSerializer)


class SearchRunFilter(filters.FilterSet):
    dataset = filters.CharFilter()
    backend = filters.CharFilter(method="filter_backend", help_text="backend name; short names (kingston) work")
    status = filters.ChoiceFilter(choices=SearchRun.Status.choices)
    visibility = filters.ChoiceFilter(choices=SearchRun.Visibility.choices)
    owner = filters.CharFilter(field_name="owner__username")

    class Meta:
        model = SearchRun
        fields = ["dataset", "backend", "status", "visibility", "owner"]

    def filter_backend(self, qs, name, value):
        from benchmarks_app.selectors import name_candidates

        return qs.filter(backend_name__in=name_candidates(str(value)))


class SearchRunListCreate(generics.ListCreateAPIView):
    """Search runs the caller may see (public, their team's, their own). POST starts a new run."""

    filterset_class = SearchRunFilter
    filter_backends = [filters.DjangoFilterBackend, SearchFilter, OrderingFilter]
    search_fields = ["name", "dataset", "backend_name"]
    ordering_fields = ["id", "created_at", "finished_at", "name", "status", "generation"]

    def get_queryset(self):
        return selectors.visible_runs(self.request.user)

    def get_serializer_class(self):
        return SearchRunCreateSerializer if self.request.method == "POST" else SearchRunSerializer

    @extend_schema(request=SearchRunCreateSerializer, responses={201: SearchRunSerializer, 503: OpenApiTypes.OBJECT})
    def post(self, request, *args, **kwargs):
        ser = SearchRunCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        run = services.search_create(owner=request.user, **ser.validated_data)
        body = SearchRunSerializer(run, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


class SearchRunDetail(generics.RetrieveAPIView):
    serializer_class = SearchRunSerializer

    def get_object(self):
        return selectors.run_get(self.request.user, self.kwargs["pk"])


class CandidateFilter(filters.FilterSet):
    generation = IdFilter()
    on_front = filters.BooleanFilter()
    runnable = filters.BooleanFilter()
    min_accuracy = filters.NumberFilter(field_name="accuracy", lookup_expr="gte")
    max_cost = filters.NumberFilter(field_name="c_total_s", lookup_expr="lte")

    class Meta:
        model = Candidate
        fields = ["generation", "on_front", "runnable"]


class CandidateList(CSVExportMixin, generics.ListAPIView):
    serializer_class = CandidateSerializer
    filterset_class = CandidateFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no run in the URL
            return Candidate.objects.none()
        return selectors.candidates(selectors.run_get(self.request.user, self.kwargs["pk"]))


PARETO_DOC = response_doc("ParetoFront", run="search run id", status="run status", generation="generations finished",
                          hypervolume="list: front hypervolume after each generation (numbers)",
                          objectives="the three minimised objectives (list of strings)",
                          front="list: candidates on the Pareto front (as /candidates/)")


class ParetoView(CSVExportMixin, APIView):
    @extend_schema(responses=PARETO_DOC)
    def get(self, request, pk):
        run = selectors.run_get(request.user, pk)
        front = CandidateSerializer(selectors.front(run), many=True).data
        return Response({"run": run.pk, "status": run.status, "generation": run.generation,
                         "hypervolume": run.hypervolume, "objectives": ["1 - validation accuracy", "log10 C_total [s]",
                                                                        "trainable parameters"],
                         "front": front})


class CancelView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={200: SearchRunSerializer,
                                            409: OpenApiResponse(description="the run has already finished")},
                   description="Cancel a queued or running search: 200 with the cancelled run; 409 when it has "
                               "already finished (succeeded, failed or cancelled).")
    def post(self, request, pk):
        run = services.search_cancel(selectors.run_get(request.user, pk), request.user)
        return Response(SearchRunSerializer(run, context={"request": request}).data)


class CompareView(APIView):
    @extend_schema(parameters=[OpenApiParameter("other", OpenApiTypes.INT, required=True)],
                   responses=response_doc("CompareRuns", comparable="bool: both runs in one objective space (dataset, "
                                          "objectives, cost-model versions)", reason="why not comparable, or null",
                                          reference_point="the shared hypervolume reference point, or null",
                                          runs="list: per run {run, name, dataset, backend, snapshot_calibrated_at, "
                                          "objective_space, reference_point, hypervolume (of its front against "
                                          "reference_point), front: its Pareto candidates}"))
    def get(self, request, pk):
        other_id = request.query_params.get("other")
        if not other_id:
            raise InputError("give ?other=<run id> to compare with", field="other")
        runs = [selectors.run_get(request.user, pk), selectors.run_get(request.user, other_id)]
        cmp = selectors.compare_runs(runs)
        sides = []
        for side in cmp["sides"]:
            run = side["run"]
            sides.append({"run": run.pk, "name": run.name, "dataset": run.dataset, "backend": run.backend_name,
                          "snapshot_calibrated_at": run.snapshot_calibrated_at,
                          "objective_space": side["objective_space"], "reference_point": side["reference_point"],
                          "hypervolume": side["hypervolume"],
                          "front": CandidateBriefSerializer(side["front"], many=True).data})
        return Response({"comparable": cmp["comparable"], "reason": cmp["reason"],
                         "reference_point": cmp["reference_point"], "runs": sides})


class ArchitectureLeaderboard(CSVExportMixin, APIView):
    @extend_schema(parameters=[
        OpenApiParameter("dataset", OpenApiTypes.STR), OpenApiParameter("backend", OpenApiTypes.STR),
        OpenApiParameter("budget_s", OpenApiTypes.FLOAT, description="cost budget for the accuracy ranking"),
        OpenApiParameter("accuracy_floor", OpenApiTypes.FLOAT, description="floor for the cost ranking"),
        OpenApiParameter("limit", OpenApiTypes.INT, description="per dataset group"),
        OpenApiParameter("include_failed", OpenApiTypes.BOOL, description="also failed and cancelled runs")],
        responses=response_doc("ArchitectureLeaderboard",
                               groups="list: one per objective space (dataset, cost model), by dataset: {dataset, "
                                      "objective_space, reference_point, runs, and the three lists below}",
                               most_accurate_within_budget="list: candidates, most accurate (validation) first "
                                                           "within each dataset group; groups concatenated",
                               cheapest_above_accuracy_floor="list: candidates, cheapest first within each group",
                               hypervolume_by_run="list: {run, name, dataset, backend, generations, hypervolume "
                                                  "(against the group's reference point), status, "
                                                  "objective_space}, largest first within each group"))
    def get(self, request):
        q = request.query_params
        if q.get("robust"):  # ?robust=worst_rank&since=...: worst-case rank over the snapshots of a window
            return Response(robust_board(request))

        def number(name, cast=float):
            if q.get(name) in (None, ""):
                return None
            try:
                value = cast(q[name])
            except ValueError:
                raise InputError(f"{name} must be a number", field=name) from None
            if not math.isfinite(value):
                raise InputError(f"{name} must be a finite number", field=name)
            return value

        limit = number("limit", int) or 20
        include_failed = (q.get("include_failed") or "false").lower()
        if include_failed not in ("true", "false", "1", "0"):
            raise InputError("include_failed must be true or false", field="include_failed")
        board = selectors.architecture_leaderboard(
            request.user, dataset=q.get("dataset") or None, backend=q.get("backend") or None,
            budget_s=number("budget_s"), accuracy_floor=number("accuracy_floor"), limit=min(max(limit, 1), 100),
            include_failed=include_failed in ("true", "1"))
        groups = [{"dataset": g["dataset"], "objective_space": g["objective_space"],
                   "reference_point": g["reference_point"], "runs": g["runs"],
                   "most_accurate_within_budget": CandidateBriefSerializer(g["most_accurate_within_budget"],
                                                                           many=True).data,
                   "cheapest_above_accuracy_floor": CandidateBriefSerializer(g["cheapest_above_accuracy_floor"],
                                                                             many=True).data,
                   "hypervolume_by_run": g["hypervolume_by_run"]} for g in board["groups"]]
        return Response({
            "groups": groups,
            "most_accurate_within_budget": CandidateBriefSerializer(board["most_accurate_within_budget"],
                                                                    many=True).data,
            "cheapest_above_accuracy_floor": CandidateBriefSerializer(board["cheapest_above_accuracy_floor"],
                                                                      many=True).data,
            "hypervolume_by_run": board["hypervolume_by_run"],
        })


# --- fronts re-ranked on other snapshots (issue 16) ----------------------------------------------------------
FRONT_QUEUED = response_doc("FrontQueued", front="object: summary of the queued (or existing) front",
                            job="job id: GET /api/jobs/<id>/ for progress")


class RunFronts(APIView):
    """GET: the run's front on its own snapshot and every re-ranked front (one per snapshot, oldest first) with the
    architectures that entered or left it. POST {backend, snapshot}: re-rank the run on that snapshot ("how would
    this front look on Heron?"): 202 with the queued front and its job (200 when it is already there)."""

    @extend_schema(operation_id="searches_fronts_list", responses=response_doc("RunFronts", run="int", own="the run's own front (summary)",
                                          fronts="list: {id, snapshot, backend, snapshot_calibrated_at, trigger, "
                                                 "status, front_size, entered, left, hypervolume, job: progress}"))
    def get(self, request, pk):
        from .. import fronts

        run = selectors.run_get(request.user, pk)
        return Response({"run": run.pk, "own": fronts.own_summary(run),
                         "fronts": [fronts.summary(f) for f in fronts.fronts_of(run, request.user)]})

    @extend_schema(request=response_doc("FrontRequest", backend="backend name (default: the run's)",
                                        snapshot="'latest' (default), an ISO date or a snapshot id"),
                   responses={202: FRONT_QUEUED, 200: FRONT_QUEUED,
                              409: OpenApiResponse(description="the run has not finished (only finished runs are "
                                                               "re-ranked)")},
                   description="Re-rank a finished run on a snapshot of any backend with enough usable qubits: 202 "
                               "with the queued front and its job; 200 when that front is already computed.")
    def post(self, request, pk):
        from .. import fronts, rerank

        run = selectors.run_get(request.user, pk)
        front, created = rerank.request_front(run, request.data, request.user)
        front = fronts.fronts_of(run, None).get(pk=front.pk)
        body = {"front": fronts.summary(front), "job": str(front.job_id) if front.job_id else None}
        return Response(body, status=status.HTTP_202_ACCEPTED if created or front.status != "succeeded"
                        else status.HTTP_200_OK)


class RunFrontDetail(APIView):
    @extend_schema(operation_id="searches_front_detail",
                   parameters=[OpenApiParameter("limit", OpenApiTypes.INT, description="movers listed (default 50)")],
                   responses=response_doc("RunFront", front="list: candidates on the front at this snapshot, "
                                          "cheapest first, each with rank/cost before (own snapshot) and after",
                                          entered_detail="list", left_detail="list",
                                          movers="list: candidates whose rank or cost moved, largest rank change "
                                                 "first, then largest cost ratio"))
    def get(self, request, pk, ref):
        from .. import fronts

        run = selectors.run_get(request.user, pk)
        raw = request.query_params.get("limit") or "50"
        try:
            limit = int(raw)
        except ValueError:
            raise InputError("limit must be an integer", field="limit") from None
        return Response(fronts.detail(fronts.front_get(run, ref, request.user), limit=min(max(limit, 0), 1000)))


class RobustArchitectureLeaderboard(APIView):
    """Architectures of finished runs by their worst Pareto rank over the snapshots of their backend in a window
    (``robust=worst_rank``; ``since``/``until`` ISO dates, bare dates are whole UTC days)."""

    ALLOWED = {"robust", "since", "until", "dataset", "backend", "limit"}

    @extend_schema(parameters=[OpenApiParameter("robust", OpenApiTypes.STR, description="worst_rank"),
                               OpenApiParameter("since", OpenApiTypes.STR), OpenApiParameter("until", OpenApiTypes.STR),
                               OpenApiParameter("dataset", OpenApiTypes.STR), OpenApiParameter("backend", OpenApiTypes.STR),
                               OpenApiParameter("limit", OpenApiTypes.INT)],
                   responses=response_doc("RobustLeaderboard", robust="the criterion", since="", until="",
                                          architectures="list: {run, genome_key, genome, accuracy, params_total, "
                                                        "worst_rank, best_rank, snapshots, worst_rank_snapshot, "
                                                        "always_on_front, worst_c_total_s}"))
    def get(self, request):
        return Response(robust_board(request))


def robust_board(request) -> dict:
    from benchmarks_app.selectors import parse_when

    from .. import fronts

    q = request.query_params
    unknown = sorted(set(q) - RobustArchitectureLeaderboard.ALLOWED - {"format", "page"})
    if unknown:
        raise InputError(f"unknown parameter(s) {unknown}", field=unknown[0])
    robust = q.get("robust") or "worst_rank"
    if robust not in fronts.ROBUST_CHOICES:
        raise InputError(f"robust must be one of {list(fronts.ROBUST_CHOICES)}", field="robust")
    since = parse_when(q.get("since"), "since", bare_date="start")
    until = parse_when(q.get("until"), "until", bare_date="end")
    try:
        limit = int(q.get("limit") or 20)
    except ValueError:
        raise InputError("limit must be an integer", field="limit") from None
    runs = selectors.visible_runs(request.user)
    if q.get("dataset"):
        runs = runs.filter(dataset=q["dataset"])
    if q.get("backend"):
        runs = runs.filter(backend_name=q["backend"])
    board = fronts.robust_leaderboard(runs, since=since, until=until, limit=min(max(limit, 1), 500),
                                      user=request.user)
    return {"robust": robust, "since": since, "until": until, "architectures": board}


class DatasetListCreate(generics.ListAPIView):
    """Datasets uploaded for searches that the caller may use (their own and their teams'). POST a multipart
    ``file`` (CSV, at most HANAS_MAX_DATASET_BYTES; optional header row; numeric features), with optional
    ``label`` (column name or index; default the column named "label", else the last), ``name`` and ``team``
    (default: the caller's only team). A search config then says ``"dataset": "upload:<id>"``."""

    serializer_class = DatasetSerializer
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        from .. import datasets

        return datasets.visible_datasets(self.request.user)

    @extend_schema(request={"multipart/form-data": inline_serializer("DatasetUpload", {
        "file": drf_serializers.FileField(), "name": drf_serializers.CharField(required=False),
        "label": drf_serializers.CharField(required=False), "team": drf_serializers.CharField(required=False)})},
        responses={201: DatasetSerializer})
    def post(self, request):
        from .. import datasets

        unknown = sorted(set(request.data) - {"file", "name", "label", "team"})
        if unknown:
            raise InputError(f"unknown field(s) {unknown}; allowed: file, label, name, team", field=unknown[0])
        ds = datasets.dataset_create(owner=request.user, name=request.data.get("name") or "",
                                     upload=request.FILES.get("file"), label=request.data.get("label"),
                                     team_name=request.data.get("team"))
        return Response(DatasetSerializer(ds).data, status=status.HTTP_201_CREATED)


class DatasetDetail(generics.RetrieveDestroyAPIView):
    """An uploaded dataset's description. DELETE: its owner, while no search run uses it."""

    serializer_class = DatasetSerializer
    permission_classes = [IsAuthenticated]

    def get_object(self):
        from .. import datasets

        return datasets.dataset_get(self.request.user, self.kwargs["pk"])

    def perform_destroy(self, instance):
        from .. import datasets

        datasets.dataset_delete(instance, self.request.user)


# ---------------------------------------------------------------------------------------- teams
TEAM_MEMBER_DOC = response_doc("TeamMember", username="user name", admin="true when a team admin")


class TeamList(APIView):
    """The caller's teams (staff: all) with their member count and whether the caller administers them."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=inline_serializer("Team", {
        "name": drf_serializers.CharField(), "members": drf_serializers.IntegerField(),
        "is_admin": drf_serializers.BooleanField()}, many=True))
    def get(self, request):
        from .. import teams

        return Response(teams.teams_of(request.user))


class TeamMembers(APIView):
    """A team's members (for its members and staff). POST ``{"username", "admin"}``: a team admin or staff adds a
    member (``admin``: as a team admin too)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=inline_serializer("TeamMemberRow", {
        "username": drf_serializers.CharField(), "admin": drf_serializers.BooleanField()}, many=True))
    def get(self, request, name):
        from .. import teams

        return Response(teams.members(teams.team_get(name, request.user)))

    @extend_schema(request=inline_serializer("TeamMemberAdd", {
        "username": drf_serializers.CharField(), "admin": drf_serializers.BooleanField(default=False)}),
        responses={201: TEAM_MEMBER_DOC})
    def post(self, request, name):
        from .. import teams

        team = teams.team_get(name, request.user)
        data = request.data if isinstance(request.data, dict) else {}
        unknown = sorted(set(data) - {"username", "admin"})
        if unknown:
            raise InputError(f"unknown field(s) {unknown}; allowed: admin, username", field=unknown[0])
        if not isinstance(data.get("username"), str) or not data["username"]:
            raise InputError("give the username to add", field="username")
        admin = data.get("admin", False)
        if not isinstance(admin, bool):
            raise InputError("admin must be true or false", field="admin")
        if not teams.is_team_admin(team, request.user):  # before revealing whether the user exists
            raise InputError("only a team admin or staff may add members", field="team", status_code=403)
        row = teams.member_add(team, teams.user_get(data["username"]), admin=admin, by=request.user)
        return Response(row, status=status.HTTP_201_CREATED)


class TeamMemberDetail(APIView):
    """DELETE: a team admin or staff removes a member (and their admin role)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def delete(self, request, name, username):
        from .. import teams

        team = teams.team_get(name, request.user)
        if not teams.is_team_admin(team, request.user):
            raise InputError("only a team admin or staff may remove members", field="team", status_code=403)
        teams.member_remove(team, teams.user_get(username), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
