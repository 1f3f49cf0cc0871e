# svimaged container image. Build: docker build -t svimaged .
# Run: see docker-compose.example.yml and docs/running.md.
#
# Configuration: mount your config file at /etc/svimaged/config.yaml (the image ships the
# commented example from config/svimaged.yaml there, with recordings: /recordings).
# Secrets: pass SVIMAGED_TWITCH_CLIENT_ID / SVIMAGED_TWITCH_CLIENT_SECRET at run time
# (environment or env_file); they are never baked into the image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    SVIMAGED_CONFIG=/etc/svimaged/config.yaml

# Fixed ids so volume ownership is predictable: chown your recordings to 10001 or give
# the container a group that may write them (docs/running.md, "Permissions").
RUN groupadd --system --gid 10001 svimaged \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/svimaged --no-create-home \
        --shell /usr/sbin/nologin svimaged \
 && install -d -o 10001 -g 10001 -m 0755 /recordings \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/svimaged /run/svimaged \
 && install -d -m 0755 /etc/svimaged

WORKDIR /src
COPY pyproject.toml README.md ./
COPY svimaged ./svimaged
RUN pip install --no-cache-dir . \
 && rm -rf /src
WORKDIR /

COPY config/svimaged.yaml /etc/svimaged/config.yaml
COPY docker/healthcheck.py /usr/local/bin/svimaged-healthcheck
RUN chmod 0644 /etc/svimaged/config.yaml && chmod 0755 /usr/local/bin/svimaged-healthcheck

VOLUME ["/recordings", "/var/lib/svimaged"]

USER 10001:10001

# GET /healthz over the daemon's own control.socket (read from $SVIMAGED_CONFIG).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/usr/local/bin/svimaged-healthcheck"]

# svimaged stops cleanly within 10 s of SIGTERM (give `docker stop` at least 15 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["svimaged"]
CMD ["run"]
