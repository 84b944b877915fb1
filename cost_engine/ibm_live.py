"""Calibrations from the live IBM Quantum service through ``qiskit-ibm-runtime`` (issue 15, part 2).

- :func:`fetch_calibration`: ``service.backend(name).properties(datetime=...)`` plus the backend's (today's)
  configuration. A historical calibration combined with today's configuration is checked: a different qubit
  count, basis gates or couplers the calibration does not calibrate are detected, recorded in ``notes`` and
  the calibrated ones are used instead of mis-costing.
- :func:`day_ends`: the instants to ask for a back-fill so every day from ``since`` to ``until`` (inclusive)
  is covered; IBM answers ``properties(datetime=T)`` with the newest calibration older than ``T``.
- :func:`classify`: permanent errors (bad token, unknown backend, other 4xx) versus transient ones (5xx, 429,
  timeouts, connection errors), by walking the exception chain the client raises.
"""
from __future__ import annotations

import datetime as dt

from .calibration import Calibration, _conf_to_json_units, from_properties
from .errors import CalibrationDataError


class IBMFetchError(Exception):
    """Fetching from IBM failed. ``transient`` says whether trying again later can help."""

    def __init__(self, message: str, transient: bool):
        super().__init__(message)
        self.transient = transient


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen and len(seen) < 10:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _status(exc: BaseException) -> int | None:
    for attr in ("status_code", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    return None


def classify(exc: BaseException, backend_name: str = "") -> IBMFetchError:
    """The :class:`IBMFetchError` for an exception raised by the IBM client (or by the network under it)."""
    import requests

    for e in _chain(exc):
        kind = type(e).__name__
        if kind == "QiskitBackendNotFoundError":
            return IBMFetchError(f"unknown backend {backend_name!r}: IBM Quantum has no such backend for this "
                                 f"account ({e})", transient=False)
        if isinstance(e, (requests.Timeout, requests.ConnectionError, TimeoutError, ConnectionError)):
            return IBMFetchError(f"network error talking to IBM Quantum ({kind}: {e})", transient=True)
        status = _status(e)
        if status is not None:
            if status >= 500 or status == 429:
                return IBMFetchError(f"IBM Quantum answered HTTP {status} ({e})", transient=True)
            if status in (400, 401, 403) and ("token" in str(e).lower() or "apikey" in str(e).lower()
                                              or "api key" in str(e).lower() or status != 400):
                return IBMFetchError(f"IBM Quantum rejected the credentials (HTTP {status}): check "
                                     f"IBM_QUANTUM_TOKEN / IBM_QUANTUM_INSTANCE ({e})", transient=False)
            if status == 404:
                return IBMFetchError(f"IBM Quantum has no {backend_name or 'such resource'} (HTTP 404: {e})",
                                     transient=False)
            return IBMFetchError(f"IBM Quantum refused the request (HTTP {status}: {e})", transient=False)
    for e in _chain(exc):
        if type(e).__name__ in ("InvalidAccountError", "IBMNotAuthorizedError", "AccountNotFoundError"):
            return IBMFetchError(f"IBM Quantum rejected the account: {e}", transient=False)
    return IBMFetchError(f"{type(exc).__name__}: {exc}", transient=False)


def day_ends(since: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
    """One instant per calendar day (UTC) of ``[since, until]``: the end of that day, or ``until`` on the last
    day. Asking IBM for the calibration older than each covers every day including ``until``'s."""
    since, until = since.astimezone(dt.timezone.utc), until.astimezone(dt.timezone.utc)
    if until < since:
        raise CalibrationDataError(f"until ({until.isoformat()}) is before since ({since.isoformat()})",
                                   field="until")
    out, day = [], since.date()
    while day <= until.date():
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=dt.timezone.utc)
        out.append(min(end, until + dt.timedelta(microseconds=1)))
        day += dt.timedelta(days=1)
    return out


def check_configuration(props: dict, conf: dict, when: str) -> tuple[dict | None, list[str]]:
    """Today's configuration against a calibration of ``when``: returns the configuration to use (None when
    the qubit counts differ) and notes recording every mismatch found."""
    n_props = len(props.get("qubits") or [])
    n_conf = conf.get("n_qubits")
    if n_conf is not None and n_conf != n_props:
        return None, [f"configuration mismatch: today's configuration has {n_conf} qubits, the calibration of "
                      f"{when} {n_props}; configuration not used (basis gates and coupling map inferred from "
                      f"the calibrated gates)"]
    notes = []
    calibrated = {g.get("gate") for g in props.get("gates") or []} - {None}
    basis = list(conf.get("basis_gates") or [])
    missing = [g for g in basis if g not in calibrated and g not in ("measure", "reset", "delay")]
    if basis and missing:
        new_basis = [g for g in basis if g not in missing] + sorted(
            g for g in calibrated if g not in basis and g not in ("measure", "reset", "delay"))
        notes.append(f"configuration mismatch: today's basis gates {basis} include {missing}, which the "
                     f"calibration of {when} does not calibrate; using {new_basis}")
        conf = {**conf, "basis_gates": new_basis}
    pairs = {tuple(g["qubits"]) for g in props.get("gates") or []
             if isinstance(g.get("qubits"), list) and len(g["qubits"]) == 2 and g.get("gate") in conf["basis_gates"]}
    coupling = {tuple(e) for e in conf.get("coupling_map") or []}
    if pairs and coupling and not pairs <= coupling:
        extra = sorted(pairs - coupling)
        notes.append(f"configuration mismatch: the calibration of {when} calibrates {len(extra)} coupler(s) "
                     f"missing from today's coupling map (e.g. {[list(p) for p in extra[:5]]}); using the "
                     f"calibrated couplers")
        conf = {**conf, "coupling_map": [list(p) for p in sorted(pairs)]}
    return conf, notes


def fetch_calibration(service, backend_name: str, at: dt.datetime | None = None) -> Calibration | None:
    """The calibration valid at ``at`` (the current one when None) from a ``QiskitRuntimeService``; None when
    IBM has no calibration older than ``at``. Client errors become :class:`IBMFetchError`."""
    try:
        backend = service.backend(backend_name)
        props = backend.properties(datetime=at) if at is not None else backend.properties()
        conf = backend.configuration()
    except CalibrationDataError:
        raise
    except Exception as exc:  # classified: permanent (fail at once) or transient (retry with backoff)
        raise classify(exc, backend_name) from exc
    if props is None:
        return None
    props = props.to_dict() if hasattr(props, "to_dict") else props
    conf = _conf_to_json_units(conf.to_dict() if hasattr(conf, "to_dict") else conf)
    notes: list[str] = []
    if at is not None:
        when = str(props.get("last_update_date"))
        conf, notes = check_configuration(props, conf, when)
    cal = from_properties(props, conf, source="ibm" if at is None else f"ibm:history:{at.date().isoformat()}")
    if notes:
        import dataclasses

        cal = dataclasses.replace(cal, notes=tuple(notes) + cal.notes)
    return cal
