# svimaged container image. Build: docker build -t svimaged .   (podman: add --format docker,
# or the OCI format drops the HEALTHCHECK). Run: docker-compose.example.yml, docs/running.md.
#
# Configuration: mount your config file at /etc/svimaged/config.yaml (the image ships the
# commented example from config/svimaged.yaml there, with recordings: /recordings).
# Secrets: pass SVIMAGED_TWITCH_CLIENT_ID / SVIMAGED_TWITCH_CLIENT_SECRET at run time
# (environment or env_file); they are never baked into the image.
#
# A pinned tag: Debian 12 and CPython 3.11, the versions constraints.txt was resolved for.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    SVIMAGED_CONFIG=/etc/svimaged/config.yaml

# A fixed uid/gid (10001, outside the system range) so file ownership is predictable: give it
# a group that may write your recordings, or run the container as your own uid
# (docs/running.md, "Permissions"). /var/lib/svimaged (state) and /run/svimaged (socket) are
# mode 1777 like /tmp, so the daemon starts under any `user:`; a fresh named volume copies
# that mode. /recordings is only a mount point: root-owned, no volume, so nothing copies its
# owner onto your recordings; bind-mount the host folder there.
RUN groupadd --gid 10001 svimaged \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/svimaged \
        --shell /usr/sbin/nologin svimaged \
 && install -d -m 0755 /recordings /etc/svimaged \
 && install -d -o 10001 -g 10001 -m 1777 /var/lib/svimaged /run/svimaged

# Dependencies first, in their own layer: an edit of the source does not reinstall lxml and
# Pillow. constraints.txt pins every package (docker/update-constraints.sh writes it); pip
# check fails the build when it misses one.
COPY constraints.txt /tmp/constraints.txt
RUN pip install --no-cache-dir --no-deps --requirement /tmp/constraints.txt \
 && pip check \
 && rm /tmp/constraints.txt

# The package itself, built with the pinned backend above: nothing is downloaded here.
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY svimaged ./svimaged
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
 && pip check \
 && rm -rf /src
WORKDIR /

COPY --chmod=0644 config/svimaged.yaml /etc/svimaged/config.yaml
COPY --chmod=0755 docker/healthcheck.py /usr/local/bin/svimaged-healthcheck

VOLUME ["/var/lib/svimaged"]

USER 10001:10001

# GET /healthz over the daemon's own control.socket (read from $SVIMAGED_CONFIG). One-off
# containers (`run --once`, `check-config`) open no socket: run them with --no-healthcheck,
# or the compose example's svimaged-once service, which disables it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/usr/local/bin/svimaged-healthcheck"]

# svimaged stops cleanly within 10 s of SIGTERM (give `docker stop` at least 15 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["svimaged"]
CMD ["run"]
