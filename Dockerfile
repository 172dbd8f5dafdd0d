# The segment sync service (python -m service serve), configured by SEGMENT_SYNC_*
# variables (service/README.md): SQLite on the /data volume by default; set
# SEGMENT_SYNC_STORE=redis://... for Redis (compose.yaml runs both).
#   docker build -t segment-sync . && docker run -p 8080:8080 -v segments:/data segment-sync
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY compiler/ compiler/
COPY templates/ templates/
COPY generated/ generated/
COPY service/ service/
RUN pip install ".[service,redis]"

# Never root: the service owns /data and nothing else.
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home segments \
    && mkdir /data \
    && chown segments:segments /data
USER segments
WORKDIR /data
VOLUME /data

ENV SEGMENT_SYNC_HOST=0.0.0.0 \
    SEGMENT_SYNC_PORT=8080 \
    SEGMENT_SYNC_DB=/data/segments.db
EXPOSE 8080
# ready: the store takes writes (GET /readyz)
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "service.healthcheck"]
CMD ["python", "-m", "service", "serve"]
