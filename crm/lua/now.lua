-- The time every script here decides by; `crm.lua.script` puts this before each of them.
--
-- ARGV[2] is "" in production: the Redis server's clock, the one every web and worker
-- process shares, gives the time, whatever the callers' own clocks say. Tests give a time
-- (epoch seconds) there to move it by hand.
local function now_s()
  if ARGV[2] ~= "" then return tonumber(ARGV[2]) end
  local time = redis.call("TIME")
  return tonumber(time[1]) + tonumber(time[2]) / 1000000
end

