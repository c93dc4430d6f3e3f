# The equilibrium-node image used by docker-compose.yml (one image for every region and role).
FROM python:3.11-slim

WORKDIR /app
# the node reads config/, plugins/ and web/ next to its package: install the source tree in place
COPY pyproject.toml README.md ./
COPY equilibrium_node ./equilibrium_node
COPY plugins ./plugins
COPY config ./config
COPY web ./web
RUN pip install --no-cache-dir -e . \
    && useradd --system --home /app equilibrium \
    && mkdir -p /data && chown equilibrium /data
USER equilibrium

ENV EQ_HTTP=0.0.0.0:8080 \
    EQ_DATA_DIR=/data \
    PYTHONUNBUFFERED=1
EXPOSE 8080
# SIGTERM: readiness 503, final checkpoint, lease released, clients drained; exit 0 within 10 s
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"
ENTRYPOINT ["equilibrium-node"]
CMD ["run"]
