"""Generate Python code and type stubs from protos/ (``make protos``).

The output lands beside the .proto files, as the ``eventnotify.v1`` package,
and is never committed: it is produced at install time from the pinned
grpcio-tools, so it is always in step with the contracts.
"""

from __future__ import annotations

import sys
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent / "protos"


def main() -> int:
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "eventnotify").rglob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    args = [
        "protoc",
        f"-I{ROOT}",
        f"-I{include}",
        f"--python_out={ROOT}",
        f"--pyi_out={ROOT}",
        f"--grpc_python_out={ROOT}",
        *protos,
    ]
    code = int(protoc.main(args))
    if code:
        print(f"protoc failed with exit code {code}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
