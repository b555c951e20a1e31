#!/usr/bin/env bash
# THE test command: every xunit project in RestoreOps.sln, then the Pester suite on the packaged module (pwsh and
# Pester from scripts/setup.sh; with CI set, a missing pwsh fails the run instead of skipping the suite).
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
# The whole Pester run (about 40 s here), stopped after this.
PESTER_TIMEOUT=${PESTER_TIMEOUT:-8m}

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
# pwsh 7.6.9 and Pester 5.7.1 come from scripts/setup.sh (tools/pwsh, tools/pwsh-modules); a pwsh on PATH does too.
# In CI the suite must run: a missing pwsh is a failure there. Elsewhere it is skipped with one line.
case "${CI:-}" in ""|0|false|False|FALSE|no) in_ci=0 ;; *) in_ci=1 ;; esac
PWSH=""
if [ -x "$ROOT/tools/pwsh/pwsh" ]; then PWSH=$ROOT/tools/pwsh/pwsh
elif command -v pwsh >/dev/null 2>&1; then PWSH=$(command -v pwsh)
fi
pester_missing=""
if [ -z "$PWSH" ]; then
  pester_missing="pwsh was found neither in tools/pwsh nor on PATH (bash scripts/setup.sh installs PowerShell 7.6.9 there)"
elif ! compgen -G "$ROOT/tests/pester/*.Tests.ps1" >/dev/null; then
  pester_missing="no tests/pester/*.Tests.ps1 files"
fi
if [ -n "$pester_missing" ]; then
  if [ "$in_ci" -eq 1 ]; then
    problems+=("Pester suite could not run in CI (CI=$CI): $pester_missing")
  else
    echo "Pester suite skipped: $pester_missing"
  fi
else
  mkdir -p "$RESULTS/pester"
  xml=$RESULTS/pester/testResults.xml
  # The suite tests the module as users get it: lay it out now (the solution build does not) and point the suite
  # at it, so the suite never packages on its own.
  echo "== scripts/package-module.sh ($CONFIGURATION)"
  if ! CONFIGURATION=$CONFIGURATION bash "$ROOT/scripts/package-module.sh"; then
    problems+=("scripts/package-module.sh failed (output above), so the Pester suite did not run")
  else
    echo "== Pester: ${PWSH#"$ROOT"/} -File tests/pester/Invoke-RestoreOpsPester.ps1"
    # The launcher of a dotnet tool finds the runtime through DOTNET_ROOT when dotnet is not in /usr/share/dotnet.
    dotnet_root=${DOTNET_ROOT:-$(dirname "$(readlink -f "$(command -v dotnet)")")}
    # timeout: a hung test must not eat the rest of CI's budget; the summary line still comes.
    PSModulePath="$ROOT/tools/pwsh-modules${PSModulePath:+:$PSModulePath}" \
    RESTOREOPS_TEST_MODULE="$ROOT/artifacts/module/RestoreOps" DOTNET_ROOT="$dotnet_root" \
    RESTOREOPS_TEST_CLI="$ROOT/src/RestoreOps.Cli/bin/$CONFIGURATION/net8.0/RestoreOps.Cli.dll" \
      timeout --kill-after=30s "$PESTER_TIMEOUT" "$PWSH" -NoProfile -NonInteractive \
      -File "$ROOT/tests/pester/Invoke-RestoreOpsPester.ps1" -ResultPath "$xml"
    pester_rc=$?
    pester_stopped=0
    if [ "$pester_rc" -eq 124 ] || [ "$pester_rc" -eq 137 ]; then
      pester_stopped=1
      problems+=("the Pester suite was stopped after $PESTER_TIMEOUT (PESTER_TIMEOUT); see the output above for the test that hung")
    fi
    p=? f=? s=?
    if [ -f "$xml" ]; then
      # One test-case per test that ran: Success passed; Failure/Error failed; Ignored (skipped), Inconclusive and
      # anything else count as skipped (neither passed nor failed). Checked against the root's total.
      read -r p f s check < <("$PY" - "$xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except ET.ParseError:
    print("? ? ? unreadable")
    sys.exit()
results = [c.get('result', '') for c in root.iter('test-case')]
p = sum(r == 'Success' for r in results)
f = sum(r in ('Failure', 'Error') for r in results)
total = int(root.get('total', '-1') or -1)
print(p, f, len(results) - p - f, 'ok' if total == len(results) else f'total={total},test-cases={len(results)}')
PY
      )
      if [[ "$p" =~ ^[0-9]+$ && "$f" =~ ^[0-9]+$ && "$s" =~ ^[0-9]+$ ]]; then
        passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
        [ "$check" = ok ] || problems+=("$xml: the total does not match the test cases ($check)")
      else
        problems+=("could not read $xml")
      fi
    elif [ "$pester_stopped" -eq 0 ]; then
      problems+=("pwsh exited with code $pester_rc and Pester wrote no results (is Pester 5 in tools/pwsh-modules? bash scripts/setup.sh installs it)")
    fi
    # Pester counts a file that could not run and a failed BeforeAll/AfterAll as failures too; the runner lists them.
    pester_problems=0
    if [ -f "$xml.problems.txt" ]; then
      while IFS= read -r line; do
        [ -n "$line" ] || continue
        problems+=("$line"); pester_problems=$((pester_problems + 1))
      done <"$xml.problems.txt"
    fi
    echo "== pester: $p passed, $f failed, $s skipped; $pester_problems failed file(s)/block(s)"
    if [ "$pester_rc" -ne 0 ] && [ "$pester_stopped" -eq 0 ] && [ -f "$xml" ] && [ "$f" = 0 ] && [ "$pester_problems" -eq 0 ]; then
      problems+=("the Pester run exited with code $pester_rc although no test failed (see the output above)")
    fi
  fi
fi

finish
