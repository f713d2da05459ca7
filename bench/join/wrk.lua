-- bench/join's wrk script: POSTs pre-built TS002 JoinReq bodies (one per line
-- of $BENCH_BODIES), each at most once. wrk runs one Lua state per thread:
-- thread k of n takes the lines whose index is k modulo n, so no two threads
-- share a body (and, with the devices visited round-robin in a number of
-- devices divisible by n, no two threads share a device). A bearer token is
-- read from $BENCH_TOKEN_FILE when set, never from the command line. Answers
-- are counted ("ResultCode":"Success"), never printed. done() prints one line.
local threads = {}
local nthreads = 0

function setup(thread)
	thread:set("tid", nthreads)
	nthreads = nthreads + 1
	table.insert(threads, thread)
end

function init(args)
	-- setup() has run for every thread before any init()
	local n = tonumber(os.getenv("BENCH_THREADS"))
	bodies = {}
	local i = 0
	for line in io.lines(os.getenv("BENCH_BODIES")) do
		if i % n == tid then bodies[#bodies + 1] = line end
		i = i + 1
	end
	nbodies = #bodies
	idx, success, other, non200, wrapped = 0, 0, 0, 0, 0
	local path = os.getenv("BENCH_TOKEN_FILE")
	if path and path ~= "" then
		local f = assert(io.open(path, "r"))
		wrk.headers["Authorization"] = "Bearer " .. f:read("*l")
		f:close()
	end
	wrk.headers["Content-Type"] = "application/json"
end

function request()
	idx = idx + 1
	if idx > #bodies then
		-- out of fresh bodies: a repeat is a replayed DevNonce, counted below
		idx, wrapped = 1, wrapped + 1
	end
	return wrk.format("POST", nil, nil, bodies[idx])
end

function response(status, headers, body)
	if status ~= 200 then
		non200 = non200 + 1
	elseif string.find(body, '"ResultCode":"Success"', 1, true) then
		success = success + 1
	else
		other = other + 1
	end
end

function done(summary, latency, requests)
	local s, o, n, w, sent = 0, 0, 0, 0, 0
	for _, t in ipairs(threads) do
		s = s + t:get("success")
		o = o + t:get("other")
		n = n + t:get("non200")
		w = w + t:get("wrapped")
		sent = sent + t:get("nbodies")
	end
	local e = summary.errors
	io.write(string.format("RESULT %d %d %d %d %d %d %d %d %d %d %d %d %d %d\n",
		summary.requests, summary.duration, summary.bytes,
		latency:percentile(50), latency:percentile(99), latency.max,
		e.status, e.connect + e.read + e.write, e.timeout, s, o, n, w, sent))
end
