"""Importing a user's finished IBM Quantum jobs through qiskit-ibm-runtime into ObservedJob rows (the write
side of manage.py import_ibm_jobs): each job's metrics() timestamps and usage, its Sampler PUBs (circuits,
parameter sets = circuit executions, shots)."""
from __future__ import annotations

import datetime as dt

from django.db import transaction

from cost_engine.errors import CostEngineError
from hanas_platform.api import InputError

from .models import ObservedJob
from .services import observed_job_store


def _parse_stamp(value):
    from django.utils.dateparse import parse_datetime

    if value is None:
        return None
    if isinstance(value, dt.datetime):
        stamp = value
    else:
        stamp = parse_datetime(str(value).replace("Z", "+00:00"))
    if stamp is not None and stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return stamp


def observed_seconds_of(metrics: dict, prefer: str = "timestamps") -> tuple[float | None, str]:
    """(seconds, which figure) from a job's metrics(): running -> finished timestamps (sub-second resolution)
    or usage.quantum_seconds (what IBM bills: whole seconds); the other one when the preferred is missing."""
    stamps = metrics.get("timestamps") or {}
    running, finished = _parse_stamp(stamps.get("running")), _parse_stamp(stamps.get("finished"))
    from_stamps = (finished - running).total_seconds() if running and finished and finished > running else None
    usage = (metrics.get("usage") or {}).get("quantum_seconds")
    usage = float(usage) if isinstance(usage, (int, float)) and usage > 0 else None
    order = [("timestamps.running-finished", from_stamps), ("usage.quantum_seconds", usage)]
    if prefer == "usage":
        order.reverse()
    for name, value in order:
        if value is not None:
            return value, name
    return None, ""


def pub_circuits(inputs: dict, primitive_id: str) -> tuple[list[tuple], str]:
    """[(QuantumCircuit with parameters bound, executions, shots)] of a Sampler V2 job's PUBs, or ([], reason).
    ``inputs`` is RuntimeJobV2.inputs (decoded by qiskit-ibm-runtime's RuntimeDecoder): {"pubs": [(circuit,
    parameter values, shots), ...], "shots": ..., "options": ...}."""
    import numpy as np
    from qiskit import QuantumCircuit

    if "sampler" not in (primitive_id or "").lower():
        return [], f"{primitive_id} job: only Sampler jobs state their shots (Estimator shots follow from precision)"
    pubs = inputs.get("pubs")
    if not pubs:
        return [], "the job's inputs hold no PUBs (not retrievable)"
    default_shots = inputs.get("shots") or (inputs.get("options") or {}).get("default_shots")
    out = []
    for pub in pubs:
        pub = list(pub) if isinstance(pub, (list, tuple)) else [pub]
        circuit = pub[0]
        if not isinstance(circuit, QuantumCircuit):
            return [], f"a PUB's circuit is {type(circuit).__name__}, not a QuantumCircuit"
        values = np.asarray(pub[1]) if len(pub) > 1 and pub[1] is not None else np.zeros((0,))
        shots = pub[2] if len(pub) > 2 and pub[2] is not None else default_shots
        if not shots:
            return [], "a PUB has no shots and the job no default shots"
        executions = 1
        if circuit.num_parameters:
            if values.size == 0:
                return [], "a parameterised PUB has no parameter values"
            values = values.reshape(-1, circuit.num_parameters)
            executions = values.shape[0]
            circuit = circuit.assign_parameters(values[0])
        out.append((circuit, int(executions), int(shots)))
    return out, ""


def _qasm_of(circuit) -> str:
    from qiskit import qasm3

    return qasm3.dumps(circuit)


def import_ibm_jobs(backend: str, since=None, until=None, *, service_factory=None, owner=None, limit=1000,
                    prefer: str = "timestamps") -> dict:
    """Read a user's finished jobs on ``backend`` created in [since, until] through qiskit-ibm-runtime
    (QiskitRuntimeService.jobs, each job's metrics(), inputs PUBs and shots) into ObservedJob rows. Idempotent
    on job id. Everything is fetched before anything is written, so a network failure writes nothing."""
    from benchmarks_app import services as bench_services

    service = (service_factory or bench_services.ibm_service)()
    fetched, skipped = [], []
    try:
        jobs = service.jobs(limit=limit, backend_name=backend, pending=False, created_after=since,
                            created_before=until, descending=False)
        known = set(ObservedJob.objects.filter(job_id__in=[j.job_id() for j in jobs]).values_list("job_id", flat=True))
        for job in jobs:
            jid = job.job_id()
            if jid in known:
                skipped.append({"job": jid, "reason": "already imported"})
                continue
            state = job.status()
            if state != "DONE":
                skipped.append({"job": jid, "reason": f"status {state}"})
                continue
            metrics = job.metrics() or {}
            seconds, source = observed_seconds_of(metrics, prefer)
            if seconds is None:
                skipped.append({"job": jid, "reason": "metrics() has neither running/finished timestamps nor usage"})
                continue
            circuits, why = pub_circuits(job.inputs or {}, job.primitive_id)
            if not circuits:
                skipped.append({"job": jid, "reason": why})
                continue
            fetched.append({"job_id": jid, "created": _parse_stamp(job.creation_date)
                            or _parse_stamp((metrics.get("timestamps") or {}).get("created")),
                            "metrics": metrics, "seconds": seconds, "source": source, "circuits": circuits})
    except (InputError, CostEngineError, bench_services.IBMUnavailable, bench_services.IBMRejected):
        raise
    except Exception as exc:  # network errors and outages (transient) or a refused token (permanent)
        raise bench_services._ibm_error(exc, backend) from exc
    created = []
    with transaction.atomic():
        for item in fetched:
            stored = []
            for qc, executions, shots in item["circuits"]:
                circuit, _ = bench_services.circuit_create(qasm=_qasm_of(qc), name=f"{item['job_id']}"[:200],
                                                           owner=owner)
                stored.append({"circuit": circuit.pk, "count": executions, "shots": shots})
            row, new = observed_job_store(
                job_id=item["job_id"], backend_name=backend, circuits=stored,
                shots=max(c["shots"] for c in stored), observed_seconds=item["seconds"], observed_from=item["source"],
                job_created_at=item["created"], metrics=_jsonable(item["metrics"]), owner=owner)
            if new:
                created.append(row.job_id)
    return {"backend": backend, "imported": created, "skipped": skipped, "seen": len(fetched) + len(skipped)}


def _jsonable(value):
    import json

    return json.loads(json.dumps(value, default=str))
