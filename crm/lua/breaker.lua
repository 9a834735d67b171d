-- Circuit breaker transitions, atomic across every process sharing this Redis.
--
-- Keys:
--   KEYS[1]  <prefix>:state     hash: state (closed|open|half_open), since (s; absent until
--                               the first transition), successes and probes (half-open),
--                               seq (numbers the answers, so that they sort in order)
--   KEYS[2]  <prefix>:calls     sorted set of the answers learnt while closed: member the
--                               zero-padded seq, score the time (s); trimmed to the window
--   KEYS[3]  <prefix>:failures  the same, for the answers that were failures
--
-- ARGV: op (allow|success|failure|state|reset), now (s, or "": see now.lua), threshold,
--       failure rate (0-1], window (s), open timeout (s), successes needed to close,
--       probes allowed while half-open, recent calls the share is judged on
--
-- Returns {state, since ("" before the first transition), wait_s, calls, failures}:
-- wait_s > 0 when `allow` refuses the call, and for `state` while open; calls and
-- failures count the window.
local state_key, calls_key, failures_key = KEYS[1], KEYS[2], KEYS[3]
local op = ARGV[1]
local now = now_s()
local threshold = tonumber(ARGV[3])
local failure_rate = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
local open_timeout = tonumber(ARGV[6])
local close_after = tonumber(ARGV[7])
local max_probes = tonumber(ARGV[8])
local recent = tonumber(ARGV[9])

local state = redis.call("HGET", state_key, "state") or "closed"
local since = tonumber(redis.call("HGET", state_key, "since") or "")
local window_start = string.format("(%.6f", now - window)

local function move(new_state)
  state, since = new_state, now
  redis.call("HSET", state_key, "state", state, "since", string.format("%.6f", now),
    "successes", 0, "probes", 0)
  if new_state == "closed" then redis.call("DEL", calls_key, failures_key) end
end

local function record(failed)
  local member = string.format("%016d", redis.call("HINCRBY", state_key, "seq", 1))
  redis.call("ZADD", calls_key, now, member)
  if failed then redis.call("ZADD", failures_key, now, member) end
  for _, key in ipairs({calls_key, failures_key}) do
    redis.call("ZREMRANGEBYSCORE", key, "-inf", string.format("%.6f", now - window))
    redis.call("EXPIRE", key, math.ceil(window) + 1)
  end
end

local function counts()
  return redis.call("ZCOUNT", calls_key, window_start, "+inf"),
    redis.call("ZCOUNT", failures_key, window_start, "+inf")
end

-- The share is judged on the window's latest calls (`recent` at most): the successes of
-- a calm, busy minute before an outage would otherwise hide it for half a window.
local function recent_share(calls)
  local judged = math.min(calls, recent)
  if judged == 0 then return 0 end
  local oldest = redis.call("ZREVRANGE", calls_key, judged - 1, judged - 1)[1]
  local failed = 0
  for _, member in ipairs(redis.call("ZREVRANGE", failures_key, 0, judged - 1)) do
    if member >= oldest then failed = failed + 1 end
  end
  return failed / judged
end

if op == "reset" then
  move("closed")
elseif op ~= "state" and state == "open" and now >= since + open_timeout then
  move("half_open")
end

local wait = 0
if op == "state" then
  if state == "open" then wait = math.max(0, since + open_timeout - now) end
elseif op == "allow" then
  if state == "open" then
    wait = since + open_timeout - now
  elseif state == "half_open" then
    local probes = tonumber(redis.call("HGET", state_key, "probes") or 0)
    if probes >= max_probes and now >= since + open_timeout then
      -- Probes that never reported back (their worker died): start a fresh half-open round.
      move("half_open")
      probes = 0
    end
    if probes >= max_probes then
      wait = 1
    else
      redis.call("HINCRBY", state_key, "probes", 1)
    end
  end
elseif op == "success" then
  if state == "closed" then
    record(false)
  elseif state == "half_open" then
    local successes = redis.call("HINCRBY", state_key, "successes", 1)
    redis.call("HINCRBY", state_key, "probes", -1)
    if successes >= close_after then move("closed") end
  end
elseif op == "failure" then
  if state == "half_open" then
    move("open")
  elseif state == "closed" then
    record(true)
    local calls, failures = counts()
    if failures >= threshold and recent_share(calls) >= failure_rate then move("open") end
  end
end

local calls, failures = counts()
local moved = since and string.format("%.6f", since) or ""
return {state, moved, string.format("%.6f", wait), calls, failures}
