"""Load qiskit's compiled modules on the main thread, before any request or task thread touches them.

qiskit's Rust extension (``qiskit._accelerate``) crashes the process (SIGSEGV, exit 139) when it is first
imported inside a worker thread and then used from further threads: ``runserver`` handles each request on a
new thread, so the first or second circuit POST killed the server (issue 17, item 1). Minimal repro without
Django: import ``qiskit.qasm2`` inside a thread and call ``qasm2.loads`` from three successive threads.
Importing qiskit on the main thread first avoids it, so every process entry point calls :func:`preload`:
the WSGI module (gunicorn workers, runserver), ``manage.py`` (every management command) and the Celery app
(worker and beat main process; prefork children inherit the loaded modules).
"""
from __future__ import annotations

import importlib
import threading

# Everything the platform parses, builds or compiles circuits with (see cost_engine.qasm / quantum / hqnn).
MODULES = (
    "qiskit",
    "qiskit._accelerate",
    "qiskit.qasm2",
    "qiskit.qasm3",
    "qiskit_qasm3_import",
    "qiskit.circuit.library",
    "qiskit.transpiler",
    "qiskit.transpiler.preset_passmanagers",
    "qiskit.synthesis",
)

_loaded = False


def preload() -> bool:
    """Import :data:`MODULES` if called on the main thread (idempotent). Returns True once they are loaded."""
    global _loaded
    if _loaded:
        return True
    if threading.current_thread() is not threading.main_thread():
        return False  # too late to help here; importing from this thread is what we must avoid
    for name in MODULES:
        importlib.import_module(name)
    _loaded = True
    return True
