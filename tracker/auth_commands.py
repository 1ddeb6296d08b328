"""``sporing users add|list|set`` and ``sporing tokens create|list|revoke``.

The first admin of a new installation is created here, on the server::

    sporing users add admin --role admin          # asks for the password twice

Passwords are read from the terminal, from standard input with ``--password-stdin`` (for
scripts), never from the command line (it would end up in shell history and ``ps``).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from functools import partial
from typing import Any

from tracker.store.commands import database_arg, database_url

__all__ = ["register"]

_ROLES = ("porter", "biomed", "admin")
_CLI = "cli"


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add the ``users`` and ``tokens`` command groups."""
    users = sub.add_parser("users", help="people who log in to the web page")
    u_sub = users.add_subparsers(dest="users_command", metavar="SUBCOMMAND", required=True)
    add = u_sub.add_parser("add", help="add a user (asks for the password)")
    add.add_argument("name")
    add.add_argument("--role", choices=_ROLES, required=True)
    add.add_argument("--display-name", default=None)
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    database_arg(add)
    add.set_defaults(handler=partial(_run, action="users.add"))
    lst = u_sub.add_parser("list", help="list users")
    database_arg(lst)
    lst.set_defaults(handler=partial(_run, action="users.list"))
    upd = u_sub.add_parser("set", help="change a user's role, password or access")
    upd.add_argument("name")
    upd.add_argument("--role", choices=_ROLES, default=None)
    upd.add_argument("--password", action="store_true", help="set a new password (asks)")
    upd.add_argument("--password-stdin", action="store_true")
    g = upd.add_mutually_exclusive_group()
    g.add_argument("--disable", action="store_true", help="block log-in, end sessions")
    g.add_argument("--enable", action="store_true")
    database_arg(upd)
    upd.set_defaults(handler=partial(_run, action="users.set"))

    tokens = sub.add_parser("tokens", help="API tokens for integrations")
    t_sub = tokens.add_subparsers(dest="tokens_command", metavar="SUBCOMMAND", required=True)
    new = t_sub.add_parser("create", help="create a token (printed once)")
    new.add_argument("name", help="what uses it, e.g. 'EPJ integration'")
    new.add_argument("--role", choices=_ROLES, required=True)
    new.add_argument("--expires-days", type=float, default=None)
    database_arg(new)
    new.set_defaults(handler=partial(_run, action="tokens.create"))
    tl = t_sub.add_parser("list", help="list tokens (never their secrets)")
    database_arg(tl)
    tl.set_defaults(handler=partial(_run, action="tokens.list"))
    rv = t_sub.add_parser("revoke", help="revoke a token by id")
    rv.add_argument("id")
    database_arg(rv)
    rv.set_defaults(handler=partial(_run, action="tokens.revoke"))


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the passwords differ")
    return first


def _run(args: argparse.Namespace, action: str) -> int:
    from tracker.api.security import Principal, Role
    from tracker.auth import AuthError, AuthService
    from tracker.store import StoreError, open_store
    from tracker.store.base import ConflictError

    url = database_url(args)
    if url is None:
        return 2
    try:
        store = open_store(url)
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        store.upgrade()
        auth = AuthService(lambda: store)
        me = Principal(f"{_CLI}:{getpass.getuser()}", Role.ADMIN, "token")
        return _dispatch(auth, me, args, action)
    except ConflictError:
        print(f"error: {args.name!r} exists", file=sys.stderr)
        return 1
    except (AuthError, ValueError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


def _dispatch(auth: Any, me: Any, args: argparse.Namespace, action: str) -> int:
    if action == "users.add":
        auth.create_user(args.name, _password(args), args.role, display_name=args.display_name)
        auth.audit(me, "user.create", f"user:{args.name}", {"role": args.role})
        print(f"added {args.name} ({args.role})")
    elif action == "users.list":
        for u in auth.list_users():
            print(f"{u.name}\t{u.role.value}\t{'disabled' if u.disabled else 'active'}"
                  f"\t{u.display_name or ''}")
    elif action == "users.set":
        if auth.get_user(args.name) is None:
            raise ValueError(f"no user {args.name!r}")
        pw = _password(args) if (args.password or args.password_stdin) else None
        disabled = True if args.disable else (False if args.enable else None)
        auth.update_user(args.name, role=args.role, password=pw, disabled=disabled)
        auth.audit(me, "user.update", f"user:{args.name}",
                   {k: v for k, v in {"role": args.role, "disabled": disabled,
                                      "password": "changed" if pw else None}.items()
                    if v is not None})
        print(f"updated {args.name}")
    elif action == "tokens.create":
        exp = None if args.expires_days is None else args.expires_days * 86_400.0
        secret, info = auth.create_token(args.name, args.role, created_by=me.name,
                                         expires_in_s=exp)
        auth.audit(me, "token.create", f"token:{info.id}", {"name": args.name,
                                                           "role": args.role})
        print(f"token {info.id} for {args.name!r} ({args.role}); shown once, store it now:")
        print(secret)
    elif action == "tokens.list":
        for t in auth.list_tokens():
            state = "revoked" if t.revoked_at else "active"
            print(f"{t.id}\t{t.role.value}\t{state}\t{t.name}\t(by {t.created_by})")
    elif action == "tokens.revoke":
        auth.revoke_token(args.id)
        auth.audit(me, "token.revoke", f"token:{args.id}", {})
        print(f"revoked {args.id}")
    return 0
