#!/usr/bin/env bash
# The demo drill twice, as the README's first command runs it after scripts/setup.sh: once through the CLI
# (restoreops drill --demo), once through PowerShell and the packaged module (New-RestoreDemoBackup |
# Invoke-RestoreDrill -Local). Each builds a sample database, takes a real backup, writes around a recovery
# target, restores to it, runs docs/examples/demo-checks.yaml and removes everything it made. Both records land
# in the evidence folder (default ./evidence). Needs what scripts/setup.sh installs; runs as root (PostgreSQL then
# runs as the postgres OS user) or as a normal user, never asking for sudo.
#
#   bash scripts/demo.sh [EVIDENCE_DIR]
#
# Exit code: 0 when both drills passed, 1 when one did not pass, 2 when something needed is missing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
EVIDENCE=$(realpath -m "${1:-$ROOT/evidence}")
CONFIGURATION=${CONFIGURATION:-Release}
PWSH=$ROOT/tools/pwsh/pwsh

say() { printf 'demo: %s\n' "$*"; }
command -v dotnet >/dev/null 2>&1 || { say "dotnet is missing: run bash scripts/setup.sh first"; exit 2; }
[ -x "$PWSH" ] || { say "tools/pwsh/pwsh is missing: run bash scripts/setup.sh first"; exit 2; }

say "1/2 the CLI: restoreops drill --demo --evidence $EVIDENCE"
cli_rc=0
dotnet run --project "$ROOT/src/RestoreOps.Cli" -c "$CONFIGURATION" -- drill --demo --evidence "$EVIDENCE" || cli_rc=$?

say "2/2 PowerShell: packaging the module (scripts/package-module.sh), then New-RestoreDemoBackup | Invoke-RestoreDrill -Local"
CONFIGURATION=$CONFIGURATION bash "$ROOT/scripts/package-module.sh" >/dev/null
ps_rc=0
# The launcher of a dotnet tool finds the runtime through DOTNET_ROOT when dotnet is not in /usr/share/dotnet.
DOTNET_ROOT=${DOTNET_ROOT:-$(dirname "$(readlink -f "$(command -v dotnet)")")} \
RESTOREOPS_DEMO_EVIDENCE=$EVIDENCE \
  "$PWSH" -NoProfile -NonInteractive -Command '
    $ErrorActionPreference = "Stop"
    Import-Module ./artifacts/module/RestoreOps/RestoreOps.psd1
    $record = New-RestoreDemoBackup | Invoke-RestoreDrill -Local -EvidencePath $env:RESTOREOPS_DEMO_EVIDENCE -Confirm:$false
    $record | Format-List | Out-String -Width 160
    $record.Checks | Format-Table -Wrap | Out-String -Width 160
    if ($record.Verdict -ne "Passed") { exit 1 }
  ' || ps_rc=$?

say "CLI demo exit code $cli_rc, PowerShell demo exit code $ps_rc; evidence in $EVIDENCE"
[ "$cli_rc" -eq 0 ] && [ "$ps_rc" -eq 0 ] && exit 0
[ "$cli_rc" -ne 0 ] && [ "$cli_rc" -ne 1 ] && exit "$cli_rc"
exit 1
