"""Second pass of `make test`: the tests marked `postgres` (real threads, row locks) against PostgreSQL.

Runs when the main pass used another database and PostgreSQL is reachable. In CI an unreachable
PostgreSQL is a failure; on a developer machine without it the pass says so and is skipped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

PG_URL = os.environ.get("ZAPLECZE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def main(argv: list[str]) -> int:
    if os.environ.get("ZAPLECZE_DATABASE_URL", "").startswith("postgres"):
        return 0  # the main pass already ran everything on PostgreSQL
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        msg = "PostgreSQL is not reachable on 127.0.0.1:5432: the PostgreSQL-only tests did not run."
        print(("CI: " if IN_CI else "") + msg, file=sys.stderr)
        return 1 if IN_CI else 0
    env = dict(
        os.environ,
        ZAPLECZE_DATABASE_URL=PG_URL,
        ZAPLECZE_TEST_DB_NAME=os.environ.get("ZAPLECZE_TEST_DB_NAME", "test_zaplecze_pgpass"),
    )
    print("PostgreSQL pass: tests marked `postgres`", flush=True)
    rc = subprocess.call([sys.executable, "-m", "pytest", "-m", "postgres", "--create-db", *argv], env=env)
    return 0 if rc == 5 else rc  # 5 = no tests collected


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
