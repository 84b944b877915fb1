"""Store the reference circuit suite (GHZ, QFT, quantum volume, EfficientSU2, HQNN ansatz at 4-16 qubits)."""
from django.core.management.base import BaseCommand

from benchmarks_app import services


class Command(BaseCommand):
    help = "Load the reference circuit suite into the database (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 12, 16])

    def handle(self, *args, sizes, **options):
        from cost_engine.reference_circuits import reference_suite
        from qiskit import qasm2

        created = 0
        suite = reference_suite(sizes=tuple(sizes))
        for name, qc in suite:
            family = name.rsplit("_", 1)[0]
            _, new = services.circuit_create(qasm=qasm2.dumps(qc), name=name, tags=["reference", family],
                                             is_reference=True)
            created += new
        self.stdout.write(f"reference suite: {len(suite)} circuits, {created} new, {len(suite) - created} already stored")
