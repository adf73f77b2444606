# The non-Rust tools the export tests run (sourced by scripts/test.sh):
# Node packages (typescript, zod, @asyncapi/parser) from the lockfile in
# codegen/tests/toolchain/, and a Python virtual environment (pydantic,
# mypy, jsonschema) in .venv-tests/ from the pinned requirements file.
#
# Idempotent: `npm ci` runs only when the lockfile changed since the last
# install, the venv is rebuilt only when requirements.txt did. Exports the
# paths the tests read:
#   HERALD_NODE_MODULES  the node_modules folder (tsc, zod, the parser)
#   HERALD_PYTHON        the venv's python (pydantic, mypy, jsonschema)
#   HERALD_SCHEMATHESIS  schemathesis, for the property-based API test
#                        (its own venv, .venv-schemathesis/, from
#                        server/tests/schemathesis/requirements.txt)
# Installs Node/npm and python3-venv from apt when missing (Node 20+ and
# Python 3.10+ are needed); reaches only apt, the npm registry and PyPI.

toolchains_install() {
    local root dir venv stamp
    root="$(pwd)"
    dir="$root/codegen/tests/toolchain"
    # A bare Debian machine has neither: take them from apt (npm pulls nodejs).
    local need_apt=()
    command -v npm >/dev/null || need_apt+=(nodejs npm)
    command -v python3 >/dev/null || need_apt+=(python3)
    python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
    if [ ${#need_apt[@]} -gt 0 ]; then
        echo "toolchains: apt-get install ${need_apt[*]}" >&2
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >&2
    fi

    stamp="$dir/node_modules/.herald-lock"
    if ! cmp -s "$dir/package-lock.json" "$stamp"; then
        echo "toolchains: npm ci in codegen/tests/toolchain" >&2
        (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts >&2)
        cp "$dir/package-lock.json" "$stamp"
    fi

    venv="$root/.venv-tests"
    stamp="$venv/.herald-requirements"
    if ! cmp -s "$dir/requirements.txt" "$stamp"; then
        echo "toolchains: Python venv in .venv-tests" >&2
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$dir/requirements.txt" >&2
        cp "$dir/requirements.txt" "$stamp"
    fi

    local st_venv="$root/.venv-schemathesis" st_requirements="$root/server/tests/schemathesis/requirements.txt"
    if ! cmp -s "$st_requirements" "$st_venv/.herald-requirements"; then
        echo "toolchains: Python venv in .venv-schemathesis" >&2
        rm -rf "$st_venv"
        python3 -m venv "$st_venv"
        "$st_venv/bin/pip" install --quiet --disable-pip-version-check -r "$st_requirements" >&2
        cp "$st_requirements" "$st_venv/.herald-requirements"
    fi
    export HERALD_SCHEMATHESIS="$st_venv/bin/schemathesis"

    export HERALD_NODE_MODULES="$dir/node_modules"
    export HERALD_PYTHON="$venv/bin/python"
}
