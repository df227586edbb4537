"""Print the benchmark table (with ratios and goals) and draw a side-by-side SVG chart.

python3 bench/report.py bench/results.json bench/chart.svg
"""
import json
import math
import sys

r = json.load(open(sys.argv[1]))
svg_path = sys.argv[2]

rows = [
    # phase, aadtoken, comparison name, comparison value, unit, goal text, goal met
    ("(a) cached get_token + token_free, 1 thread", r["cached_ns_1"], "MSAL Python cached hit", r["msal_cached_ns"], "ns",
     "<= 30 ns", r["cached_ns_1"] <= 30),
    ("(a) 2 threads: aggregate vs 1 thread", r["cached_mops_2"], "1 thread", r["cached_mops_1"], "Mops/s",
     ">= 1.9x", r["cached_mops_2"] / r["cached_mops_1"] >= 1.9),
    ("(b) warm miss (token over a warm connection)", r["warm_us"], "curl, reused connection", r["curl_warm_us"], "us",
     "<= 1.15x curl", r["warm_us"] / r["curl_warm_us"] <= 1.15),
    ("(c) cold first token, fresh process, 1 CA", r["cold_ms"], "curl, new conn., 1 CA", r["curl_cold_mockca_ms"],
     "ms", "<= 1.2x curl", r["cold_ms"] / r["curl_cold_mockca_ms"] <= 1.2),
    ("(c') the same, system CAs + the mock's", r["cold_bundle_ms"], "curl, new conn., same CAs", r["curl_cold_ms"], "ms",
     "<= 0.5x curl", r["cold_bundle_ms"] / r["curl_cold_ms"] <= 0.5),
    ("(d) 64 concurrent cold callers: requests", r["conc_requests"], "MSAL Python", r["msal_conc_requests"], "requests",
     "exactly 1", r["conc_requests"] == 1),
]

print(f"machine: {r['machine']}, {r['date']}")
print(f"{'phase':48} {'aadtoken':>12} {'vs':>26} {'ratio':>8}  goal")
for phase, ours, name, theirs, unit, goal, met in rows:
    ratio = ours / theirs if theirs else float("nan")
    print(f"{phase:48} {ours:>9.4g} {unit:<3}{name + ' ' + format(theirs, '.4g'):>26} {ratio:>8.3g}  {goal}: {'met' if met else 'NOT met'}")
print(f"{'MSAL Python warm miss':48} {r['msal_warm_us']:>9.4g} us  (aadtoken {r['msal_warm_us'] / r['warm_us']:.2g}x faster)")
print(f"{'MSAL Python cold (app + first token)':48} {r['msal_cold_ms']:>9.4g} ms  (with import: {r['msal_cold_import_ms']:.4g} ms)")
print(f"{'curl whole process, one request':48} {r['curl_process_ms']:>9.4g} ms")
print(f"{'footprint: RSS growth after first HTTPS token':48} {r['rss_growth_kb'] / 1024:>9.3g} MB  (goal <= 5 MB)")
print(f"{'footprint: library threads when idle':48} {r['library_threads_idle']:>9}     (goal <= 1)")
print(f"{'footprint: stripped libaadtoken.so':48} {r['so_bytes'] / 1e6:>9.3g} MB  (goal <= 3 MB)")
if "cached_instr" in r:
    print(f"{'instructions: cached get_token + token_free':48} {r['cached_instr']:>9}")
    print(f"{'instructions: cold first token, 1 CA':48} {r['cold_instr']:>9}")
    print(f"{'instructions: cold first token, system CAs + mock':48} {r['cold_bundle_instr']:>9}")

# --- chart: time per operation, log scale, three groups ---
groups = [
    ("cached get", [("aadtoken", r["cached_ns_1"] / 1e3), ("MSAL Python", r["msal_cached_ns"] / 1e3)]),
    ("warm miss", [("aadtoken", r["warm_us"]), ("curl", r["curl_warm_us"]), ("MSAL Python", r["msal_warm_us"])]),
    ("cold first token", [("aadtoken", r["cold_ms"] * 1e3), ("curl", r["curl_cold_ms"] * 1e3),
                          ("MSAL Python", r["msal_cold_ms"] * 1e3)]),
]
colors = {"aadtoken": "#2b6cb0", "curl": "#718096", "MSAL Python": "#dd6b20"}
W, H, left, bottom, top = 760, 380, 70, 60, 40
lo, hi = 0.01, 1e5  # microseconds, log scale
def y(v):
    v = min(max(v, lo), hi)
    return top + (H - top - bottom) * (1 - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)))
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{W/2}" y="22" text-anchor="middle" font-size="15">Time per operation (microseconds, log scale; lower is better)</text>']
for e in range(-2, 6):
    yy = y(10 ** e)
    out.append(f'<line x1="{left}" x2="{W-10}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e2e8f0"/>')
    out.append(f'<text x="{left-6}" y="{yy+4:.1f}" text-anchor="end">{10**e:g}</text>')
gw = (W - left - 20) / len(groups)
for gi, (gname, bars) in enumerate(groups):
    x0 = left + gi * gw + 20
    bw = (gw - 40) / 3
    for bi, (name, v) in enumerate(bars):
        x = x0 + bi * bw
        yy = y(v)
        out.append(f'<rect x="{x:.1f}" y="{yy:.1f}" width="{bw-6:.1f}" height="{H-bottom-yy:.1f}" fill="{colors[name]}"/>')
        label = f"{v*1e3:.0f} ns" if v < 1 else (f"{v:.0f} us" if v < 1000 else f"{v/1e3:.1f} ms")
        out.append(f'<text x="{x+(bw-6)/2:.1f}" y="{yy-4:.1f}" text-anchor="middle" font-size="10">{label}</text>')
    out.append(f'<text x="{x0 + 1.5*bw:.1f}" y="{H-bottom+18}" text-anchor="middle">{gname}</text>')
lx = left
for name, c in colors.items():
    out.append(f'<rect x="{lx}" y="{H-22}" width="12" height="12" fill="{c}"/><text x="{lx+16}" y="{H-12}">{name}</text>')
    lx += 120
out.append(f'<text x="{lx+20}" y="{H-12}">64 cold callers: aadtoken {r["conc_requests"]} request, MSAL Python {r["msal_conc_requests"]}</text>')
out.append("</svg>")
open(svg_path, "w").write("\n".join(out))
print(f"chart: {svg_path}")
