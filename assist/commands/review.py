"""`assist review`: the supervisors' web app over the call store, and its accounts."""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import getpass
import ipaddress
import logging
import socket
import sys
from typing import Any

from assist.config import Config, replace_setting
from assist.errors import ConfigError, StoreError
from assist.review import auth
from assist.store import queries
from assist.store.db import describe, open_engine, resolve_url, session_factory

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser("review", help="serve the supervisors' review pages (flagged calls first)",
                       description="Serve the review app; `assist review add-user NAME` "
                                   "creates a supervisor account first.")
    p.add_argument("--host", help="address to listen on (default: review.host)")
    p.add_argument("--port", type=int, help="port; 0 picks a free one (default: review.port)")
    actions = p.add_subparsers(dest="review_action", metavar="[add-user NAME]", title="actions")
    add = actions.add_parser("add-user", help="create a supervisor account (or reset a password)")
    add.add_argument("name", help="the supervisor's login name")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, config: Config) -> int:
    if args.review_action == "add-user":
        return add_user(args, config)
    return serve(args, config)


def add_user(args: argparse.Namespace, config: Config) -> int:
    name = auth.check_user_name(args.name)
    password_hash = auth.hash_password(_read_password(args.password_stdin))
    engine = open_engine(config.store.url)
    try:
        with session_factory(engine).begin() as session:
            created = queries.save_user(session, name, password_hash, dt.datetime.now(dt.UTC))
    finally:
        engine.dispose()
    verb = "created" if created else "updated the password of"
    print(f"{verb} supervisor {name} in {describe(resolve_url(config.store.url))}")
    return 0


def _read_password(from_stdin: bool) -> str:
    if sys.stdin is None:
        raise StoreError("there is no standard input to read a password from; pipe it in "
                         "with --password-stdin")
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        try:
            password.encode("utf-8")
        except UnicodeEncodeError:
            raise StoreError("the password is not UTF-8 text; type it in a UTF-8 terminal or "
                             "pipe it from a UTF-8 file") from None
        return password
    if not sys.stdin.isatty():
        raise StoreError("no terminal to ask for a password; pipe it in with --password-stdin")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise StoreError("the two passwords differ; run add-user again")
    return first


def serve(args: argparse.Namespace, config: Config) -> int:
    import uvicorn

    from assist.review import create_app, time_zone

    if args.host is not None:
        config = replace_setting(config, "review.host", args.host)
    if args.port is not None:
        config = replace_setting(config, "review.port", args.port)
    zone = time_zone(config.review.timezone)
    engine = open_engine(config.store.url)
    _warn_without_users(engine)
    listener = _listen(config.review.host, config.review.port)
    host, port = listener.getsockname()[:2]
    if not _is_loopback(config.review.host):
        log.warning("the review app is reachable from other machines on %s; put it behind "
                    "HTTPS before supervisors log in over a network", host)
    app = create_app(engine, auth.load_secret(), zone=zone)
    print(f"assist review: serving {describe(resolve_url(config.store.url))} on "
          f"http://{_url_host(host)}:{port}/ (Ctrl+C to stop)", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    try:
        server.run(sockets=[listener])
    finally:
        listener.close()
        engine.dispose()
    return 0


def _warn_without_users(engine: Any) -> None:
    from sqlalchemy import func, select

    from assist.store.schema import User

    with session_factory(engine)() as session:
        if not session.scalar(select(func.count()).select_from(User)):
            log.warning("no supervisor accounts yet; create one with `assist review add-user NAME`")


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    exclusive = getattr(socket, "SO_EXCLUSIVEADDRUSE", None)
    if exclusive is not None:  # Windows, where SO_REUSEADDR would share a port in use
        listener.setsockopt(socket.SOL_SOCKET, exclusive, 1)
    else:  # POSIX: rebind at once after a restart, while old connections time out
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as e:
        listener.close()
        if e.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is already in use; pick another with "
                              "--port or review.port (0 picks a free one)") from e
        raise ConfigError(f"cannot listen on {host}:{port} ({e.strerror}); check --host or "
                          "review.host") from e
    listener.listen(64)
    return listener


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
