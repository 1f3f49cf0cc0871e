"""Everything a pass talks to, built once from a config and shared by the daemon's workers:
the state, the image store, the fetcher, the Helix client, the clock, one lock per cache file."""

from __future__ import annotations

from dataclasses import dataclass, field

from svimaged.config.load import Config
from svimaged.core.clock import Clock
from svimaged.images.fetch import Fetcher, FetchPolicy
from svimaged.images.store import ImageStore
from svimaged.images.transfer import KeyedLocks, Transferer
from svimaged.state import State
from svimaged.twitch.helix import HelixClient


@dataclass
class Services:
    """Everything a pass talks to. Built once; shared by the daemon's workers."""

    config: Config
    state: State
    store: ImageStore
    fetcher: Fetcher
    helix: HelixClient | None
    clock: Clock
    locks: KeyedLocks = field(default_factory=KeyedLocks)

    def transferer(self, concurrency: int | None = None) -> Transferer:
        """A `Transferer` over these services (`download.concurrency` workers by default);
        all of them share one lock per cache file."""
        return Transferer(
            fetcher=self.fetcher,
            store=self.store,
            state=self.state,
            clock=self.clock,
            retry=self.config.retry,
            concurrency=concurrency or self.config.download.concurrency,
            locks=self.locks,
        )

    def close(self) -> None:
        """Release connections and the state database."""
        self.fetcher.close()
        if self.helix is not None:
            self.helix.close()
        self.state.close()


def helix_client(config: Config, clock: Clock) -> HelixClient | None:
    """The Helix client of this config, or None without credentials."""
    tw = config.twitch
    if not tw.has_credentials:
        return None
    return HelixClient(
        client_id=tw.client_id,
        client_secret=tw.client_secret,
        api_base=tw.api_base,
        auth_url=tw.auth_url,
        clock=clock,
        timeout=config.download.timeout,
    )


def build_services(config: Config, clock: Clock) -> Services:
    """Open the state, the image store, the fetcher and (with credentials) the Helix client.
    Raises `StateError` when the state database cannot be opened."""
    d = config.download
    policy = FetchPolicy(
        allowed_hosts=frozenset(d.allowed_hosts),
        require_https=d.require_https,
        allow_private_networks=d.allow_private_networks,
        timeout=d.timeout,
        max_bytes=d.max_bytes,
    )
    helix = helix_client(config, clock)
    state = State.open(config.state_db)
    store = ImageStore(config.images_root, dir_mode=config.images.mode)
    fetcher = Fetcher(policy, concurrency=d.concurrency, clock=clock)
    return Services(config, state, store, fetcher, helix, clock)
