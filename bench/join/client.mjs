// bench/join's node client: posts pre-built TS002 bodies (one per line of a
// file, each used once) over HTTPS keep-alive with CONCURRENCY requests in
// flight on as many connections, optionally presenting a client certificate
// (mutual TLS, which wrk cannot do) or a bearer token read from a file.
// Prints one line: RESULT {json} with requests, seconds, rate, p50/p99 latency,
// the Result.ResultCode counts and the mean answer size. Answers are counted,
// never printed: they carry (wrapped) session keys.
//
//   node client.mjs --url URL --bodies FILE [--count N] [--concurrency C]
//        --ca PEM [--cert PEM --key PEM] [--token-file F] [--static-out FILE]
// --static-out writes a JoinAns-shaped JSON document of the answers' mean
// size with every hex value zeroed, for nginx to serve.
import fs from 'node:fs';
import https from 'node:https';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const url = new URL(args.url);
const lines = fs.readFileSync(args.bodies, 'utf8').split('\n').filter((l) => l.length > 0);
const count = Math.min(Number(args.count || lines.length), lines.length);
const concurrency = Number(args.concurrency || 16);
const agentOpts = { keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency,
	ca: fs.readFileSync(args.ca), servername: 'localhost' };
if (args.cert) Object.assign(agentOpts, { cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) });
const agent = new https.Agent(agentOpts);
const token = args['token-file'] ? fs.readFileSync(args['token-file'], 'utf8').trim() : null;

const latencies = new Float64Array(count);
const codes = {};
let next = 0, bytes = 0, httpErrors = 0, smallest = null;

function post(body) {
	return new Promise((resolve, reject) => {
		const payload = Buffer.from(body);
		const headers = { 'Content-Type': 'application/json', 'Content-Length': payload.length };
		if (token) headers.Authorization = `Bearer ${token}`;
		const req = https.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
			headers, agent }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
			res.on('error', reject);
		});
		req.on('error', reject);
		req.end(payload);
	});
}

async function worker() {
	while (next < count) {
		const i = next++;
		const t = process.hrtime.bigint();
		const { status, text } = await post(lines[i]);
		latencies[i] = Number(process.hrtime.bigint() - t) / 1e3;
		bytes += text.length;
		if (status !== 200) { httpErrors++; continue; }
		let code = 'unparsable';
		try {
			const a = JSON.parse(text);
			code = a.Result?.ResultCode ?? 'none';
			if (code === 'Success' && (smallest === null || text.length < smallest.length)) smallest = text;
		} catch { /* counted as unparsable */ }
		codes[code] = (codes[code] || 0) + 1;
	}
}

const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
agent.destroy();
const sorted = Array.from(latencies).sort((a, b) => a - b);
const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const mean = Math.round(bytes / count);

if (args['static-out'] && smallest) {
	// the shape of a real answer, every hex value (keys, payload) zeroed
	const doc = JSON.parse(smallest);
	const zero = (o) => {
		for (const [k, v] of Object.entries(o)) {
			if (typeof v === 'string' && /^[0-9A-Fa-f]{8,}$/.test(v)) o[k] = '0'.repeat(v.length);
			else if (v && typeof v === 'object') zero(v);
		}
	};
	zero(doc);
	let text = JSON.stringify(doc);
	const pad = mean - text.length - ',"Pad":""'.length;
	if (pad > 0) text = JSON.stringify({ ...doc, Pad: '0'.repeat(pad) });
	fs.writeFileSync(args['static-out'], text, { mode: 0o644 });
}

console.log('RESULT ' + JSON.stringify({ requests: count, seconds: Number(seconds.toFixed(3)),
	rate: Math.round(count / seconds), p50_us: Math.round(pct(50)), p99_us: Math.round(pct(99)),
	max_us: Math.round(sorted[sorted.length - 1]), success: codes.Success || 0,
	failures: count - (codes.Success || 0), codes, http_errors: httpErrors, mean_body: mean }));
