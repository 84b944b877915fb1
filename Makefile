.PHONY: run test setup bench
# 1. The main job on the embedded default, set-up included, then the API on 127.0.0.1:8000.
run:
	bash scripts/run_main.sh
# 2. The whole test suite, set-up included (PostgreSQL, Redis, real Celery workers; then an SQLite smoke run).
test:
	bash scripts/run_tests.sh
setup:
	bash scripts/setup.sh
bench:
	bash benchmarks/run_all.sh
