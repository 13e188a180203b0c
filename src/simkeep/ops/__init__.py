"""Running simkeep in production: Prometheus metrics, request ids that follow a request into the worker, /healthz
and /readyz (database, migrations at head, a recent worker heartbeat)."""
