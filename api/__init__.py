"""The pipeline API: score sshd log lines with the champion model, serve the latest gold anomalies.

`api.main:app` is the FastAPI application (``uvicorn api.main:app --host 0.0.0.0 --port 8080``).
It parses and aggregates with the pipeline's own code (`lib.parser`, `lib.features`), never Spark,
and is configured by environment variables only (`api.config`). See api/README.md.
"""
