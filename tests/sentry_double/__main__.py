"""Command line: ``python -m tests.sentry_double --host 127.0.0.1 --port 9000``."""

from __future__ import annotations

import argparse
import signal
import sys

from .server import DEFAULT_PAGE_SIZE, Double, read_or_create_token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sentry_double", description="Sentry API double (test-only)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--url-prefix", default=None, help="system.url-prefix used for DSNs and Link headers")
    token = parser.add_mutually_exclusive_group()
    token.add_argument("--token", default=None, help="admin token (all scopes)")
    token.add_argument("--token-file", default=None, help="read the admin token here; create it (0600) if absent")
    parser.add_argument("--state-file", default=None, help="JSON file keeping state across restarts")
    parser.add_argument("--page-size", type=int, default=DEFAULT_PAGE_SIZE, help="list page size (max per_page)")
    parser.add_argument(
        "--extra-token",
        action="append",
        default=[],
        metavar="TOKEN=SCOPE,SCOPE",
        help="an additional token with limited scopes (repeatable)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--release",
        default=None,
        help="Sentry release to imitate (default 23.7.1, or the one kept in --state-file); 26.7.0 and later "
        "run alerts on the workflow engine",
    )
    args = parser.parse_args(argv)

    admin = args.token or (read_or_create_token(args.token_file) if args.token_file else None)
    extra = {}
    for item in args.extra_token:
        name, _, scopes = item.partition("=")
        extra[name] = [s for s in scopes.split(",") if s]
    double = Double(
        args.host,
        args.port,
        args.url_prefix,
        admin,
        args.state_file,
        args.page_size,
        extra,
        verbose=args.verbose,
        release=args.release,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.token_file:
        where = f"admin token in {args.token_file}"
    elif args.token:
        where = "admin token from --token"
    else:
        where = f"generated admin token {double.token}"
    print(f"sentry-double listening on {double.url} (url-prefix {double.url_prefix}, {where})", flush=True)
    try:
        double.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        double._server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
