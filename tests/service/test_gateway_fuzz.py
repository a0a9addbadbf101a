"""Schemathesis (an OpenAPI-driven API fuzzer) against the live gateway.

It reads the served ``/openapi.json``, generates valid and invalid requests
for every operation (v1 and v3) with an ADMIN key of one org, and checks
that no answer is a 5xx and that every answer's status, content type,
headers and body conform to the document. Bounded: a fixed number of cases
per operation and a time budget, so it ends well within two minutes.
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

from eventnotify.domain import Role
from tests.service.conftest import Http

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


async def test_fuzzing_finds_no_server_error_and_no_undocumented_answer(
    http: Http, tmp_path: Path
) -> None:
    key = dict(await http.api.key(7, Role.ADMIN))["authorization"]
    cli = Path(sys.executable).parent / "schemathesis"
    proc = await asyncio.create_subprocess_exec(
        str(cli),
        "run",
        f"{http.base}/openapi.json",
        "--header",
        f"Authorization: {key}",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "20",
        "--max-time",
        "60",
        "--seed",
        "11",
        "--workers",
        "2",
        "--suppress-health-check",
        "all",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={"NO_COLOR": "1", "PATH": str(cli.parent), "HOME": str(tmp_path)},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 150)
    output = out.decode(errors="replace")
    print(output)
    assert proc.returncode == 0, output
    counts = re.search(r"(\d+) generated, (\d+) passed", output)
    assert counts and counts.group(1) == counts.group(2), output
    assert int(counts.group(1)) >= 1000, output  # every operation was really exercised
    operations = re.search(r"Operations:\s+(\d+) selected / (\d+) total", output)
    assert operations and operations.group(1) == operations.group(2), output
    assert re.search(rf"Tested: {operations.group(1)}\b", output), output
