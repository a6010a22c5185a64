#!/usr/bin/env bash
# What the PostgreSQL, browser, allocator and BLAS tests need, on Debian as root (CI and the development machines):
# Chromium, PostgreSQL, jemalloc, tcmalloc and OpenBLAS (MLX's blas=openblas) from Debian's packages, the server
# started, and a role for root.
# Elsewhere it says so and does nothing: those tests then skip, and the rest of `make test` still runs.
set -euo pipefail

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "test-services: not root on Debian; the PostgreSQL, browser, allocator and BLAS tests will be skipped," \
         "and MLX runs with its bundled BLAS (apt install libopenblas0-pthread for blas=openblas)" >&2
    exit 0
fi

missing=()
command -v chromium >/dev/null || missing+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
# The allocators `--plan allocator=...` preloads, so that the tests see LD_PRELOAD take effect in a worker. Where
# the name has the t64 suffix (Debian 13, Ubuntu 24.04), the old one selects it.
compgen -G "/usr/lib/*/libjemalloc.so.2" >/dev/null || missing+=(libjemalloc2)
compgen -G "/usr/lib/*/libtcmalloc_minimal.so.4" >/dev/null || missing+=(libtcmalloc-minimal4)
# The pthreads OpenBLAS that `--plan blas=openblas` preloads in front of the reference BLAS of MLX's Linux wheel.
compgen -G "/usr/lib/*/openblas-pthread/libopenblas.so.0" >/dev/null || missing+=(libopenblas0-pthread)
if ((${#missing[@]})); then
    echo "test-services: installing ${missing[*]} from Debian's packages" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

read -r version cluster _ < <(pg_lsclusters --no-header | head -n 1)
pg_ctlcluster "$version" "$cluster" start >/dev/null 2>&1 || true  # already running is fine
for _ in $(seq 30); do
    pg_isready -q -h /var/run/postgresql && break
    sleep 1
done
if ! su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'root'\"" | grep -q 1; then
    su postgres -c "createuser --superuser root"
fi
echo "test-services: PostgreSQL $version/$cluster and $(chromium --version 2>/dev/null | head -n 1) ready" >&2
