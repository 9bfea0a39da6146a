#!/usr/bin/env python3
"""Autobahn TestSuite cases (server side) against a WebSocket echo endpoint, through kosoku.

    scripts/conformance.py ws://127.0.0.1:PORT/diagnostics/echo [--fast] [--exclude GLOB ...] [--concurrency N]

Prints one line per case group (OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED, FAILED, ERROR) and
as the last line "N passed, M failed"; exit status 1 when any case failed or errored.
--fast leaves out the permessage-deflate groups 12 and 13.

A case that fails is run once more on its own, and counts as passed only if it passes then; both
verdicts are printed. Many cases give the server 0.5 s to answer before they call it a failure,
and the full run shares two cores with the rest of the test suite: one such case (6.22.5, a valid
UTF-8 text echoed) failed once in CI that way, and passed alone.
"""
import argparse
import asyncio
import os
import collections
import sys

from kosoku import FailureError, run_fuzzingclient


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--fast", action="store_true")
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    exclude = list(args.exclude) + (["12.*", "13.*"] if args.fast else [])
    try:
        results = asyncio.run(run_fuzzingclient(args.url, None, exclude or None, concurrency=args.concurrency))
    except FailureError as failure:
        results = failure.results
    retried = {}
    for result in results:
        if str(result.behavior.value).upper() in ("FAILED", "ERROR"):
            try:
                again = asyncio.run(run_fuzzingclient(args.url, [str(result.case_id)], None, concurrency=1))
            except FailureError as failure:
                again = failure.results
            verdict = str(again[0].behavior.value).upper() if again else "ERROR"
            retried[str(result.case_id)] = verdict
            print(f"retried: {result.case_id} {str(result.behavior.value).upper()} after {result.duration} ms "
                  f"({getattr(result, 'result', '')}); alone: {verdict}")
    groups = collections.OrderedDict()
    failed_cases = []
    for result in results:
        case = str(result.case_id)
        behavior = str(result.behavior.value).upper()
        if case in retried and retried[case] not in ("FAILED", "ERROR"):
            behavior = retried[case]
        groups.setdefault(case.split(".")[0], collections.Counter())[behavior] += 1
        if behavior in ("FAILED", "ERROR"):
            failed_cases.append(f"{case} {behavior}")
    names = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED", "ERROR"]
    for group, counts in groups.items():
        print(f"group {group:>3}: " + " ".join(f"{name}={counts[name]}" for name in names))
    for case in failed_cases:
        print("failed:", case)
    total = collections.Counter()
    for counts in groups.values():
        total.update(counts)
    passed = total["OK"] + total["NON-STRICT"] + total["INFORMATIONAL"]
    failed = total["FAILED"] + total["ERROR"]
    print(f"non-strict {total['NON-STRICT']}, unimplemented {total['UNIMPLEMENTED']}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # kosoku 0.1.0 aborts during interpreter teardown (SIGABRT after a complete run); leave
    # without tearing down so the exit status is the verdict.
    os._exit(code)
