-- wrk script: POST /orders with the JSON body of bench/order.json (or $ORDER_BODY, a file path).
-- Each request carries its own Idempotency-Key (wrk thread id + counter), so every POST is a new
-- order: orderd stores the key too, which is the real production cost.
--   wrk -t2 -c16 -d10s --latency -s bench/post-order.lua http://127.0.0.1:PORT/orders
-- Set ORDER_IDEMPOTENCY=0 to send no key at all. $ORDERD_KEY, when set, is sent as the API key
-- (Authorization: Bearer …; a script's own headers replace wrk's -H ones).

local function script_dir()
  local src = debug.getinfo(1, "S").source
  return (src:sub(1, 1) == "@" and src:sub(2):match("(.*/)")) or "./"
end

local path = os.getenv("ORDER_BODY") or (script_dir() .. "order.json")
local f = assert(io.open(path, "rb"), "cannot open order body " .. path)
local body = f:read("*a"):gsub("%s+$", "")
f:close()

local with_key = os.getenv("ORDER_IDEMPOTENCY") ~= "0"
local api_key = os.getenv("ORDERD_KEY")
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
end

local counter = 0
local prefix = nil

function init(args)
  prefix = string.format("bench-%d-%d-%d", os.time(), math.random(1, 1e9), tid or 0)
end

function request()
  counter = counter + 1
  local headers = { ["Content-Type"] = "application/json" }
  if with_key then headers["Idempotency-Key"] = prefix .. "-" .. counter end
  if api_key then headers["Authorization"] = "Bearer " .. api_key end
  return wrk.format("POST", nil, headers, body)
end
