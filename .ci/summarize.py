"""Sum the tests of every CI stage into one line: ``ci: N passed, M failed``.

Each pytest stage and the fuzzer write JUnit XML into the directory given as the first
argument; lint checks are counted by ``.ci/run`` itself (one test per check) and passed as
``--lint-passed`` / ``--lint-failed``. A stage that failed without a failing test in its report (it could
not start, crashed, or missed the coverage floor) counts as one failed test, so a broken stage
never reads as a pass.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def count(report: Path) -> tuple[int, int]:
    """(passed, failed) of one JUnit XML file; skipped tests are neither."""
    root = ET.parse(report).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    passed = failed = 0
    for suite in suites:
        for case in suite.iter("testcase"):
            outcomes = {child.tag for child in case}
            if outcomes & {"failure", "error"}:
                failed += 1
            elif "skipped" not in outcomes:
                passed += 1
    return passed, failed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("reports", type=Path)
    parser.add_argument("--lint-passed", type=int, default=0)
    parser.add_argument("--lint-failed", type=int, default=0)
    parser.add_argument("--failed-stage", action="append", default=[])
    args = parser.parse_args()
    passed, failed = args.lint_passed, args.lint_failed
    failures_of: dict[str, int] = {}
    for report in sorted(args.reports.glob("*.xml")):
        stage_passed, stage_failed = count(report)
        failures_of[report.stem] = stage_failed
        print(f"ci stage {report.stem}: {stage_passed} passed, {stage_failed} failed")
        passed += stage_passed
        failed += stage_failed
    for stage in args.failed_stage:
        if stage.startswith("lint-"):
            continue  # counted by .ci/run, one test per check
        if stage not in failures_of:
            print(f"ci stage {stage}: failed without a test report (counted as one failure)")
            failed += 1
        elif failures_of[stage] == 0:
            # e.g. the coverage floor of `make test`: every test passed, the stage did not
            print(f"ci stage {stage}: failed after its tests passed (counted as one failure)")
            failed += 1
    print(f"ci: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
