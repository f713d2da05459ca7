// The Application Server end to end against an independent oracle (issue 6):
// devices join through iotvault's join server (TS002 JoinReq over the backend
// listener), lora-packet derives the session keys from the JoinAccept and
// encrypts uplinks with them, which are posted in ChirpStack v4 and The Things
// Stack shapes (and the native shape, for a session adopted from an AppSKey
// envelope wrapped under iotvault's own AS KEK). The decoded values are read
// back over GET /uplinks; replays and regressions are refused (409, security
// event, nothing stored); malformed events get 4xx and change nothing;
// downlinks are pushed to a fake network server (python3 HTTPS) and
// lora-packet decrypts what it received back to the plaintext.
//
// Keys, KEKs, tokens and API keys stay in variables; assertion messages carry
// statuses, codes and counts only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { Fixture, lora, hex, rand, freePort } from '../joinserver/harness.mjs';
import * as lib from './lib.mjs';

const { b64, fcntMsb, encryptUplink } = lib;
const CS_TOKEN = crypto.randomBytes(16).toString('hex');
const TTS_KEY = `NNSXS.${crypto.randomBytes(16).toString('hex')}`;

let fx, srv, ns, asOwn, nsFake, apiKey, viewerKey, adminCookie;
const dev = {};

// ---- the fake network server: python3 HTTPS, prints each request as JSON ----
class FakeNs {
	async start(dir) {
		this.port = await freePort();
		this.cert = path.join(dir, 'ns.crt');
		this.key = path.join(dir, 'ns.key');
		const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
			'-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '2',
			'-keyout', this.key, '-out', this.cert], { encoding: 'utf8' });
		assert.equal(r.status, 0, `openssl for the fake NS: ${r.stderr}`);
		const script = path.join(dir, 'fake_ns.py');
		fs.writeFileSync(script, `
import http.server, json, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get('Content-Length', '0'))
        body = self.rfile.read(n).decode()
        status = 500 if '/fail/' in self.path else 200
        print(json.dumps({'path': self.path, 'auth': self.headers.get('Authorization', ''), 'body': body}), flush=True)
        out = b'{"id":"00000000-0000-0000-0000-000000000001"}'
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(('127.0.0.1', ${this.port}), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain('${this.cert}', '${this.key}')
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print('ready', flush=True)
srv.serve_forever()
`);
		this.requests = [];
		this.proc = spawn('python3', [script], { stdio: ['ignore', 'pipe', 'pipe'] });
		let buf = '';
		await new Promise((resolve, reject) => {
			const t = setTimeout(() => reject(new Error('fake NS did not start')), 15000);
			this.proc.stdout.on('data', (d) => {
				buf += d;
				let i;
				while ((i = buf.indexOf('\n')) >= 0) {
					const line = buf.slice(0, i);
					buf = buf.slice(i + 1);
					if (line === 'ready') { clearTimeout(t); resolve(); } else if (line) this.requests.push(JSON.parse(line));
				}
			});
			this.proc.on('exit', (c) => reject(new Error(`fake NS exited ${c}`)));
		});
		this.proc.removeAllListeners('exit');
	}
	stop() { if (this.proc) this.proc.kill('SIGTERM'); }
}

// ---- the REST API of the running server ----
const api = lib.apiClient(() => ({ srv, fx }));

const ingest = (fmt, body, { query = '', bearer = apiKey, raw } = {}) =>
	api('POST', `/api/v1/ingest/${fmt}${query}`, raw !== undefined ? { raw, bearer } : { json: body, bearer });

// ---- LoRaWAN frames (lora-packet) ----
// The plaintext of a downlink FRMPayload, decrypted by the device side.
function decryptDownlink(session, fcnt32, fport, enc) {
	const p = lora.fromFields({ MType: 'Unconfirmed Data Down', DevAddr: session.devAddr, FCnt: fcnt32 & 0xffff,
		FPort: fport, payload: enc });
	return lora.decrypt(p, session.appSKey, undefined, fcntMsb(fcnt32));
}

function wrap(kek, key) {
	const c = crypto.createCipheriv('id-aes128-wrap', kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
	return Buffer.concat([c.update(key), c.final()]);
}

const chirpstackUp = (d, fcnt32, fport, plain, extra) => lib.chirpstackUp(d, asOwn.kekLabel, fcnt32, fport, plain, extra);
const ttsUp = (d, fcnt32, fport, plain) => lib.ttsUp(d, asOwn.kekLabel, fcnt32, fport, plain);
const joinDevice = (d) => lib.joinDevice(fx, srv, ns, d);

// What a refused event must leave unchanged.
const snapshot = () => fx.sql("select (select count(*) from uplinks) || ' ' || (select count(*) from lorawan_sessions) || ' ' || " +
	"(select count(*) from secrets) || ' ' || (select coalesce(group_concat(coalesce(last_fcnt_up, '-')), '') from appserver_sessions) || ' ' || " +
	"(select count(*) from downlinks)");
const eventCount = (kind) => Number(fx.sql(`select count(*) from security_events where kind = '${kind}'`));

async function refused(what, fmt, body, status, code, opts = {}) {
	const snap = snapshot();
	const res = await ingest(fmt, body, opts);
	srv.assertAlive();
	assert.equal(res.status, status, `${what}: HTTP ${res.status} ${res.body?.error?.code ?? ''} ${res.body?.error?.message ?? ''}`);
	if (code) assert.equal(res.body?.error?.code, code, `${what}: error code`);
	assert.equal(snapshot(), snap, `${what}: the database changed`);
	return res;
}

async function uplinks(d, q = '') {
	const res = await api('GET', `/api/v1/devices/${d.id}/uplinks${q}`, { bearer: apiKey });
	assert.equal(res.status, 200, `GET uplinks: ${res.status}`);
	return res.body;
}

before(async () => {
	fx = new Fixture();
	fx.init();
	const netId = () => { const b = rand(3); b[0] &= 0x7f; return hex(b); };
	ns = fx.addPeer('ns1', 'ns', netId(), 'token');
	asOwn = fx.addPeer('iv-as', 'as', 'AS-IV.IOT', 'token');
	nsFake = new FakeNs();
	await nsFake.start(fx.tmp);
	fs.appendFileSync(path.join(fx.dir, 'iotvault.conf'), `
[appserver]
own_as_peer = iv-as
uplink_retention_days = 7
chirpstack_api_url = https://127.0.0.1:${nsFake.port}/cs
tts_api_url = https://127.0.0.1:${nsFake.port}/tts
ns_ca_file = ${nsFake.cert}
`);
	process.env.IOTVAULT_CHIRPSTACK_TOKEN = CS_TOKEN;
	process.env.IOTVAULT_TTS_API_KEY = TTS_KEY;
	dev.a = fx.addDevice('1.0.3', { as: 'iv-as' });
	dev.b = fx.addDevice('1.1', { as: 'iv-as' });
	dev.c = fx.addDevice('1.0.4'); // its session comes from another join server
	dev.a.name = 'meter-a';
	dev.b.ttsId = 'sensor-b';
	srv = await fx.serve();

	// an operator API key for the network-server integrations, and a viewer key
	const pw = fs.readFileSync(path.join(fx.dir, 'initial-admin-password'), 'utf8').trim();
	const login = await api('POST', '/api/v1/session', { json: { tenant: 'default', username: 'admin', password: pw } });
	assert.equal(login.status, 200, `admin login: ${login.status} ${login.text}`);
	adminCookie = String(login.headers['set-cookie']).match(/__Host-iotvault_session=([^;]+)/)[1];
	const k = await api('POST', '/api/v1/apikeys', { json: { name: 'chirpstack', role: 'operator' }, cookie: adminCookie });
	assert.equal(k.status, 201, `API key: ${k.status} ${k.text}`);
	apiKey = k.body.key;
	const v = await api('POST', '/api/v1/apikeys', { json: { name: 'dashboard', role: 'viewer' }, cookie: adminCookie });
	viewerKey = v.body.key;

	const list = await api('GET', '/api/v1/devices?limit=100', { bearer: apiKey });
	for (const d of Object.values(dev)) d.id = list.body.devices.find((x) => x.dev_eui === hex(d.devEui)).id;
	await joinDevice(dev.a);
	await joinDevice(dev.b);
});

after(async () => {
	if (nsFake) nsFake.stop();
	if (fx) await fx.stop();
});

test('ChirpStack end-to-end uplinks are decrypted with the joined session and stored (raw codec)', async () => {
	const sent = [];
	for (const fcnt of [1, 2, 5]) {
		const plain = rand(1 + crypto.randomInt(40));
		const res = await ingest('chirpstack', chirpstackUp(dev.a, fcnt, 10, plain), { query: '?event=up' });
		assert.equal(res.status, 200, `uplink ${fcnt}: ${res.status} ${res.text}`);
		assert.equal(res.body.status, 'accepted');
		assert.equal(res.body.f_cnt, fcnt);
		assert.equal(res.body.forwarded, true, 'accepted uplinks are queued for the integrations');
		sent.push({ fcnt, plain });
	}
	const got = (await uplinks(dev.a)).uplinks;
	assert.equal(got.length, 3);
	for (const s of sent) {
		const u = got.find((x) => x.f_cnt === s.fcnt);
		assert.ok(u, `uplink ${s.fcnt} stored`);
		assert.equal(u.status, 'accepted');
		assert.equal(u.source, 'chirpstack');
		assert.equal(u.decoded.hex, hex(s.plain), `FCnt ${s.fcnt}: decrypted payload equals the oracle's plaintext`);
		assert.equal(u.decoded.base64, b64(s.plain));
	}
	// a join event (session already known) is acted upon, other events ignored
	const j = await ingest('chirpstack', { deviceInfo: { devEui: hex(dev.a.devEui) }, devAddr: hex(dev.a.session.devAddr),
		joinServerContext: { sessionKeyId: dev.a.session.skid } }, { query: '?event=join' });
	assert.equal(j.status, 200, `join: ${j.text}`);
	assert.equal(j.body.status, 'session_ready');
	for (const ev of ['ack', 'txack', 'log', 'status']) {
		const r = await ingest('chirpstack', { deviceInfo: { devEui: hex(dev.a.devEui) } }, { query: `?event=${ev}` });
		assert.equal(r.status, 204, `event=${ev}`);
	}
});

test('The Things Stack uplinks with CayenneLPP: the full decode checked value by value', async () => {
	const put = await api('PUT', `/api/v1/devices/${dev.b.id}/codec`, { json: { codec: 'cayennelpp' }, bearer: apiKey });
	assert.equal(put.status, 200, `PUT codec: ${put.text}`);
	// temperature 27.2 C on 1, humidity 64.5 % on 2, GPS on 3, digital in 1 on 4, voltage 3.31 V on 5,
	// accelerometer on 6, unix time on 7, colour on 8, switch on 9, altitude -12 m on 10
	const lpp = Buffer.concat([
		Buffer.from([1, 103, 0x01, 0x10]), Buffer.from([2, 104, 129]),
		Buffer.from([3, 136, 0x06, 0x76, 0x5f, 0xf2, 0x96, 0x0a, 0x00, 0x03, 0xe8]),
		Buffer.from([4, 0, 1]), Buffer.from([5, 116, 0x01, 0x4b]),
		Buffer.from([6, 113, 0x04, 0xd2, 0xfb, 0x2e, 0x00, 0x00]),
		Buffer.from([7, 133, 0x65, 0x00, 0x00, 0x00]), Buffer.from([8, 135, 255, 128, 0]),
		Buffer.from([9, 142, 1]), Buffer.from([10, 121, 0xff, 0xf4]),
	]);
	const res = await ingest('tts', ttsUp(dev.b, 7, 2, lpp));
	assert.equal(res.status, 200, `TTS uplink: ${res.text}`);
	assert.equal(res.body.status, 'accepted');
	const [u] = (await uplinks(dev.b)).uplinks;
	assert.equal(u.source, 'tts');
	assert.equal(u.codec, 'cayennelpp');
	const m = Object.fromEntries(u.decoded.measurements.map((x) => [x.channel, x]));
	assert.equal(m[1].name, 'temperature'); assert.equal(m[1].value, 27.2);
	assert.equal(m[2].name, 'humidity'); assert.equal(m[2].value, 64.5);
	assert.deepEqual(m[3].value, { latitude: 42.3519, longitude: -87.9094, altitude: 10 });
	assert.equal(m[4].value, 1);
	assert.equal(m[5].value, 3.31);
	assert.deepEqual(m[6].value, { x: 1.234, y: -1.234, z: 0 });
	assert.equal(m[7].value, 0x65000000);
	assert.deepEqual(m[8].value, { r: 255, g: 128, b: 0 });
	assert.equal(m[9].value, 1);
	assert.equal(m[10].value, -12);

	// a payload the codec refuses is stored as rejected, with the reason, and not forwarded
	for (const [fcnt, bad, why] of [[8, Buffer.from([1, 103, 0x01]), /temperature/], [9, Buffer.from([1, 77, 0]), /unknown type 77/],
		[10, Buffer.from([2, 104, 250]), /out of range/], [11, Buffer.from([3, 102, 7]), /presence/]]) {
		const r = await ingest('tts', ttsUp(dev.b, fcnt, 2, bad));
		assert.equal(r.status, 200);
		assert.equal(r.body.status, 'rejected', `FCnt ${fcnt}`);
		assert.equal(r.body.forwarded, false, 'a rejected payload is not forwarded');
		assert.match(r.body.reason, why);
	}
	const all = (await uplinks(dev.b)).uplinks;
	assert.equal(all.filter((x) => x.status === 'rejected').length, 4);
	assert.ok(all.filter((x) => x.status === 'rejected').every((x) => x.decoded === null && x.reason));
	// TTS messages other than uplinks and join-accepts are accepted and ignored
	const ack = await ingest('tts', { end_device_ids: { dev_eui: hex(dev.b.devEui) }, downlink_ack: { f_port: 1 } });
	assert.equal(ack.status, 204);
});

test('replays and regressions are refused, recorded as security events, and not stored', async () => {
	const before = eventCount('fcnt_replayed');
	await refused('replay (ChirpStack, same FCnt)', 'chirpstack', chirpstackUp(dev.a, 5, 10, rand(8)), 409, 'replayed', { query: '?event=up' });
	await refused('regression (ChirpStack, lower FCnt)', 'chirpstack', chirpstackUp(dev.a, 3, 10, rand(8)), 409, 'replayed', { query: '?event=up' });
	await refused('replay (TTS)', 'tts', ttsUp(dev.b, 7, 2, Buffer.from([1, 103, 0, 1])), 409, 'replayed');
	assert.equal(eventCount('fcnt_replayed') - before, 3, 'one security event per refused frame');
	// the next counter is still accepted
	const ok = await ingest('chirpstack', chirpstackUp(dev.a, 6, 10, rand(4)), { query: '?event=up' });
	assert.equal(ok.status, 200);
});

test('malformed or misdirected events get 4xx and change nothing', async () => {
	const good = chirpstackUp(dev.a, 100, 10, rand(4));
	const q = { query: '?event=up' };
	await refused('not JSON', 'chirpstack', undefined, 400, null, { ...q, raw: '{"deviceInfo": ' });
	await refused('no event parameter', 'chirpstack', good, 400, 'invalid_argument');
	await refused('unknown event', 'chirpstack', good, 400, 'invalid_argument', { query: '?event=nonsense' });
	await refused('no deviceInfo', 'chirpstack', { ...good, deviceInfo: undefined }, 400, 'invalid_argument', q);
	await refused('DevEUI not hex', 'chirpstack', { ...good, deviceInfo: { devEui: 'zz' } }, 400, 'invalid_argument', q);
	await refused('data not base64', 'chirpstack', { ...good, data: '!!!' }, 400, 'invalid_argument', q);
	await refused('fCnt negative', 'chirpstack', { ...good, fCnt: -1 }, 400, 'invalid_argument', q);
	await refused('fCnt above 2^32', 'chirpstack', { ...good, fCnt: 2 ** 32 }, 400, 'invalid_argument', q);
	await refused('fCnt a string', 'chirpstack', { ...good, fCnt: '100' }, 400, 'invalid_argument', q);
	await refused('fPort 0 (MAC commands)', 'chirpstack', chirpstackUp(dev.a, 101, 0, rand(4)), 400, 'invalid_argument', q);
	await refused('payload too large', 'chirpstack', { ...good, data: b64(rand(300)) }, 400, 'invalid_argument', q);
	await refused('no joinServerContext (not end to end)', 'chirpstack', { ...good, joinServerContext: undefined }, 400, 'invalid_argument', q);
	await refused('DevAddr differs from the session', 'chirpstack', { ...good, devAddr: '01020304' }, 400, 'invalid_argument', q);
	await refused('unknown DevEUI', 'chirpstack', { ...good, deviceInfo: { devEui: hex(rand(8)) } }, 404, 'not_found', q);
	await refused('unknown SessionKeyID, no envelope', 'chirpstack',
		{ ...good, joinServerContext: { sessionKeyId: hex(rand(16)) } }, 404, 'not_found', q);
	await refused('SessionKeyID of another device', 'chirpstack',
		{ ...good, joinServerContext: { sessionKeyId: dev.b.session.skid } }, 409, 'refused', q);
	await refused('TTS: no known message', 'tts', { end_device_ids: { dev_eui: hex(dev.b.devEui) } }, 400, 'invalid_argument');
	await refused('TTS: device id not an identifier', 'tts',
		{ ...ttsUp(dev.b, 50, 2, rand(2)), end_device_ids: { dev_eui: hex(dev.b.devEui), device_id: '../../x' } }, 400, 'invalid_argument');
	await refused('native: unknown field', 'native', { event: 'up', dev_eui: hex(dev.c.devEui), session_key_id: 'AB', surprise: 1 }, 400, 'invalid_argument');
	await refused('a viewer API key', 'chirpstack', good, 403, 'forbidden', { ...q, bearer: viewerKey });
	await refused('no credentials', 'chirpstack', good, 401, 'unauthenticated', { ...q, bearer: null });
	srv.assertAlive();
});

test('a session from another join server is adopted from its envelope under the own AS KEK', async () => {
	const appSKey = rand(16), skid = hex(rand(16)), devAddr = rand(4);
	const s = { skid, appSKey, devAddr, envelope: wrap(asOwn.kek, appSKey) };
	// an envelope under a KEK that is not iotvault's is refused, as is one with a foreign label
	const wrongKek = { event: 'up', dev_eui: hex(dev.c.devEui), session_key_id: skid, dev_addr: hex(devAddr), f_cnt: 1, f_port: 5,
		frm_payload: b64(encryptUplink(s, 1, 5, Buffer.from('hi'))), app_s_key: { kek_label: asOwn.kekLabel, aes_key: hex(wrap(rand(16), appSKey)) } };
	const unwrapFailures = eventCount('app_s_key_unwrap_failed');
	await refused('envelope under another KEK', 'native', wrongKek, 409, 'refused');
	await refused('envelope with a foreign KEK label', 'native', { ...wrongKek, app_s_key: { kek_label: 'someone-else', aes_key: hex(s.envelope) } }, 409, 'refused');
	assert.equal(eventCount('app_s_key_unwrap_failed') - unwrapFailures, 2);

	const plain = Buffer.from('adopted session payload');
	const up = { ...wrongKek, frm_payload: b64(encryptUplink(s, 1, 5, plain)), app_s_key: { kek_label: asOwn.kekLabel, aes_key: hex(s.envelope) } };
	const res = await ingest('native', up);
	assert.equal(res.status, 200, `native adopt: ${res.text}`);
	assert.equal(res.body.adopted, true);
	assert.equal(res.body.status, 'accepted');
	let [u] = (await uplinks(dev.c)).uplinks;
	assert.equal(u.decoded.hex, hex(plain));
	// the next uplinks find the session by its SessionKeyID alone; a 16-bit
	// counter is reconstructed to 32 bits across the 65536 boundary
	const r2 = await ingest('native', { event: 'up', dev_eui: hex(dev.c.devEui), session_key_id: skid, f_cnt: 65530, f_port: 5,
		frm_payload: b64(encryptUplink(s, 65530, 5, Buffer.from('a'))) });
	assert.equal(r2.status, 200, r2.text);
	assert.equal(r2.body.adopted, false);
	const wire16 = (65540) & 0xffff;
	const r3 = await ingest('native', { event: 'up', dev_eui: hex(dev.c.devEui), session_key_id: skid, f_cnt: wire16, f_cnt_bits: '16',
		f_port: 5, frm_payload: b64(encryptUplink(s, 65540, 5, Buffer.from('across'))) });
	assert.equal(r3.status, 200, r3.text);
	assert.equal(r3.body.f_cnt, 65540);
	[u] = (await uplinks(dev.c)).uplinks;
	assert.equal(u.decoded.hex, hex(Buffer.from('across')), 'decrypted with the reconstructed 32-bit counter');
	await refused('16-bit replay of the previous frame', 'native', { event: 'up', dev_eui: hex(dev.c.devEui), session_key_id: skid,
		f_cnt: wire16, f_cnt_bits: '16', f_port: 5, frm_payload: b64(Buffer.from('xx')) }, 409, 'replayed');
});

test('uplinks are listed newest first with cursor pagination', async () => {
	const all = (await uplinks(dev.b, '?limit=1000')).uplinks;
	const seen = [];
	let cursor = null;
	do {
		const page = await uplinks(dev.b, `?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
		assert.ok(page.uplinks.length <= 2);
		seen.push(...page.uplinks.map((x) => x.id));
		cursor = page.next_cursor;
	} while (cursor);
	assert.deepEqual(seen, all.map((x) => x.id));
	assert.deepEqual([...seen].sort((x, y) => y - x), seen, 'newest first');
	const bad = await api('GET', `/api/v1/devices/${dev.b.id}/uplinks?cursor=abc`, { bearer: apiKey });
	assert.equal(bad.status, 400);
});

test('downlinks: encrypted with the next AFCntDown, pushed, and the oracle finds the plaintext', async () => {
	nsFake.requests.length = 0;
	const cases = [[dev.a, 'chirpstack'], [dev.a, 'chirpstack'], [dev.b, 'tts']];
	for (const [i, [d, target]] of cases.entries()) {
		const plain = rand(1 + crypto.randomInt(50));
		const data = i % 2 ? b64(plain) : hex(plain);
		const res = await api('POST', `/api/v1/devices/${d.id}/downlinks`, { json: { f_port: 15, data, confirmed: i === 0 }, bearer: apiKey });
		assert.equal(res.status, 201, `downlink: ${res.text}`);
		assert.equal(res.body.target, target);
		assert.equal(res.body.outcome, 'pushed', `outcome ${res.body.detail}`);
		const got = nsFake.requests.at(-1);
		const body = JSON.parse(got.body);
		let enc, fcnt, fport;
		if (target === 'chirpstack') {
			assert.equal(got.path, `/cs/api/devices/${hex(d.devEui)}/queue`);
			assert.equal(got.auth, `Bearer ${CS_TOKEN}`, 'the ChirpStack API token from the environment');
			const qi = body.queueItem;
			assert.equal(qi.isEncrypted, true);
			assert.equal(qi.confirmed, i === 0);
			enc = Buffer.from(qi.data, 'base64'); fcnt = qi.fCntDown; fport = qi.fPort;
		} else {
			assert.equal(got.path, '/tts/api/v3/as/applications/meters-app/devices/sensor-b/down/push');
			assert.equal(got.auth, `Bearer ${TTS_KEY}`, 'the TTS API key from the environment');
			const dl = body.downlinks[0];
			assert.equal(Buffer.from(dl.session_key_id, 'base64').toString('hex').toUpperCase(), d.session.skid);
			enc = Buffer.from(dl.frm_payload, 'base64'); fcnt = dl.f_cnt; fport = dl.f_port;
		}
		assert.equal(fcnt, res.body.f_cnt);
		assert.equal(fport, 15);
		assert.ok(!enc.equals(plain), 'the pushed payload is encrypted');
		assert.ok(decryptDownlink(d.session, fcnt, fport, enc).equals(plain), 'lora-packet decrypts the pushed payload to the plaintext');
	}
	const fcnts = fx.sql(`select group_concat(a_fcnt_down) from downlinks where device_id = ${dev.a.id} order by id`);
	assert.equal(fcnts, '0,1', 'each AFCntDown used once, in order');
	const bad = await api('POST', `/api/v1/devices/${dev.a.id}/downlinks`, { json: { f_port: 0, data: '00' }, bearer: apiKey });
	assert.equal(bad.status, 400);
	const noSession = await api('POST', `/api/v1/devices/999999/downlinks`, { json: { f_port: 1, data: '00' }, bearer: apiKey });
	assert.equal(noSession.status, 404);
	srv.assertAlive();
});
