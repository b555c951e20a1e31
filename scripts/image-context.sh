#!/usr/bin/env bash
# Lays out the build context of deploy/Dockerfile in artifacts/image/ (or $IMAGE_CONTEXT):
#
#   cli/                    dotnet publish src/RestoreOps.Cli (framework-dependent; the command is cli/restoreops)
#   module/RestoreOps/      the packaged PowerShell module (scripts/package-module.sh)
#
#   bash scripts/image-context.sh && docker build -f deploy/Dockerfile -t restoreops:dev artifacts/image
#
# CONFIGURATION (default Release) is passed on; RESTOREOPS_MODULE_DIR names an already packaged module to copy
# instead of packaging it again.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
CONFIGURATION=${CONFIGURATION:-Release}
OUT=${IMAGE_CONTEXT:-$ROOT/artifacts/image}

say() { printf 'image-context: %s\n' "$*"; }
die() { printf 'image-context: FAILED: %s\n' "$*" >&2; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT/module"

say "dotnet publish src/RestoreOps.Cli ($CONFIGURATION) -> $OUT/cli"
dotnet publish "$ROOT/src/RestoreOps.Cli/RestoreOps.Cli.csproj" -c "$CONFIGURATION" -o "$OUT/cli" --nologo --verbosity quiet \
  || die "dotnet publish src/RestoreOps.Cli failed"
[ -x "$OUT/cli/restoreops" ] || die "the publish did not produce cli/restoreops"

MODULE=${RESTOREOPS_MODULE_DIR:-}
if [ -z "$MODULE" ]; then
  CONFIGURATION=$CONFIGURATION bash "$ROOT/scripts/package-module.sh"
  MODULE=$ROOT/artifacts/module/RestoreOps
fi
[ -f "$MODULE/RestoreOps.psd1" ] || die "$MODULE holds no packaged module (RestoreOps.psd1)"
cp -R "$MODULE" "$OUT/module/RestoreOps"
say "done: $OUT"
