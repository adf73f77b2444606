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
# Needs node/npm (v20+) and python3 (3.10+) with venv; reaches only the npm
# registry and PyPI.

toolchains_install() {
    local root dir venv stamp
    root="$(pwd)"
    dir="$root/codegen/tests/toolchain"
    command -v npm >/dev/null || { echo "toolchains: npm is not installed (apt-get install nodejs npm)" >&2; return 1; }
    command -v python3 >/dev/null || { echo "toolchains: python3 is not installed" >&2; return 1; }

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

    export HERALD_NODE_MODULES="$dir/node_modules"
    export HERALD_PYTHON="$venv/bin/python"
}
