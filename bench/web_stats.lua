-- wrk: one line "STATS p50_ms p95_ms p99_ms requests_per_s non_2xx_3xx" when the run ends.
done = function(summary, latency, requests)
  io.write(string.format("STATS %.2f %.2f %.2f %.1f %d\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.requests / (summary.duration / 1e6),
    summary.errors.status))
end
