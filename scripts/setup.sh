#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: system tools, a venv with the Python
# dependencies, and the kernel image. Safe to run again; does nothing when current.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

need=()
for tool in gcc:gcc ld:binutils make:make gdb:gdb python3:python3; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
# cmake and patch build the patched unicorn (scripts/unicorn/build.py); without them
# setup goes on with PyPI's stock unicorn, so they are only installed, never required.
want=()
if [ "${KTHREAD_UNICORN:-}" != stock ]; then
  for tool in cmake:cmake patch:patch; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || want+=("${tool#*:}")
  done
fi
if ((${#need[@]} + ${#want[@]})) && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "setup: installing ${need[*]} ${want[*]} with apt-get" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" "${want[@]}" >/dev/null
elif ((${#need[@]})); then
  echo "setup: missing ${need[*]}: install them (Debian: sudo apt-get install ${need[*]})" >&2
  exit 2
fi

venv=.venv
stamp=$venv/.installed
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ]; then
  [ -x $venv/bin/python ] || python3 -m venv $venv
  $venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  touch "$stamp"
fi
$venv/bin/python scripts/unicorn/build.py
$venv/bin/python -c 'import machine.kbuild as k; k.ensure_kernel()'
