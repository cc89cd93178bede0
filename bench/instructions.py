"""make instructions: instructions per request in process, counted by valgrind's callgrind.

Unlike CPU time, an instruction count does not move with the machine's load, so a
lever worth a few µs can be told from noise. Each scenario of bench/profile.py runs
twice under callgrind, with 0 and with INSTRUCTIONS_CALLS calls after the same
warm-up; the difference divided by the calls is the steady-state count per request.
Only this process counts: PostgreSQL's and Redis's work is in theirs.
Environment: INSTRUCTIONS_CALLS (default 50), INSTRUCTIONS_SCENARIOS (comma-separated).
"""

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.server import ROOT

CALLS = int(os.environ.get("INSTRUCTIONS_CALLS", "50"))
SCENARIOS = os.environ.get(
    "INSTRUCTIONS_SCENARIOS", "health,GET anon,GET token,PUT token,POST token"
)


def instructions(scenario: str, calls: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        # A fixed hash seed: otherwise dict and set orders, and so the start-up's count,
        # differ from run to run by far more than a request costs.
        env = {
            **os.environ,
            "PYTHONHASHSEED": "0",
            "PROFILE_COUNT": scenario,
            "PROFILE_COUNT_CALLS": str(calls),
        }
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
        subprocess.run(
            [*command, sys.executable, "-m", "bench.profile"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        summary = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
        assert summary, "callgrind wrote no total"
        return int(summary[1])


def main() -> None:
    print(f"Instructions per request, in process (callgrind, {CALLS} calls after a warm-up)")
    for scenario in SCENARIOS.split(","):
        per_call = (instructions(scenario, CALLS) - instructions(scenario, 0)) / CALLS
        print(f"{scenario:<12} {per_call:12,.0f}", flush=True)


if __name__ == "__main__":
    main()
