"""The bus: forwards PUB/SUB news between stages (XSUB bus_in -> XPUB bus_out).

Ready announcements, heartbeats, cancels and traces travel here; nothing is stored,
so restarting it loses only what was in flight."""

from __future__ import annotations

import logging
import os
from typing import Any

import zmq

from shared import config as config_mod
from shared.runtime.bus import Bus


def forward(config: config_mod.Config, ctx: zmq.Context[Any], control: zmq.Socket[Any] | None = None) -> None:
    """Forward news from bus_in to bus_out until the context ends or `control` says TERMINATE."""
    bus = Bus(config, "bus", ctx)  # type: ignore[arg-type]
    xsub = ctx.socket(zmq.XSUB)
    xpub = ctx.socket(zmq.XPUB)
    if config.curve:
        from zmq.auth.thread import ThreadAuthenticator

        auth = ThreadAuthenticator(ctx)
        auth.start()
        auth.configure_curve(domain="*", location=str(config.keys_dir / "authorized"))
        public, secret = zmq.auth.load_certificate(str(config.keys_dir / "server.key_secret"))
        for s in (xsub, xpub):
            s.curve_publickey, s.curve_secretkey, s.curve_server = public, secret, True
    del bus  # made for its side effect: the run directory for ipc endpoints
    xsub.bind(config.bind_endpoint("bus_in"))
    xpub.bind(config.bind_endpoint("bus_out"))
    logging.info("forwarding %s -> %s", config.endpoint("bus_in"), config.endpoint("bus_out"))
    try:
        if control is None:
            zmq.proxy(xsub, xpub)
        else:
            zmq.proxy_steerable(xsub, xpub, None, control)
    finally:
        xsub.close(linger=0)
        xpub.close(linger=0)


def main() -> None:
    logging.basicConfig(level=os.environ.get("PIPPIN_LOG", "INFO"), format="%(asctime)s bus %(message)s")
    forward(config_mod.load(), zmq.Context())


if __name__ == "__main__":
    main()
