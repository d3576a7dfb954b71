# The MLflow server of mlflow-deployment.yaml: the pinned MLflow of requirements.txt plus
# the drivers its configurable stores need (PostgreSQL backend, ADLS/Blob artifacts).
# Built in ACR by the deploy workflow (context: kubernetes/).
# The base by digest, not by tag (a tag can be moved); Dependabot (.github/dependabot.yml) proposes new ones.
FROM python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91 AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir \
        mlflow==3.17.2 \
        psycopg2-binary==2.9.13 \
        azure-storage-blob==12.31.1 \
        azure-identity==1.27.0

FROM python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
RUN groupadd --system --gid 10001 mlflow \
    && useradd --system --uid 10001 --gid mlflow --no-create-home --shell /usr/sbin/nologin mlflow
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
EXPOSE 5000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:5000/health', timeout=4).status != 200)"]
CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000"]
