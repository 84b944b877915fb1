"""REST views of execution profiles: list/detail (search runs' visibility), team defaults, and fitting a profile
from an uploaded CSV of observed jobs (inline QASM, stored circuit ids, or QASM paths in an uploaded zip)."""
from __future__ import annotations

import io
import zipfile

from django.conf import settings
from django.contrib.auth.models import Group
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from hanas_platform.api import InputError

from .. import selectors, services
from .serializers import (ExecutionProfileDetailSerializer, ExecutionProfileSerializer, FitRequestSerializer,
                          TeamDefaultRequestSerializer, TeamDefaultSerializer)


class ProfileList(generics.ListAPIView):
    """Execution profiles the caller may see (public, their team's, their own), newest version first."""

    serializer_class = ExecutionProfileSerializer

    def get_queryset(self):
        qs = selectors.visible_profiles(self.request.user).order_by("name", "-version")
        name = self.request.query_params.get("name")
        return qs.filter(name=name) if name else qs


class ProfileDetail(generics.RetrieveAPIView):
    """One profile: /api/execution-profiles/NAME/ (newest visible version) or NAME@vN; 404 naming it."""

    serializer_class = ExecutionProfileDetailSerializer

    def get_object(self):
        return selectors.profile_get(self.request.user, self.kwargs["ref"], status_code=404)


class TeamDefaults(APIView):
    """GET: the default profiles of the caller's teams. POST {team, scope, scope_value, profile}: mark one."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: TeamDefaultSerializer(many=True)})
    def get(self, request):
        from ..models import TeamDefaultProfile

        rows = TeamDefaultProfile.objects.filter(team__user=request.user).select_related("team", "profile")
        return Response(TeamDefaultSerializer(rows, many=True).data)

    @extend_schema(request=TeamDefaultRequestSerializer, responses={200: TeamDefaultSerializer})
    def post(self, request):
        ser = TeamDefaultRequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        team = Group.objects.filter(name=data["team"]).first()
        if team is None:
            raise InputError(f"unknown team {data['team']!r}", field="team", status_code=404)
        row = services.team_default_set(user=request.user, team=team, scope=data["scope"],
                                        scope_value=data["scope_value"], profile_ref=data["profile"])
        return Response(TeamDefaultSerializer(row).data)


def _zip_members(upload) -> dict[str, str]:
    """QASM files of an uploaded zip by their path inside it (size limits checked before reading)."""
    limit = settings.HANAS_MAX_CIRCUIT_BYTES
    try:
        archive = zipfile.ZipFile(io.BytesIO(upload.read()))
    except zipfile.BadZipFile as exc:
        raise InputError(f"circuits is not a zip file: {exc}", field="circuits") from exc
    out = {}
    for info in archive.infolist():
        if info.is_dir():
            continue
        if info.file_size > limit:
            raise InputError(f"{info.filename} is {info.file_size} bytes; the limit is HANAS_MAX_CIRCUIT_BYTES="
                             f"{limit}", field="circuits", status_code=413)
        try:
            out[info.filename.lstrip("./")] = archive.read(info).decode()
        except UnicodeDecodeError:
            raise InputError(f"{info.filename} is not UTF-8 text", field="circuits") from None
    return out


class ProfileFit(APIView):
    """Fit a new version of a named profile from a CSV of observed jobs (columns backend, shots,
    observed_seconds, and per row one of qasm (inline OpenQASM), circuit (a stored circuit id) or qasm_path
    (a file in the uploaded `circuits` zip); optional n_circuits, snapshot, job_id). Multipart `file` (CSV) and
    `circuits` (zip), or JSON with `csv`. Small logs are fitted at once (201); logs with more than
    HANAS_SYNC_FIT_MAX_ROWS rows answer 202 with a job URL."""

    permission_classes = [IsAuthenticated]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(request=FitRequestSerializer, responses={201: ExecutionProfileDetailSerializer,
                                                            202: OpenApiTypes.OBJECT})
    def post(self, request):
        from benchmarks_app import selectors as bench_selectors
        from benchmarks_app import services as bench_services
        from cost_engine.execution import TERMS

        if not hasattr(request.data, "keys"):
            raise InputError("the body must be a JSON object or a multipart form", field="body")
        unknown = sorted(set(request.data) - set(FitRequestSerializer().fields) - {"file", "circuits"})
        if unknown:
            raise InputError(f"unknown field(s) {unknown}", field=unknown[0])
        ser = FitRequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        team = None
        if data.get("team"):
            team = Group.objects.filter(name=data["team"]).first()
            if team is None:
                raise InputError(f"unknown team {data['team']!r}", field="team")
        terms = [t.strip() for t in data["terms"].split(",") if t.strip()] if data.get("terms") else None
        if terms and set(terms) - set(TERMS):
            raise InputError(f"unknown term(s) {sorted(set(terms) - set(TERMS))}; known: {list(TERMS)}",
                             field="terms")
        services._check_name(data["name"], request.user)
        if "file" in request.FILES:
            raw = request.FILES["file"].read()
            try:
                text = raw.decode()
            except UnicodeDecodeError:
                raise InputError("file is not UTF-8 text", field="file") from None
        elif data.get("csv"):
            text = data["csv"]
        else:
            raise InputError("give the observed-jobs CSV as `file` or `csv`", field="file")
        rows = services.parse_csv_log(text, where="csv")
        members = _zip_members(request.FILES["circuits"]) if "circuits" in request.FILES else {}
        # every row's circuit is stored (deduplicated) before any fitting: the job then reads circuit ids
        prepared = []
        for line, row in enumerate(rows, 2):
            try:
                if row.get("circuit"):
                    circuit = bench_selectors.circuit_get(row["circuit"])
                elif row.get("qasm"):
                    circuit, _ = bench_services.circuit_create(qasm=row["qasm"], owner=request.user)
                elif row.get("qasm_path"):
                    key = row["qasm_path"].lstrip("./")
                    if key not in members:
                        raise InputError(f"{row['qasm_path']} is not in the uploaded circuits zip", field="qasm_path")
                    circuit, _ = bench_services.circuit_create(qasm=members[key], name=key[:200], owner=request.user)
                else:
                    raise InputError("no qasm, circuit or qasm_path given", field="qasm")
            except InputError as exc:
                raise InputError(f"csv line {line}: {exc}", field=exc.field, status_code=exc.status_code) from exc
            prepared.append({**{k: v for k, v in row.items() if k not in ("qasm", "qasm_path")},
                             "circuit": circuit.pk})
        params = {"rows": prepared, "name": data["name"], "team": team.pk if team else None,
                  "visibility": data["visibility"], "scope": data["scope"], "scope_value": data["scope_value"],
                  "test_fraction": data["test_fraction"], "seed": data["seed"], "terms": terms}
        if len(prepared) > settings.HANAS_SYNC_FIT_MAX_ROWS:
            from benchmarks_app import services as jobs

            job = jobs.job_create(kind="fit-execution-profile", owner=request.user, total=len(prepared),
                                  params=params)
            jobs.job_dispatch(job)  # broker down: the job is marked failed, 503 naming the cause
            url = request.build_absolute_uri(reverse("job-detail", args=[job.pk]))
            return Response({"job": str(job.pk), "status_url": url, "status": "queued", "rows": len(prepared)},
                            status=status.HTTP_202_ACCEPTED, headers={"Location": url})
        row = services.fit_from_params(params, owner=request.user)
        return Response(ExecutionProfileDetailSerializer(row).data, status=status.HTTP_201_CREATED)
