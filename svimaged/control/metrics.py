"""Prometheus text exposition (format 0.0.4) of the daemon's counters."""

from __future__ import annotations

from svimaged.core.model import ImageKind
from svimaged.pipeline import Pipeline


def render_metrics(pipeline: Pipeline, *, queue_depth: int) -> str:
    """Every metric with HELP and TYPE lines; values from the state and running totals."""
    res = pipeline.res
    counts = res.state.counts.counters()
    lines: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP svimaged_{name} {help_text}")
        lines.append(f"# TYPE svimaged_{name} {kind}")
        for labels, value in samples:
            lines.append(f"svimaged_{name}{labels} {_number(value)}")

    per_kind = [k.value for k in ImageKind]
    metric(
        "images_cached",
        "gauge",
        "Images in the cache, by kind.",
        [(f'{{kind="{k}"}}', counts.get(f"img:{k}:cached", 0)) for k in per_kind],
    )
    metric(
        "images_failed",
        "gauge",
        "Images whose last download failed, by kind.",
        [(f'{{kind="{k}"}}', counts.get(f"img:{k}:failed", 0)) for k in per_kind],
    )
    cached_bytes = sum(counts.get(f"bytes:{k}", 0) for k in per_kind)
    metric("cache_bytes", "gauge", "Bytes of cached images.", [("", cached_bytes)])
    metric("queue_depth", "gauge", "Streamer folders and jobs waiting.", [("", queue_depth)])
    metric(
        "downloads_total",
        "counter",
        "Downloads completed since start.",
        [("", res.fetcher.downloads)],
    )
    metric(
        "download_bytes_total",
        "counter",
        "Bytes downloaded since start.",
        [("", res.fetcher.bytes_total)],
    )
    helix = res.helix.calls if res.helix is not None else 0
    metric("helix_calls_total", "counter", "Twitch Helix API requests since start.", [("", helix)])
    metric(
        "nfo_writes_total",
        "counter",
        "NFO files written since start.",
        [("", pipeline.totals["nfo_writes"])],
    )
    metric(
        "errors_total",
        "counter",
        "Per-item errors and failed downloads since start.",
        [("", pipeline.totals["errors"])],
    )
    last = res.state.meta.get("last_sync_epoch")
    metric(
        "last_sync_timestamp_seconds",
        "gauge",
        "When the last full pass ended.",
        [("", float(last) if last else 0.0)],
    )
    # Per `notify` server; names are letters, digits, '.', '_' and '-' (no escaping needed).
    servers = [(f'{{server="{r.name}",type="{r.type}"}}', r) for r in res.state.notify.rows()]
    metric(
        "notify_sent_total",
        "counter",
        "Notifications each media server took.",
        [(labels, row.sent) for labels, row in servers],
    )
    metric(
        "notify_failed_total",
        "counter",
        "Notification attempts that failed, per media server.",
        [(labels, row.failed) for labels, row in servers],
    )
    metric(
        "notify_last_success_timestamp_seconds",
        "gauge",
        "When each media server last took a notification (0: never).",
        [(labels, row.last_success or 0.0) for labels, row in servers],
    )
    return "\n".join(lines) + "\n"


def _number(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return "0"
