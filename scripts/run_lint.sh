#!/bin/bash
# Copyright 2026 Huawei Technologies Co., Ltd
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
# http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
# ============================================================================
# The review gates of the MindSpore model zoo, as its CI runs them on a pull request:
#   pylint (the zoo's rc file and filter, 120 columns)   .ci/pylintrc
#   every bash script through ShellCheck
#   codespell (short list of real words it flags)         .ci/codespell_ignore.txt
#   lizard: per function at most 100 NLOC and CCN 20
#   markdownlint rules of the zoo (pymarkdown)            .ci/markdownlint.yaml
#   the Apache-2.0 header on every code file, no `type=bool` in argparse, `#!/bin/bash` scripts
#   README_CN.md in step with README.md                   tools/check_readme_sync.py
# The tools come from .ci/requirements-lint.txt (exact versions), installed on first use into their
# own virtual environment .venv-lint (ECENET_LINT_VENV to use another place); requirements.txt and
# .venv are not involved. Prints every finding; exits 1 if there is any.
# Usage: bash scripts/run_lint.sh
set -u
PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$PROJECT_ROOT" || exit 2

LINT_VENV="${ECENET_LINT_VENV:-$PROJECT_ROOT/.venv-lint}"
LINT_REQUIREMENTS=.ci/requirements-lint.txt
STAMP="$LINT_VENV/.requirements.sha256"
WANT="$(sha256sum "$LINT_REQUIREMENTS" | cut -d' ' -f1)"
if [ ! -x "$LINT_VENV/bin/python" ]; then
    echo "[lint] creating virtual environment $LINT_VENV"
    python3 -m venv "$LINT_VENV" || { echo "[lint] error: python3 -m venv failed" >&2; exit 2; }
fi
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "[lint] installing $LINT_REQUIREMENTS into $LINT_VENV"
    "$LINT_VENV/bin/python" -m pip install -q -r "$LINT_REQUIREMENTS" \
        || { echo "[lint] error: pip install -r $LINT_REQUIREMENTS failed" >&2; exit 2; }
    echo "$WANT" > "$STAMP"
fi
BIN="$LINT_VENV/bin"

# The project's files: tracked ones and new ones git does not ignore.
project_files() {
    git ls-files --cached --others --exclude-standard -- "$@" | sort -u | while read -r f; do
        if [ -f "$f" ]; then echo "$f"; fi
    done
}
mapfile -t PY_FILES < <(project_files '*.py')
mapfile -t MD_FILES < <(project_files '*.md')
mapfile -t ALL_FILES < <(project_files)
# bash scripts: *.sh and extension-less files starting with a bash shebang (.ci/run)
mapfile -t SH_FILES < <(for f in "${ALL_FILES[@]}"; do
    case "$f" in
        *.sh) echo "$f" ;;
        */*.*|*.*) ;;
        *) if head -1 "$f" | grep -q '^#!.*\(ba\)\?sh'; then echo "$f"; fi ;;
    esac
done)
if [ "${#PY_FILES[@]}" -eq 0 ]; then echo "[lint] error: no files found (run it in a git checkout)" >&2; exit 2; fi

FAILED=()
gate() {
    local name="$1" start=$SECONDS
    shift
    echo "[lint] $name"
    if ! "$@"; then FAILED+=("$name"); fi
    echo "[lint] $name: $((SECONDS - start)) s"
}

# The Apache-2.0 header of the zoo within the first 20 lines of every code file.
check_headers() {
    local f bad=0
    for f in "${PY_FILES[@]}" "${SH_FILES[@]}"; do
        if ! head -20 "$f" | grep -qE '^# Copyright 20[0-9]{2} Huawei Technologies Co\., Ltd' \
            || ! head -20 "$f" | grep -q 'Licensed under the Apache License, Version 2.0'; then
            echo "$f: missing the Apache-2.0 header (copy it from scripts/run_tests.sh)"
            bad=1
        fi
    done
    return "$bad"
}

# Zoo PR checklist: argparse booleans through ast.literal_eval, never type=bool; bash, never sh.
check_checklist() {
    local f bad=0
    if grep -nE 'type[[:space:]]*=[[:space:]]*bool\b' "${PY_FILES[@]}"; then
        echo "^ type=bool in argparse: bool('False') is True; parse with ast.literal_eval or a choice"
        bad=1
    fi
    for f in "${SH_FILES[@]}"; do
        if [ "$(head -1 "$f")" != "#!/bin/bash" ]; then
            echo "$f:1: the first line must be #!/bin/bash"
            bad=1
        fi
    done
    return "$bad"
}

gate "pylint" "$BIN/pylint" --rcfile=.ci/pylintrc "${PY_FILES[@]}"
gate "shellcheck" "$BIN/shellcheck" --external-sources "${SH_FILES[@]}"
gate "codespell" "$BIN/codespell" --ignore-words .ci/codespell_ignore.txt "${ALL_FILES[@]}"
gate "lizard (NLOC <= 100, CCN <= 20)" "$BIN/lizard" --languages python --CCN 20 --Threshold nloc=100 \
    --warnings_only "${PY_FILES[@]}"
gate "markdownlint" "$BIN/pymarkdown" --config .ci/markdownlint.yaml scan "${MD_FILES[@]}"
gate "Apache-2.0 headers" check_headers
gate "type=bool, #!/bin/bash" check_checklist
gate "README_CN.md in step with README.md" "$BIN/python" tools/check_readme_sync.py README.md README_CN.md

if [ "${#FAILED[@]}" -ne 0 ]; then
    printf '[lint] FAILED: %s\n' "${FAILED[@]}"
    exit 1
fi
echo "[lint] all gates passed"
