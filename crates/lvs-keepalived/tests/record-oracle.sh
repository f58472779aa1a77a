#!/bin/bash
# Records what the real keepalived 2.2.7 says about each configuration case:
#   tests/conf_cases/NAME.conf  ->  tests/conf_cases/NAME.conf.expected
#   tests/samples/keepalived.conf.X  ->  tests/samples/keepalived.conf.X.expected
# Each .expected file holds `rc=N` (the `keepalived -t` exit status) and then the messages,
# each reduced to `LN: text` (or `text` without a line), sorted and without repeats.
#
# keepalived runs as `keepalived -t -f NAME -i lvs1` from the case's directory, inside a
# private network namespace holding exactly the interfaces tests/conf_cases.rs describes with
# a StaticEnv: lo, eth0..eth3 and their veth peers peer0..peer3 (Ethernet, multicast, MTU
# 1500). Needs root and Debian's keepalived (`apt-get install keepalived`; the Makefile installs
# it). The namespace has no route anywhere and is deleted on exit.
#
# Usage: sudo tests/record-oracle.sh [FILE...]   (default: every case and sample)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command -v keepalived >/dev/null || { echo "keepalived is not installed" >&2; exit 1; }
ns=lvsk-oracle-$$-$RANDOM
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
ip -n "$ns" link set lo up
for i in 0 1 2 3; do
    ip -n "$ns" link add "eth$i" type veth peer name "peer$i"
    ip -n "$ns" link set "peer$i" up
    ip -n "$ns" link set "eth$i" up
done
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
    files=("$here"/conf_cases/*.conf "$here"/samples/keepalived.conf.*)
fi
for f in "${files[@]}"; do
    case "$f" in *.expected|*.known-diff) continue ;; esac
    dir=$(dirname "$f"); base=$(basename "$f")
    set +e
    out=$(cd "$dir" && ip netns exec "$ns" keepalived -t -f "$base" -i lvs1 2>&1 >/dev/null)
    rc=$?
    set -e
    {
        echo "rc=$rc"
        printf '%s\n' "$out" | sed -E 's/^\((([^:()]*): )?Line ([0-9]+)\) /L\3: /' | grep -v '^$' | LC_ALL=C sort -u || true
    } > "$f.expected"
    echo "$base: rc=$rc"
done
