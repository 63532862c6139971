"""The demo upstream over streamable HTTP behind TLS (`--cert`, `--key`)."""

from __future__ import annotations

import argparse

import uvicorn

from tests.upstreams.demo import DemoState, build_http_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    app = build_http_app(DemoState(), token=None, legacy=False)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        ssl_certfile=args.cert,
        ssl_keyfile=args.key,
    )


if __name__ == "__main__":
    main()
