-- wrk script: POST the signed body in the file LOAD_BODY with the signature LOAD_SIG.
-- wrk counts answers of 400 and above as status errors; load.sh fails a run that has any,
-- so that a broken run is never read as a fast one.
local f = assert(io.open(os.getenv("LOAD_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Claimr-Signature"] = os.getenv("LOAD_SIG")

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT rps=%.1f requests=%d errors=%d p50_us=%d p99_us=%d\n",
    summary.requests / (summary.duration / 1e6), summary.requests,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
