#!/usr/bin/env bash
# Installs what the test suite and the demo need beyond Rust: the PostgreSQL server binaries
# (initdb, pg_ctl, postgres). The tests start their own throwaway cluster from them.
set -euo pipefail

have_server() {
    command -v initdb >/dev/null 2>&1 && return 0
    local bindir
    bindir=$(pg_config --bindir 2>/dev/null) || return 1
    [ -x "$bindir/initdb" ] && [ -x "$bindir/pg_ctl" ]
}

if have_server; then
    exit 0
fi

echo "PostgreSQL server binaries not found; installing them" >&2
if command -v apt-get >/dev/null 2>&1; then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql postgresql-contrib >/dev/null
elif command -v dnf >/dev/null 2>&1; then
    sudo dnf install -y postgresql-server
elif command -v brew >/dev/null 2>&1; then
    brew install postgresql
else
    echo "Install the PostgreSQL server (initdb, pg_ctl) with your package manager, then re-run." >&2
    exit 1
fi
have_server || { echo "PostgreSQL server binaries still not found after install" >&2; exit 1; }
