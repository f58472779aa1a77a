# Summary of bench/run.sh results (bench/results/last.tsv): markdown tables.
#   awk -F'\t' -f bench/summary.awk bench/results/last.tsv
# Per (flows, director): median and range over the repetitions of the delivered packets/s
# and of the packets per second of director CPU time (irq + softirq time of the director's
# CPU plus lvsd's own CPU time). Ratios lvsd / peer are taken per repetition (the two were
# measured seconds apart) and reported as median and range.
function sort_(arr, n,    i, j, t) {
	for (i = 2; i <= n; i++) for (j = i; j > 1 && arr[j-1] > arr[j]; j--) { t = arr[j]; arr[j] = arr[j-1]; arr[j-1] = t }
}
function median(arr, n) { sort_(arr, n); return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2 }
function flows(m) { return m == "est" ? "established" : "new" }
function stat(src, k, fmt,    r, x, nn, lo, hi, med) { # "median (lo–hi)" of src[k, 1..n[k]]
	nn = 0
	for (r in reps) if ((k, r) in src) x[++nn] = src[k, r]
	if (!nn) return "–"
	med = median(x, nn); lo = x[1]; hi = x[nn]
	return sprintf(fmt " (" fmt "–" fmt ")", med, lo, hi)
}
!/^#/ && $1 != "mode" {
	k = $1 SUBSEP $2
	if (!(k in seen)) { seen[k] = 1; if (!($1 in mseen)) { mseen[$1] = 1; M[++nm] = $1 } if (!($2 in cseen)) { cseen[$2] = 1; C[++nc] = $2 } }
	reps[$3] = 1
	pps[k, $3] = $4 / 1000; off[k, $3] = $7 / 1000; core[k, $3] = $13 / 1000; share[k, $3] = $12 / $8
}
END {
	print "| flows | director | delivered kpps | kpps per director core | director cores busy | offered kpps |"
	print "|---|---|---:|---:|---:|---:|"
	for (i = 1; i <= nm; i++) for (j = 1; j <= nc; j++) {
		k = M[i] SUBSEP C[j]; if (!(k in seen)) continue
		printf "| %s | %s | %s | %s | %s | %s |\n", flows(M[i]), C[j], stat(pps, k, "%.4g"),
			stat(core, k, "%.4g"), stat(share, k, "%.2f"), stat(off, k, "%.4g")
	}
	print ""
	print "| flows | ratio | delivered pps | pps per director core |"
	print "|---|---|---:|---:|"
	for (i = 1; i <= nm; i++) for (j = 1; j <= nc; j++) {
		if (C[j] !~ /^lvs-/) continue
		for (p = 1; p <= nc; p++) {
			if (C[p] ~ /^lvs-|-xdpg$/) continue
			x = M[i] SUBSEP C[j]; y = M[i] SUBSEP C[p]
			delete rp; delete rc
			for (r in reps) {
				if ((x, r) in pps && (y, r) in pps && pps[y, r] > 0) rp[x, r] = pps[x, r] / pps[y, r]
				if ((x, r) in core && (y, r) in core && core[y, r] > 0) rc[x, r] = core[x, r] / core[y, r]
			}
			printf "| %s | %s / %s | %s | %s |\n", flows(M[i]), C[j], C[p], stat(rp, x, "%.2f"), stat(rc, x, "%.2f")
		}
	}
}
