"""`just create-admin USERNAME EMAIL`: make an admin account for the sync dashboard.

The password is asked for twice on the terminal, or read from standard input with
`--password-stdin` (for provisioning scripts). There is no default account or password.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from storage.admin import create_admin
from storage.database import migrate


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password (12 characters or more): ")
    if getpass.getpass("Password again: ") != password:
        raise ValueError("The passwords differ.")
    return password


async def main(username: str, email: str, password: str) -> int:
    await migrate()
    return await create_admin(username, email, password)


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="just create-admin", description=__doc__)
    parser.add_argument("username")
    parser.add_argument("email")
    parser.add_argument("--password-stdin", action="store_true")
    args = parser.parse_args(argv)
    try:
        password = read_password(args.password_stdin)
        user_id = asyncio.run(main(args.username, args.email, password))
    except ValueError as exc:
        print(f"create-admin: {exc}", file=sys.stderr)
        return 1
    print(f"Admin {args.username!r} created (id {user_id}); sign in at /admin/login.")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
