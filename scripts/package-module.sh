#!/usr/bin/env bash
# Lay out the PowerShell module in artifacts/module/RestoreOps/ (POWERSHELL.md §1):
#
#   RestoreOps.psd1, RestoreOps.PowerShell.dll, RestoreOps.Model.dll     root (what PowerShell loads)
#   RestoreOps.Format.ps1xml, RestoreOps.Types.ps1xml                    root, when they exist
#   en-US/about_RestoreOps.help.txt                                      from module/RestoreOps/en-US/
#   en-US/RestoreOps.PowerShell.dll-Help.xml                             generated from docs/cmdlets/*.md
#                                                                        by tools/RestoreOps.HelpBuilder
#   Dependencies/RestoreOps.dll + its third-party assemblies             never in the root
#
#   bash scripts/package-module.sh            # Release
#   CONFIGURATION=Debug bash scripts/package-module.sh
# build.ps1 -Task Package does the same in PowerShell.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
CONFIGURATION=${CONFIGURATION:-Release}
OUT=$ROOT/artifacts/module/RestoreOps

say() { printf 'package: %s\n' "$*"; }
die() { printf 'package: FAILED: %s\n' "$*" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Help first: a page that breaks the schema fails the package before the long publishes. The builder
# names the file and section of every problem and writes nothing then.
HELP_XML=RestoreOps.PowerShell.dll-Help.xml
say "dotnet publish tools/RestoreOps.HelpBuilder ($CONFIGURATION)"
dotnet publish "$ROOT/tools/RestoreOps.HelpBuilder/RestoreOps.HelpBuilder.csproj" -c "$CONFIGURATION" \
  -o "$TMP/helpbuilder" --nologo --verbosity quiet || die "dotnet publish tools/RestoreOps.HelpBuilder failed"
say "help: docs/cmdlets/*.md -> en-US/$HELP_XML"
dotnet "$TMP/helpbuilder/RestoreOps.HelpBuilder.dll" --docs "$ROOT/docs/cmdlets" --out "$TMP/help/$HELP_XML" \
  || die "the MAML help could not be built from docs/cmdlets (problems listed above)"

say "dotnet publish src/RestoreOps.PowerShell ($CONFIGURATION)"
dotnet publish "$ROOT/src/RestoreOps.PowerShell/RestoreOps.PowerShell.csproj" -c "$CONFIGURATION" \
  -o "$TMP/powershell" --nologo --verbosity quiet || die "dotnet publish src/RestoreOps.PowerShell failed"
say "dotnet publish src/RestoreOps ($CONFIGURATION)"
dotnet publish "$ROOT/src/RestoreOps/RestoreOps.csproj" -c "$CONFIGURATION" \
  -o "$TMP/engine" --nologo --verbosity quiet || die "dotnet publish src/RestoreOps failed"

rm -rf "$OUT"
mkdir -p "$OUT/Dependencies"

# Root: the manifest, format/type data and help from module/RestoreOps/, then the two assemblies
# PowerShell itself loads. Everything else the PowerShell project's publish produced (e.g. the
# System.Management.Automation reference stub) stays out.
cp -R "$ROOT/module/RestoreOps/." "$OUT/"
for dll in RestoreOps.PowerShell.dll RestoreOps.Model.dll; do
  [ -f "$TMP/powershell/$dll" ] || die "$dll is missing from the RestoreOps.PowerShell publish output"
  cp "$TMP/powershell/$dll" "$OUT/"
done

# en-US/: the about topic came with module/RestoreOps/; the cmdlet help is the file built above.
mkdir -p "$OUT/en-US"
cp "$TMP/help/$HELP_XML" "$OUT/en-US/$HELP_XML"
[ -f "$OUT/en-US/about_RestoreOps.help.txt" ] || die "en-US/about_RestoreOps.help.txt is missing from module/RestoreOps/"

# Dependencies/: the engine and every assembly it needs, except RestoreOps.Model (one shared copy
# in the root, so the module and the engine agree on the pipeline types).
[ -f "$TMP/engine/RestoreOps.dll" ] || die "RestoreOps.dll is missing from the engine publish output"
shopt -s nullglob
for f in "$TMP/engine"/*.dll; do
  case "$(basename "$f")" in
    RestoreOps.Model.dll|System.Management.Automation.dll) ;;
    *) cp "$f" "$OUT/Dependencies/" ;;
  esac
done
[ -d "$TMP/engine/runtimes" ] && cp -R "$TMP/engine/runtimes" "$OUT/Dependencies/"

# Every FileList entry of the manifest must exist in the module folder.
missing=0
while IFS= read -r entry; do
  [ -n "$entry" ] || continue
  if [ ! -e "$OUT/$entry" ]; then echo "package: FileList entry not in the module: $entry" >&2; missing=1; fi
done < <(sed -n '/FileList *= *@(/,/)/p' "$OUT/RestoreOps.psd1" | grep -o "'[^']*'" | tr -d "'")
[ $missing -eq 0 ] || die "RestoreOps.psd1 FileList names files the module folder does not have"

say "module laid out in ${OUT#"$ROOT"/}:"
(cd "$OUT" && find . -type f | sed 's|^\./||' | sort | sed 's/^/  /')
