#!/usr/bin/env bash
# THE test command: every xunit project in RestoreOps.sln, then the Pester suite when pwsh exists.
# The last line printed is always "N passed, N failed, N skipped", totalled over every suite that ran.
# Exit 0 only when nothing failed, nothing crashed and at least one test ran.
#
#   bash scripts/test.sh                      # Release, results in artifacts/test-results/
#   CONFIGURATION=Debug bash scripts/test.sh
#
# Running as root is fine: the tests start PostgreSQL as the unprivileged `postgres` OS user then.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
CONFIGURATION=${CONFIGURATION:-Release}
RESULTS=${TEST_RESULTS_DIR:-$ROOT/artifacts/test-results}
# A test that runs longer than this is treated as hung: its test host is stopped and the run
# reports it (keeps CI inside its time budget instead of waiting forever).
HANG_TIMEOUT=${TEST_HANG_TIMEOUT:-10m}

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)

passed=0 failed=0 skipped=0
problems=()   # failures that are not a failed test: build errors, crashes, missing results

# Each problem that is not a failed test (build error, crashed test host, missing results, no test
# at all) counts as one failure in the summary, so "0 failed" on the last line always means success.
finish() {
  echo
  if [ $((passed + failed + skipped)) -eq 0 ] && [ ${#problems[@]} -eq 0 ]; then
    problems+=("no test ran")
  fi
  if [ ${#problems[@]} -gt 0 ]; then
    for p in "${problems[@]}"; do echo "FAILED: $p"; done
    echo "(the failed count below includes ${#problems[@]} failure(s) listed above that are not test results)"
    failed=$((failed + ${#problems[@]}))
  fi
  echo "$passed passed, $failed failed, $skipped skipped"
  [ "$failed" -eq 0 ]
  exit $?
}

if [ -z "$PY" ]; then
  problems+=("python3 is needed to read the test result files (apt-get install python3)")
  finish
fi

rm -rf "$RESULTS"
mkdir -p "$RESULTS/dotnet"

# ---- xunit (dotnet test) -------------------------------------------------------------------
# dotnet test runs every test project of the solution even when an earlier one fails; it stops
# early only when the build fails. Its exit code catches build failures and test-host crashes.
echo "== dotnet test RestoreOps.sln -c $CONFIGURATION"
dotnet test "$ROOT/RestoreOps.sln" -c "$CONFIGURATION" --nologo \
  --logger "trx" --logger "console;verbosity=normal" \
  --results-directory "$RESULTS/dotnet" \
  --blame-hang-timeout "$HANG_TIMEOUT" --blame-hang-dump-type none
dotnet_rc=$?

# Test projects in the solution's tests/ folder: each one should leave exactly one TRX file.
expected_trx=$(grep -rl --include='*.csproj' 'Microsoft.NET.Test.Sdk' "$ROOT/tests" 2>/dev/null | wc -l)

mapfile -t trx_files < <(find "$RESULTS/dotnet" -name '*.trx' -type f | sort)
if [ ${#trx_files[@]} -gt 0 ]; then
  # Count each test's outcome (Results/UnitTestResult), checked against ResultSummary/Counters:
  # VSTest leaves the notExecuted counter at 0 for skipped xunit tests, so the counters alone
  # under-report skips. failed = Failed/Error/Timeout/Aborted; skipped = NotExecuted and the rest.
  # A run whose outcome is Failed/Aborted without a failed test (the test host crashed or was
  # stopped as hung) is reported as a problem.
  summary=$("$PY" - "${trx_files[@]}" <<'PY'
import sys, os
import xml.etree.ElementTree as ET
FAILED = {'Failed', 'Error', 'Timeout', 'Aborted'}
P = F = S = 0
bad = []
for path in sys.argv[1:]:
    name = os.path.basename(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        bad.append(f"{name}: unreadable TRX ({e})")
        continue
    ns = root.tag[:root.tag.index('}') + 1] if root.tag.startswith('{') else ''
    rs = root.find(f'{ns}ResultSummary')
    c = rs.find(f'{ns}Counters') if rs is not None else None
    if c is None:
        bad.append(f"{name}: no ResultSummary/Counters")
        continue
    n = lambda k: int(c.get(k, '0') or 0)
    outcomes = [r.get('outcome', '') for r in root.iter(f'{ns}UnitTestResult')]
    if outcomes:
        p = sum(o == 'Passed' for o in outcomes)
        f = sum(o in FAILED for o in outcomes)
        s = len(outcomes) - p - f
    else:  # no per-test results: fall back to the counters
        p = n('passed'); f = n('failed') + n('error') + n('timeout') + n('aborted')
        s = max(n('notExecuted'), n('total') - n('executed'))
    if n('total') and n('total') != p + f + s:
        bad.append(f"{name}: counters say {n('total')} tests, the results list {p + f + s}")
    P += p; F += f; S += s
    outcome = rs.get('outcome', '')
    print(f"#   {name}: {p} passed, {f} failed, {s} skipped (run outcome {outcome or 'unknown'})", file=sys.stderr)
    if outcome not in ('Completed', 'Passed', 'Warning') and f == 0:
        bad.append(f"{name}: test run outcome is {outcome or 'unknown'} with no failed test (test host crashed or was stopped?)")
for b in bad:
    print("BAD " + b)
print(f"{P} {F} {S}")
PY
  )
  py_rc=$?
  if [ $py_rc -ne 0 ] || [ -z "$summary" ]; then
    problems+=("could not read the TRX files in $RESULTS/dotnet")
  else
    while IFS= read -r line; do
      case "$line" in
        "BAD "*) problems+=("${line#BAD }") ;;
        *) read -r p f s <<<"$line"; passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s)) ;;
      esac
    done <<<"$summary"
  fi
fi
echo "== xunit: ${#trx_files[@]} result file(s) in ${RESULTS#"$ROOT"/}/dotnet (expected $expected_trx); counts so far: $passed passed, $failed failed, $skipped skipped"

if [ ${#trx_files[@]} -eq 0 ]; then
  problems+=("dotnet test exited with code $dotnet_rc and wrote no TRX result file (build failure? see the output above)")
elif [ ${#trx_files[@]} -lt "$expected_trx" ]; then
  problems+=("only ${#trx_files[@]} of $expected_trx test projects wrote results (dotnet test exit code $dotnet_rc)")
elif [ $dotnet_rc -ne 0 ] && [ "$failed" -eq 0 ] && [ ${#problems[@]} -eq 0 ]; then
  # A non-zero exit that no failed test explains.
  problems+=("dotnet test exited with code $dotnet_rc although no test failed (see the output above)")
fi

# ---- Pester ------------------------------------------------------------------------------
if ! command -v pwsh >/dev/null 2>&1; then
  echo "Pester suite skipped: pwsh is not installed on this machine"
elif ! compgen -G "$ROOT/tests/pester/*.Tests.ps1" >/dev/null; then
  echo "Pester suite skipped: no tests/pester/*.Tests.ps1 files"
else
  echo "== Invoke-Pester -Path tests/pester"
  mkdir -p "$RESULTS/pester"
  # -CI writes testResults.xml (NUnit 2.5) into the current directory and exits non-zero on
  # failure, so run it from the results folder and count from the XML.
  (cd "$RESULTS/pester" && pwsh -NoProfile -NonInteractive -Command \
    "Import-Module Pester -MinimumVersion 5.0 -ErrorAction Stop; \$null = Invoke-Pester -Path '$ROOT/tests/pester' -CI -Output Detailed -PassThru")
  pester_rc=$?
  xml=$RESULTS/pester/testResults.xml
  if [ -f "$xml" ]; then
    read -r p f s < <("$PY" - "$xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
n = lambda k: int(r.get(k, '0') or 0)
total, f, s = n('total'), n('failures') + n('errors'), n('skipped') + n('ignored') + n('inconclusive')
print(max(total - f - s, 0), f, s + n('not-run'))
PY
    )
    echo "== pester: ${p:-?} passed, ${f:-?} failed, ${s:-?} skipped"
    if [[ "${p:-}" =~ ^[0-9]+$ && "${f:-}" =~ ^[0-9]+$ && "${s:-}" =~ ^[0-9]+$ ]]; then
      passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    else
      problems+=("could not read $xml")
    fi
  else
    problems+=("pwsh exited with code $pester_rc and Pester wrote no results (is Pester 5 installed? Install-Module Pester -MinimumVersion 5.0)")
  fi
  if [ $pester_rc -ne 0 ] && [ -f "$xml" ] && [ "${f:-0}" = 0 ]; then
    problems+=("Invoke-Pester exited with code $pester_rc although no test failed (a failed BeforeAll or an unparsable test file?)")
  fi
fi

finish
