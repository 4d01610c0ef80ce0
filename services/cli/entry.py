"""The `carecircle` console script: answers what needs no heavy import first, then the rest.

Loading the whole command line (FastAPI, the store, Kafka, FHIR models) takes seconds; a second
`carecircle up` on a data directory already in use should be refused at once, so that check
runs here on the standard library alone, before services/cli/main.py is imported. The full
command takes the same lock again for real (services/cli/instance.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from services.cli.instance import AlreadyRunning, probe


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["up"] and not {"-h", "--help"} & set(args):
        data_dir = Path(os.environ.get("CARE_DATA_DIR", ".carecircle")).resolve()
        try:
            probe(data_dir)
        except AlreadyRunning as refusal:
            sys.stderr.write(f"carecircle up: {refusal}\n")
            return 1
    from services.cli.main import main as full

    return full(args)


if __name__ == "__main__":
    raise SystemExit(main())
