#!/usr/bin/env bash
# Prepare a Debian 12 machine to build and test RestoreOps. Idempotent: each step checks first and
# does nothing when its tool is already there. The apt steps need root: run the whole script as root
# (or with sudo), or as a normal user who can use sudo.
#
#   sudo bash scripts/setup.sh
#
# Installs only what is missing: postgresql-15, barman-cli-cloud, bzip2/xz-utils/zstd/lz4 (WAL
# decompression), prometheus (for promtool) and chromium (evidence tests), the `postgres` OS user
# (tests run PostgreSQL as it when they run as root), node/npm (only if node is missing) and s3rver into tools/s3rver,
# restores the .NET solution, then installs PowerShell 7.6.9 (tools/pwsh) and Pester 5.7.1 (tools/pwsh-modules)
# from nuget.org for the Pester suite.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

say() { printf 'setup: %s\n' "$*"; }
die() { trap - EXIT; printf 'setup: FAILED: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || printf "setup: FAILED (exit %s) at line %s: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2' EXIT

have() { command -v "$1" >/dev/null 2>&1; }

# Run a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif have sudo; then sudo "$@"
  else die "root is needed for: $* (run this script as root or install sudo)"
  fi
}

# Run a command as the person who invoked the script. Under `sudo bash scripts/setup.sh` that is
# $SUDO_USER, so node_modules/, obj/ and the NuGet cache are not left owned by root for a later
# `bash scripts/test.sh` run without sudo.
as_user() {
  if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ] && [ "${SUDO_USER}" != root ]; then
    runuser -u "$SUDO_USER" -- env PATH="$PATH" "$@"
  else
    "$@"
  fi
}

APT_UPDATED=0
apt_install() {
  have apt-get || die "apt-get not found; this script targets Debian 12. Install by hand: $*"
  if [ "$APT_UPDATED" -eq 0 ]; then
    say "apt-get update"
    as_root apt-get update -qq || die "apt-get update failed"
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null \
    || die "apt-get install $* failed"
}

# 1. PostgreSQL 15 server binaries.
if [ -x /usr/lib/postgresql/15/bin/postgres ]; then
  say "PostgreSQL 15: present ($(/usr/lib/postgresql/15/bin/postgres --version))"
else
  apt_install postgresql-15
  [ -x /usr/lib/postgresql/15/bin/postgres ] || die "postgresql-15 installed but /usr/lib/postgresql/15/bin/postgres is missing"
fi

# 2. Barman Cloud (barman-cloud-backup, -restore, -wal-archive, -wal-restore, -backup-list).
if have barman-cloud-backup; then
  say "barman-cli-cloud: present ($(barman-cloud-backup --version 2>&1 | head -n1))"
else
  apt_install barman-cli-cloud
  have barman-cloud-backup || die "barman-cli-cloud installed but barman-cloud-backup is not on PATH"
fi

# 3. Decompressors for archived WAL.
missing=()
have bzip2 || missing+=(bzip2)
have xz    || missing+=(xz-utils)
have zstd  || missing+=(zstd)
have lz4   || missing+=(lz4)
if [ ${#missing[@]} -eq 0 ]; then
  say "bzip2, xz, zstd, lz4: present"
else
  apt_install "${missing[@]}"
fi

# 3b. Evidence tests: promtool (Debian's prometheus package) checks the Prometheus exposition, and headless
#     chromium renders the HTML report to a screenshot.
missing=()
have promtool || missing+=(prometheus)
have chromium || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
  say "promtool, chromium: present"
else
  apt_install "${missing[@]}"
  have promtool || die "prometheus installed but promtool is not on PATH"
  have chromium || die "chromium installed but chromium is not on PATH"
fi

# 3c. Real Kubernetes API server tests: etcd (Debian's etcd-server; its systemd unit is not used, the tests
#     start etcd themselves). kube-apiserver comes from $KUBEBUILDER_ASSETS or ../shared/k8s (docs/cnpg.md).
if have etcd; then
  say "etcd: present ($(etcd --version 2>&1 | head -n1))"
else
  apt_install etcd-server
  have etcd || die "etcd-server installed but etcd is not on PATH"
fi

# 4. The unprivileged OS user that runs PostgreSQL in tests when they run as root.
if id -u postgres >/dev/null 2>&1; then
  say "OS user postgres: present"
else
  say "creating OS user postgres"
  as_root useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home \
    --shell /bin/bash postgres || die "useradd postgres failed"
fi

# 5. Node.js and s3rver (the S3 stand-in the tests run on 127.0.0.1).
if have node; then
  say "node: present ($(node --version))"
else
  apt_install nodejs npm
fi
have npm || die "node is installed but npm is not; install npm from the same source as node (for NodeSource builds it comes with the nodejs package)"

S3RVER_DIR=tools/s3rver
s3rver_installed() { [ -f "$S3RVER_DIR/node_modules/s3rver/package.json" ]; }
if [ -f "$S3RVER_DIR/package-lock.json" ]; then
  # npm ci always wipes node_modules; skip it when the install is already newer than the lock file.
  if s3rver_installed && [ -f "$S3RVER_DIR/node_modules/.package-lock.json" ] \
     && [ ! "$S3RVER_DIR/package-lock.json" -nt "$S3RVER_DIR/node_modules/.package-lock.json" ]; then
    say "s3rver: present (tools/s3rver/node_modules is up to date with package-lock.json)"
  else
    say "npm ci in tools/s3rver"
    as_user npm ci --prefix "$S3RVER_DIR" --no-audit --no-fund --loglevel=error || die "npm ci --prefix $S3RVER_DIR failed"
  fi
else
  if s3rver_installed && grep -q '"version": *"3.7.1"' "$S3RVER_DIR/node_modules/s3rver/package.json"; then
    say "s3rver 3.7.1: present"
  else
    say "npm install s3rver@3.7.1 in tools/s3rver (no package-lock.json yet)"
    mkdir -p "$S3RVER_DIR"
    as_user npm install --prefix "$S3RVER_DIR" --save-exact --no-audit --no-fund --loglevel=error s3rver@3.7.1 \
      || die "npm install s3rver@3.7.1 failed"
  fi
fi
s3rver_installed || die "s3rver is not in $S3RVER_DIR/node_modules after the npm step"
say "s3rver: $(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$S3RVER_DIR/node_modules/s3rver/package.json" | head -n1)"

# 6. .NET SDK (10 or later: the test project targets net10.0).
DOTNET=""
if have dotnet; then DOTNET=$(command -v dotnet)
elif [ -n "${DOTNET_ROOT:-}" ] && [ -x "$DOTNET_ROOT/dotnet" ]; then DOTNET=$DOTNET_ROOT/dotnet
elif [ -n "${SUDO_USER:-}" ] && [ -x "$(getent passwd "$SUDO_USER" | cut -d: -f6)/.dotnet/dotnet" ]; then
  DOTNET="$(getent passwd "$SUDO_USER" | cut -d: -f6)/.dotnet/dotnet"
elif [ -x "$HOME/.dotnet/dotnet" ]; then DOTNET=$HOME/.dotnet/dotnet
fi
dotnet_help="Install the .NET 10 SDK, e.g. with Microsoft's script:
    curl -sSL https://dot.net/v1/dotnet-install.sh | bash -s -- --channel 10.0
    export PATH=\"\$HOME/.dotnet:\$PATH\"
  or from Microsoft's Debian 12 package feed (apt-get install dotnet-sdk-10.0), see
  https://learn.microsoft.com/dotnet/core/install/linux-debian — then run this script again."
[ -n "$DOTNET" ] || die "the .NET SDK (dotnet) was not found.
  $dotnet_help"
sdk_version=$(as_user "$DOTNET" --version 2>/dev/null) || die "'dotnet --version' failed: an SDK may be missing (only a runtime installed?).
  $dotnet_help"
sdk_major=${sdk_version%%.*}
if ! [[ "$sdk_major" =~ ^[0-9]+$ ]] || [ "$sdk_major" -lt 10 ]; then
  die ".NET SDK $sdk_version found, but 10.0 or later is needed (tests target net10.0).
  $dotnet_help"
fi
say ".NET SDK: $sdk_version"

say "dotnet restore RestoreOps.sln"
as_user "$DOTNET" restore "$ROOT/RestoreOps.sln" --nologo --verbosity quiet || die "dotnet restore RestoreOps.sln failed"

# 7. PowerShell and Pester for the Pester suite (tests/pester), both from nuget.org: PSGallery (Install-Module) is
#    not reachable from the build machines. pwsh is the `PowerShell` dotnet tool in tools/pwsh; the version is named
#    because 7.6 runs on the .NET 10 we require and a later one may want a newer .NET. Pester is the tools/ folder of
#    its nuget.org package, which tools/PesterDownload makes NuGet fetch into its cache; it is copied into
#    tools/pwsh-modules, the folder scripts/test.sh puts on PSModulePath. Both folders are git-ignored.
PWSH_VERSION=7.6.9
PESTER_VERSION=5.7.1
PWSH_DIR=$ROOT/tools/pwsh
PWSH_MODULES=$ROOT/tools/pwsh-modules
PESTER_DIR=$PWSH_MODULES/Pester/$PESTER_VERSION
# The pwsh launcher finds the .NET runtime through DOTNET_ROOT when dotnet is not in /usr/share/dotnet.
export DOTNET_ROOT=${DOTNET_ROOT:-$(dirname "$(readlink -f "$DOTNET")")}

# Runs a command as the invoking user, showing its output only when it fails.
quietly() {
  local out
  if ! out=$(as_user "$@" 2>&1); then printf '%s\n' "$out" >&2; return 1; fi
}

# Prints "<pwsh version> <Pester version>" as the tests will see them, or fails.
pwsh_versions() {
  [ -x "$PWSH_DIR/pwsh" ] || return 1
  as_user env PSModulePath="$PWSH_MODULES" "$PWSH_DIR/pwsh" -NoProfile -NonInteractive -Command \
    "\$ErrorActionPreference = 'Stop'; Import-Module Pester -RequiredVersion $PESTER_VERSION; \"\$(\$PSVersionTable.PSVersion) \$((Get-Module Pester).Version)\"" 2>/dev/null
}

if versions=$(pwsh_versions) && [ "$versions" = "$PWSH_VERSION $PESTER_VERSION" ]; then
  say "PowerShell $PWSH_VERSION (tools/pwsh), Pester $PESTER_VERSION (tools/pwsh-modules): present"
else
  if [ -x "$PWSH_DIR/pwsh" ] && [ -d "$PWSH_DIR/.store/powershell/$PWSH_VERSION" ]; then
    say "PowerShell $PWSH_VERSION: present in tools/pwsh"
  else
    # Another version or a broken install: start over rather than reason about `dotnet tool update` downgrades.
    rm -rf "$PWSH_DIR"
    say "dotnet tool install PowerShell --version $PWSH_VERSION --tool-path tools/pwsh"
    quietly "$DOTNET" tool install PowerShell --version "$PWSH_VERSION" --tool-path "$PWSH_DIR" \
      || die "dotnet tool install PowerShell --version $PWSH_VERSION failed (output above)"
  fi
  if [ -f "$PESTER_DIR/Pester.psd1" ]; then
    say "Pester $PESTER_VERSION: present in tools/pwsh-modules"
  else
    say "Pester $PESTER_VERSION: dotnet restore tools/PesterDownload, copy into tools/pwsh-modules"
    quietly "$DOTNET" restore "$ROOT/tools/PesterDownload/PesterDownload.csproj" --nologo --verbosity quiet \
      || die "dotnet restore tools/PesterDownload failed (output above): nuget.org must serve Pester $PESTER_VERSION"
    cache=$(as_user "$DOTNET" nuget locals global-packages --list | sed -n 's/^global-packages: //p') \
      || die "dotnet nuget locals global-packages --list failed"
    [ -n "$cache" ] || die "'dotnet nuget locals global-packages --list' named no NuGet package folder"
    source_dir=${cache%/}/pester/$PESTER_VERSION/tools
    [ -f "$source_dir/Pester.psd1" ] || die "Pester $PESTER_VERSION was restored, but $source_dir/Pester.psd1 is missing"
    as_user rm -rf "$PESTER_DIR" "$PESTER_DIR.partial"
    as_user mkdir -p "$PWSH_MODULES/Pester"
    # Copied under a temporary name so an interrupted copy never looks like an install.
    as_user cp -R "$source_dir" "$PESTER_DIR.partial" && as_user mv "$PESTER_DIR.partial" "$PESTER_DIR" \
      || die "could not copy $source_dir to $PESTER_DIR"
  fi
  versions=$(pwsh_versions) || die "tools/pwsh/pwsh cannot import Pester $PESTER_VERSION from tools/pwsh-modules; delete tools/pwsh and tools/pwsh-modules and run this script again"
  [ "$versions" = "$PWSH_VERSION $PESTER_VERSION" ] \
    || die "expected PowerShell $PWSH_VERSION and Pester $PESTER_VERSION, found '$versions'; delete tools/pwsh and tools/pwsh-modules and run this script again"
  say "PowerShell $PWSH_VERSION, Pester $PESTER_VERSION: installed"
fi

say "done"
