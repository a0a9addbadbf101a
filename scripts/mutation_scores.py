"""Mutation score per module after ``mutmut run`` (``make mutate``).

Reads ``mutmut results --all true`` and prints, per mutated module, how many
mutants the tests killed, how many survived, and the score: killed (timeouts
included: the tests noticed) over every mutant that is not listed below as
equivalent. An equivalent mutant changes the code but not its behaviour, so no
test can kill it; each is listed with the reason. A survivor that is not listed
is a gap in the tests: kill it with a test, or list it here with its reason.
Exit code 1 when a module scores under ``TARGET``.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

TARGET = 0.90
DETECTED = {"killed", "timeout", "caught by type check", "segfault"}

# Mutant name -> why no test can tell it from the original. Names carry
# mutmut's numbering, so an edit of the module can shift them: re-check then.
_FALLS_THROUGH = "the catch-all at the end also answers RETRIABLE for 500, 599 and 600"
_NULL_IS_UNSET = (
    "json_format.ParseDict reads null as 'not set' (and data is replaced afterwards): "
    "dropping the key first changes nothing"
)
_NO_X_IN_HOSTS = (
    "strip() also removes 'X', which no IP literal holds and yarl lower-cases host names"
)
_IPV6_SCOPES = (
    "IPv6Address parses the %scope itself and membership and is_global ignore it; "
    "IPv4 answers never carry one"
)
_SAME_VALUE = "when the two comparisons differ, offset + 1 == next_offset: same value stored"
EQUIVALENT: dict[str, str] = {
    "dispatcher.offsets.xǁPartitionWatermarkǁadd__mutmut_6": _SAME_VALUE,
    "dispatcher.offsets.xǁPartitionWatermarkǁadd__mutmut_7": _SAME_VALUE,
    "dispatcher.retry_policy.x_classify_status__mutmut_11": _FALLS_THROUGH,
    "dispatcher.retry_policy.x_classify_status__mutmut_12": _FALLS_THROUGH,
    "dispatcher.retry_policy.x_classify_status__mutmut_13": _FALLS_THROUGH,
    "dispatcher.retry_policy.x_classify_status__mutmut_14": _FALLS_THROUGH,
    "dispatcher.retry_policy.x_classify_status__mutmut_18": "500 is taken by the 5xx branch first",
    "eventnotify.delivery.addresses.xǁAddressPolicyǁ__init____mutmut_9": (
        "strict=None is falsy, as strict=False"
    ),
    "eventnotify.delivery.addresses.xǁAddressPolicyǁip_allowed__mutmut_3": _IPV6_SCOPES,
    "eventnotify.delivery.addresses.xǁAddressPolicyǁip_allowed__mutmut_4": _IPV6_SCOPES,
    "eventnotify.delivery.addresses.xǁAddressPolicyǁcheck_literal__mutmut_3": _NO_X_IN_HOSTS,
    "eventnotify.delivery.addresses.xǁAddressPolicyǁcheck_literal__mutmut_10": _NO_X_IN_HOSTS,
    "eventnotify.envelope.x__content_type__mutmut_8": "codec names are case-insensitive",
    "eventnotify.envelope.x__decode_json__mutmut_31": _NULL_IS_UNSET,
    "eventnotify.envelope.x__decode_json__mutmut_34": _NULL_IS_UNSET,
    "eventnotify.envelope.x__decode_json__mutmut_35": _NULL_IS_UNSET,
    "eventnotify.envelope.x__decode_json__mutmut_36": _NULL_IS_UNSET,
    "eventnotify.envelope.x__decode_json__mutmut_52": _NULL_IS_UNSET,
    "eventnotify.envelope.x__decode_json__mutmut_55": _NULL_IS_UNSET,
    "eventnotify.envelope.x__decode_json__mutmut_56": _NULL_IS_UNSET,
    "eventnotify.signing.x_new_secret__mutmut_4": (
        "token_bytes(None) draws the default 32 bytes, which is SECRET_BYTES"
    ),
    "eventnotify.signing.x_new_secret__mutmut_6": "codec names are case-insensitive",
    "eventnotify.signing.x_sign__mutmut_12": "hashlib digest names are case-insensitive",
    "eventnotify.signing.x_sign__mutmut_19": "codec names are case-insensitive",
    "service.core.validation.x_validate_webhook__mutmut_2": (
        "v is still empty there: = and += give the same list"
    ),
}


def module_of(mutant: str) -> str:
    """``dispatcher.offsets.xǁOffsetTrackerǁforget__mutmut_3`` -> ``dispatcher.offsets``."""
    parts = mutant.split(".")
    for i, part in enumerate(parts):
        if part.startswith(("x_", "xǁ")):
            return ".".join(parts[:i])
    return ".".join(parts[:-1])


def read_results(mutmut: str) -> dict[str, str]:
    """Mutant name -> status, from ``mutmut results``."""
    out = subprocess.run(
        [mutmut, "results", "--all", "true"], capture_output=True, text=True, check=True
    ).stdout
    results: dict[str, str] = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name:
            results[name] = status.strip()
    return results


def main() -> int:
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    results = read_results(mutmut)
    if not results:
        print("no mutmut results: run `make mutate`", file=sys.stderr)
        return 1
    per_module: dict[str, Counter[str]] = defaultdict(Counter)
    gaps: list[str] = []
    for name, status in sorted(results.items()):
        counts = per_module[module_of(name)]
        if name in EQUIVALENT:
            counts["equivalent"] += 1
            continue
        counts["detected" if status in DETECTED else "missed"] += 1
        if status not in DETECTED:
            gaps.append(f"  {name}: {status}")
    print(f"{'module':40} {'mutants':>7} {'equiv':>5} {'killed':>6} {'missed':>6} {'score':>6}")
    failing = False
    for module, c in sorted(per_module.items()):
        judged = c["detected"] + c["missed"]
        score = c["detected"] / judged if judged else 1.0
        failing |= score < TARGET
        total = judged + c["equivalent"]
        print(
            f"{module:40} {total:7} {c['equivalent']:5} {c['detected']:6} {c['missed']:6}"
            f" {score:6.1%}"
        )
    if gaps:
        print("\nNot killed and not listed as equivalent:")
        print("\n".join(gaps))
    return 1 if failing else 0


if __name__ == "__main__":
    raise SystemExit(main())
