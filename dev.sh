#!/usr/bin/env bash
# One entry point for a fresh Debian machine that has only python3:
#   ./dev.sh demo   set everything up, start a local cluster, load the demo catalog
#   ./dev.sh test   set everything up, run the whole test suite (what CI runs)
#   ./dev.sh setup  only set up (system packages, .venv, the package)
# Extra arguments after `demo` go to `qserv-py demo` (e.g. --objects 100000).
set -euo pipefail
cd "$(dirname "$0")"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "dev.sh: need root (or sudo) to install: $*" >&2; exit 1; fi
}

apt_updated=""
apt_install() {
    [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

setup_system() {
    local missing=()
    command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
    command -v mariadb >/dev/null || missing+=(mariadb-client)
    python3 -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "dev.sh: installing ${missing[*]} with apt-get" >&2
        apt_install "${missing[@]}"
    fi
}

setup_python() {
    [ -x .venv/bin/python ] || python3 -m venv .venv
    local stamp=.venv/.qserv-py-installed
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        echo "dev.sh: installing the package and its dependencies into .venv" >&2
        if ! { .venv/bin/python -m pip install -q --upgrade pip &&
               .venv/bin/python -m pip install -q -e '.[test]'; } >.venv/pip.log 2>&1; then
            cat .venv/pip.log >&2
            exit 1
        fi
        touch "$stamp"
    fi
}

setup() { setup_system; setup_python; }

case "${1:-}" in
    setup) setup ;;
    demo)
        shift
        setup
        exec .venv/bin/qserv-py demo "$@"
        ;;
    test)
        shift
        setup
        .venv/bin/ruff check qserv_py tests benchmarks
        .venv/bin/ruff format --check qserv_py tests benchmarks
        .venv/bin/mypy qserv_py
        # SIGINT on timeout lets pytest run its finalizers, which stop the test clusters.
        exec timeout -s INT 1500 .venv/bin/pytest -q -p no:cacheprovider "$@"
        ;;
    *)
        sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
