"""A proxy.py plugin that appends one JSON line per proxied request to `$EGRESS_RECORD_FILE`:
method, target host, port and path, as the forward proxy saw them."""

from __future__ import annotations

import json
import os

from proxy.http.parser import HttpParser
from proxy.http.proxy import HttpProxyBasePlugin


class RecordRequests(HttpProxyBasePlugin):
    def before_upstream_connection(self, request: HttpParser) -> HttpParser:
        line = {
            "method": (request.method or b"").decode(),
            "host": (request.host or b"").decode(),
            "port": request.port,
            "path": (request.path or b"").decode(),
        }
        with open(os.environ["EGRESS_RECORD_FILE"], "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
        return request
