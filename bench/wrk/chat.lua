-- wrk script: POST a ~1 KB non-streaming chat completion body.
--   wrk -t2 -c64 -d10s -s bench/wrk/chat.lua http://127.0.0.1:8001
-- Env: WRK_PATH (default /v1/chat/completions), WRK_MODEL (default "auto"),
--      WRK_STREAM=1 to ask for a stream (with include_usage), WRK_KEY for a bearer key.
local filler = string.rep("The quick brown fox jumps over the lazy dog. ", 19)
local stream = os.getenv("WRK_STREAM") == "1"
local body = string.format(
  '{"model":"%s","messages":[{"role":"system","content":"You are a terse assistant."},' ..
  '{"role":"user","content":"Summarise this text in one line: %s"}],' ..
  '"max_tokens":64,"temperature":0.2%s}',
  os.getenv("WRK_MODEL") or "auto", filler,
  stream and ',"stream":true,"stream_options":{"include_usage":true}' or "")

wrk.method = "POST"
wrk.path = os.getenv("WRK_PATH") or "/v1/chat/completions"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
if os.getenv("WRK_KEY") then
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("WRK_KEY")
end
-- No response() hook: it would make wrk pass every answer through Lua. wrk already
-- reports "Non-2xx or 3xx responses" in its summary.
