#!/usr/bin/env python3
"""Turns the guest's results (OUT dir written by harness.sh) into golden files.

usage: to_golden.py OUT_DIR GOLDEN_DIR
Every file records the real ipvsadm's stdout, stderr and exit status for one command
line (plus, for cases with a post command, the output of that second command).
"""
import json, os, sys

out, gold = sys.argv[1], sys.argv[2]
os.makedirs(gold, exist_ok=True)
here = os.path.dirname(os.path.abspath(__file__))
cases = [l.rstrip("\n").split("\x1f") for l in open(os.path.join(here, "cases.tsv"))]
HEADER = ("IP Virtual Server version 1.2.1 (size=4096)\n"
          "Prot LocalAddress:Port Scheduler Flags\n"
          "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n")
# Documented differences (docs/compat/ipvsadm.md): what lvsadm does instead.
OVERRIDES = {
    "bflag_comma": {
        "difference": "ipvsadm crashes (SIGSEGV) on a -b value made only of commas; lvsadm refuses it",
        "rc": 2, "stderr": "invalid scheduler flag `,'\n"},
    "mask_noncontig": {
        "difference": "non-contiguous IPv4 persistence masks are refused (the API has prefix lengths)",
        "rc": 2, "stderr": "non-contiguous persistent mask 255.0.255.0 is not supported\n",
        "post-stdout": HEADER},
    "mask_host": {
        "difference": "non-contiguous IPv4 persistence masks are refused (the API has prefix lengths)",
        "rc": 2, "stderr": "non-contiguous persistent mask 10.9.9.8 is not supported\n",
        "post-stdout": HEADER},
    "mask_number": {
        "difference": "non-contiguous IPv4 persistence masks are refused (the API has prefix lengths)",
        "rc": 2, "stderr": "non-contiguous persistent mask 0.0.0.24 is not supported\n",
        "post-stdout": HEADER},
}
n = 0
for name, setup, args, stdin, post in cases:
    def rd(suffix, binary=False):
        p = os.path.join(out, name + suffix)
        if not os.path.exists(p):
            return None
        return open(p, "rb").read().decode()
    argv = [a for a in (rd(".argv") or "").split("\0")][:-1] if args else []
    lines = ["# source: ipvsadm 1:1.31-1+b1 (popt 1.19) in the ipvs-vm guest (Linux 6.12)"]
    if setup:
        lines.append("setup: " + setup)
    lines.append("args: " + json.dumps(argv))
    if stdin:
        lines.append("stdin: " + json.dumps(rd(".stdin")))
    lines.append("rc: " + rd(".rc").strip())
    if post:
        postv = post.split()
        lines.append("post: " + json.dumps(postv))
        lines.append("post-rc: " + rd(".post.rc").strip())
    body = "\n".join(lines) + "\n"
    if setup:
        body += "=== setup-output ===\n" + rd(".setup.out")
    for sec, suffix in [("stdout", ".stdout"), ("stderr", ".stderr"),
                        ("post-stdout", ".post.stdout"), ("post-stderr", ".post.stderr")]:
        if sec.startswith("post") and not post:
            continue
        text = rd(suffix)
        assert text == "" or text.endswith("\n"), (name, sec)
        body += "=== %s ===\n%s" % (sec, text)
    if name in OVERRIDES:
        ov = OVERRIDES[name]
        head, _, rest = body.partition("=== ")
        extra = "difference: %s\n" % ov["difference"]
        for k in ("rc", "post-rc"):
            if k in ov:
                extra += "lvsadm-%s: %s\n" % (k, ov[k])
        body = head + extra + "=== " + rest
        for k in ("stdout", "stderr", "post-stdout", "post-stderr"):
            if k in ov:
                body += "=== lvsadm-%s ===\n%s" % (k, ov[k])
    open(os.path.join(gold, name + ".golden"), "w").write(body)
    n += 1
print(n, "golden files")
