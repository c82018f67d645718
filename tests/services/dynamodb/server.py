"""moto's DynamoDB emulator served one request at a time, on a port of its own.

`moto_server` serves every request on a thread of its own, and moto's
DynamoDB backend takes no lock: two conditional writes racing on threads can
both pass their check. Real DynamoDB serializes conditional writes per item.
Here werkzeug's single-threaded server does: one request, start to end, then
the next (HTTP/1.0, one request per connection, so no client can hold it).

    python server.py PORTFILE [HOST]

Binds HOST (default 127.0.0.1) on a free port, writes that port to PORTFILE
once it listens, and serves until SIGTERM.
"""

import logging
import os
import signal
import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


def main():
    portfile = sys.argv[1]
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    # One line per request costs the one thread time; errors still show.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(host, 0, app, threaded=False, processes=1, request_handler=MotoRequestHandler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with open(portfile + ".tmp", "w") as f:
        f.write(f"{server.server_port}\n")
    # Renamed into place: a reader never sees a half-written file.
    os.replace(portfile + ".tmp", portfile)
    server.serve_forever()


if __name__ == "__main__":
    main()
