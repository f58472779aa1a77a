#!/bin/bash
# Runs every case of cases.tsv against the real ipvsadm (inside the ipvs-vm guest).
# Columns: name <TAB> setup (shell) <TAB> args (shell words) <TAB> stdin (printf %b) <TAB> post args
cd /host
mkdir -p out
cat hosts.add >> /etc/hosts
dpkg -l ipvsadm libpopt0 | tail -2 > out/_versions.txt
cp /etc/services out/_services 2>/dev/null
cp /etc/hosts out/_hosts
cat /etc/nsswitch.conf > out/_nsswitch 2>/dev/null
cat /etc/resolv.conf > out/_resolv 2>/dev/null
ip link add dummy0 type dummy 2>/dev/null; ip link set dummy0 up 2>/dev/null
while IFS=$'\x1f' read -r name setup args stdin post; do
  [ -z "$name" ] && continue
  case "$name" in \#*) continue;; esac
  ipvsadm -C; ipvsadm --set 900 120 300
  ipvsadm --stop-daemon master 2>/dev/null; ipvsadm --stop-daemon backup 2>/dev/null
  eval "$setup" > out/$name.setup.out 2>&1
  eval "set -- $args"
  printf '%s\0' "$@" > out/$name.argv
  if [ -n "$stdin" ]; then
    printf '%b' "$stdin" > out/$name.stdin
    ipvsadm "$@" > out/$name.stdout 2> out/$name.stderr < out/$name.stdin
  else
    ipvsadm "$@" > out/$name.stdout 2> out/$name.stderr < /dev/null
  fi
  echo $? > out/$name.rc
  if [ -n "$post" ]; then
    eval "set -- $post"
    ipvsadm "$@" > out/$name.post.stdout 2> out/$name.post.stderr
    echo $? > out/$name.post.rc
  fi
done < ${CASES:-cases.tsv}
echo harness-done
