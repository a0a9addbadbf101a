"""Generate Python code and type stubs from protos/ (``make protos``).

The output is the ``eventnotify.v1`` package beside the hand-written shared
code. It is never committed: ``make install`` and every wheel build (see
``setup.py``) produce it from the pinned grpcio-tools, so it is always in step
with the contracts in ``protos/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generate(root: Path = ROOT) -> int:
    """Compile every .proto under ``root/protos`` into ``root``; return protoc's exit code."""
    from grpc_tools import protoc  # type: ignore[import-untyped]

    protos_dir = root / "protos"
    protos = sorted(str(p.relative_to(protos_dir)) for p in protos_dir.rglob("*.proto"))
    includes = [f"-I{protos_dir}", f"-I{Path(protoc.__file__).parent / '_proto'}"]
    includes += [f"-I{p}" for p in googleapis_include()]
    args = [
        "protoc",
        *includes,
        f"--python_out={root}",
        f"--pyi_out={root}",
        f"--grpc_python_out={root}",
        # With comments, for the OpenAPI document's descriptions.
        f"--descriptor_set_out={root / 'eventnotify' / 'v1' / 'descriptors.binpb'}",
        "--include_source_info",
        *protos,
    ]
    code = int(protoc.main(args))
    if code:
        print(f"protoc failed with exit code {code}", file=sys.stderr)
    return code


def googleapis_include() -> list[Path]:
    """Include directories holding ``google/api/*.proto`` (googleapis-common-protos
    ships them next to its modules); the contracts import
    ``google/api/annotations.proto`` for their HTTP rules."""
    try:
        import google.api as google_api  # type: ignore[import-untyped]
    except ImportError:
        return []
    return [Path(p).parent.parent for p in google_api.__path__]


if __name__ == "__main__":
    sys.exit(generate())
