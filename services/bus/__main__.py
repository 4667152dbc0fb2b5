"""The bus: forwards PUB/SUB news between stages (XSUB bus_in -> XPUB bus_out).

Ready announcements, heartbeats, cancels and traces travel here; nothing is stored,
so restarting it loses only what was in flight."""

from __future__ import annotations

import logging
import os

import zmq

from shared import config as config_mod
from shared.runtime.bus import Bus


def main() -> None:
    logging.basicConfig(level=os.environ.get("PIPPIN_LOG", "INFO"), format="%(asctime)s bus %(message)s")
    config = config_mod.load()
    bus = Bus(config, "bus", zmq.Context())  # type: ignore[arg-type]
    xsub = bus.ctx.socket(zmq.XSUB)
    xpub = bus.ctx.socket(zmq.XPUB)
    if config.curve:
        from zmq.auth.thread import ThreadAuthenticator

        auth = ThreadAuthenticator(bus.ctx)
        auth.start()
        auth.configure_curve(domain="*", location=str(config.keys_dir / "authorized"))
        public, secret = zmq.auth.load_certificate(str(config.keys_dir / "server.key_secret"))
        for s in (xsub, xpub):
            s.curve_publickey, s.curve_secretkey, s.curve_server = public, secret, True
    xsub.bind(config.bind_endpoint("bus_in"))
    xpub.bind(config.bind_endpoint("bus_out"))
    logging.info("forwarding %s -> %s", config.endpoint("bus_in"), config.endpoint("bus_out"))
    zmq.proxy(xsub, xpub)


if __name__ == "__main__":
    main()
