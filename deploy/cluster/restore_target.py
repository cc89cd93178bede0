"""Which backup a restore to TARGET starts from, and the moment PostgreSQL replays up to.

    restore_target.py TARGET < `pgbackrest info --output=json`

prints "<backup label> <target time, UTC, or nothing for latest>", or says on stderr why the
target cannot be restored and exits 2. `cluster.sh restore` asks this before it stops anything.
"""

import json
import sys
from datetime import UTC, datetime

USAGE = 'TARGET is "latest" or a timestamp with its zone, such as "2026-12-06 14:30:00+00:00"'


def refuse(reason: str) -> None:
    print(f"cannot restore: {reason}", file=sys.stderr)
    sys.exit(2)


def moment(target: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(target)
    except ValueError:
        refuse(f"{target!r} is not a timestamp. {USAGE}")
    if parsed.tzinfo is None:
        refuse(f"{target!r} has no zone, so it names no one moment. {USAGE}")
    if parsed > datetime.now(UTC):
        refuse(f"{target} is in the future")
    return parsed


def backups(info: list[dict]) -> list[dict]:
    """The repository's backups, oldest first (one stanza)."""
    found = info[0]["backup"] if info else []
    if not found:
        refuse("the repository holds no backup")
    return sorted(found, key=lambda backup: backup["timestamp"]["stop"])


def main(target: str, info: list[dict]) -> str:
    taken = backups(info)
    if target == "latest":
        return taken[-1]["label"]
    when = moment(target)
    # A backup restores to a moment only once it is whole: at the end of its copy.
    usable = [b for b in taken if b["timestamp"]["stop"] < when.timestamp()]
    if not usable:
        oldest = datetime.fromtimestamp(taken[0]["timestamp"]["stop"], UTC)
        refuse(f"{target} is before the oldest backup, which ends at {oldest.isoformat(sep=' ')}")
    return f"{usable[-1]['label']} {when.astimezone(UTC).isoformat(sep=' ')}"


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1]:
        refuse(USAGE)
    print(main(sys.argv[1], json.load(sys.stdin)))
