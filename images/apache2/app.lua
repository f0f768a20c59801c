-- graceful-e2e: the three paths of every sample server, answered by mod_lua inside Apache itself
-- (no CGI, no second process): /slow?ms=N sleeps in the worker thread that holds the request.
function ok(r)
  r.content_type = "text/plain"
  r:puts("ok\n")
  return apache2.OK
end

function slow(r)
  local args = r:parseargs()
  local ms = math.max(0, math.min(tonumber(args.ms) or 0, 600000))
  r.usleep(math.floor(ms * 1000))
  r.content_type = "text/plain"
  r:puts("slept " .. ms .. "ms\n")
  return apache2.OK
end
