"""Celery settings for fiscal_intel's workers (issue #19): put this file's folder on the
workers' PYTHONPATH and start each worker with

    celery -A dagster_celery.app worker -P solo -Q dagster -n w1@%h

(``-P solo``: the worker process runs the steps itself, so Dagster, Great Expectations and
LightGBM are imported once per worker, not once per step). The broker and result backend must
be the ones the executor is given (``run_pipeline_celery(..., broker=, backend=)``).
"""

import os

broker_url = os.environ.get("FISCAL_INTEL_CELERY_BROKER", "redis://127.0.0.1:6379/0")
result_backend = broker_url
# One step at a time per worker: a step holds its municipality's DuckDB file.
worker_prefetch_multiplier = 1
