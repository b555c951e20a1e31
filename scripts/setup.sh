#!/usr/bin/env bash
# Prepare a Debian 12 machine to build and test RestoreOps. Idempotent: each step checks first and
# does nothing when its tool is already there. The apt steps need root: run the whole script as root
# (or with sudo), or as a normal user who can use sudo.
#
#   sudo bash scripts/setup.sh
#
# Installs only what is missing: postgresql-15, barman-cli-cloud, bzip2/xz-utils/zstd/lz4 (WAL
# decompression), prometheus (for promtool) and chromium (evidence tests), the `postgres` OS user
# (tests run PostgreSQL as it when they run as root), node/npm (only if node is missing) and s3rver into tools/s3rver, then restores the .NET solution.
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

say "done"
