-- wrk script of bench/load.py: every request adds BENCH_MEMBERS new members to one
-- Amplitude cohort, so every request really writes; counts 204s and other statuses per
-- thread, and prints one JSON line at the end.
local members = tonumber(os.getenv("BENCH_MEMBERS"))
local environment = os.getenv("BENCH_ENVIRONMENT")
local cohort = os.getenv("BENCH_COHORT")
local run = os.getenv("BENCH_RUN")
local headers = {
  ["Authorization"] = os.getenv("BENCH_TOKEN"),
  ["Content-Type"] = "application/json",
}
local threads = {}
counter, ok, other = 0, 0, 0  -- globals: done() reads them with thread:get

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local prefix = run .. "-" .. tid .. "-" .. counter .. "-"
  local batch = {}
  for i = 1, members do
    batch[i] = '{"userId":"' .. prefix .. i .. '","cohortId":"' .. cohort ..
      '","cohortName":"' .. cohort .. '","value":true}'
  end
  local body = '{"environmentId":"' .. environment .. '","batch":[' ..
    table.concat(batch, ",") .. ']}'
  return wrk.format("POST", "/api/v2/segment-targets/amplitude", headers, body)
end

function response(status, headers, body)
  if status == 204 then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local acked, failed = 0, 0
  for _, thread in ipairs(threads) do
    acked = acked + thread:get("ok")
    failed = failed + thread:get("other")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "micros": %d, "p50": %d, "p99": %d, "ok": %d, "other": %d, ' ..
    '"socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), acked, failed,
    e.connect + e.read + e.write + e.timeout))
end
