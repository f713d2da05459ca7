// The Application Server's outputs end to end (issue 6), run by
// tests/integration/test_appserver_outputs.sh, which provides the PKI, the
// mosquitto configuration (TLS listener, user names and passwords) and a
// python3 HTTPS webhook receiver that verifies X-Iotvault-Signature.
//
// Devices join through iotvault's join server; lora-packet derives the
// session keys from the JoinAccept and encrypts CayenneLPP uplinks with the
// AppSKey, which are posted in ChirpStack v4 and The Things Stack shapes.
// What mosquitto_sub (over TLS) and the webhook receiver get is compared with
// values computed here, independently of iotvault. Then: a replay, a
// regression and a malformed event produce no message; and a broker outage
// (mosquitto stopped, 30 uplinks, mosquitto started on the same port) loses,
// duplicates, alters and reorders nothing.
//
// Keys, passwords and the webhook secret stay in variables and files of the
// test's private directory; assertion messages carry statuses, counts and
// identifiers only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { Fixture, hex } from '../joinserver/harness.mjs';
import * as lib from './lib.mjs';

const env = (name) => {
	const v = process.env[name];
	assert.ok(v, `${name} is not set: run tests/integration/test_appserver_outputs.sh`);
	return v;
};
const CFG = {
	childPids: env('OUT_CHILD_PIDS'), ca: env('OUT_CA'),
	brokerConf: env('OUT_BROKER_CONF'), brokerLog: env('OUT_BROKER_LOG'), mqttPort: Number(env('OUT_MQTT_PORT')),
	mqttPassword: env('OUT_MQTT_PASSWORD'), readerPassword: env('OUT_READER_PASSWORD'),
	rxPort: Number(env('OUT_RX_PORT')), rxDir: env('OUT_RX_DIR'),
};
fs.appendFileSync(CFG.childPids, `${process.pid}\n`);
const PREFIX = 'ivtest';
const OUTAGE_UPLINKS = 30;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, seconds, cond) {
	const end = Date.now() + seconds * 1000;
	for (;;) {
		if (await cond()) return;
		if (Date.now() > end) assert.fail(`${what}: not within ${seconds} s`);
		await sleep(100);
	}
}

// Every process started here is listed for the shell's clean-up.
function track(proc) {
	fs.appendFileSync(CFG.childPids, `${proc.pid}\n`);
	return proc;
}

async function stopProc(proc) {
	if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
	const exited = new Promise((r) => proc.once('exit', r));
	proc.kill('SIGTERM');
	const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
	await exited;
	clearTimeout(t);
}

function portOpen(port) {
	return new Promise((resolve) => {
		const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
		s.on('error', () => resolve(false));
	});
}

const brokerLog = () => { try { return fs.readFileSync(CFG.brokerLog, 'utf8'); } catch { return ''; } };
const occurrences = (text, needle) => text.split(needle).length - 1;

// ---- mosquitto, started and stopped on the same port ----
class Broker {
	async start() {
		assert.equal(await portOpen(CFG.mqttPort), false, 'the broker port is taken');
		this.proc = track(spawn('mosquitto', ['-c', CFG.brokerConf], { stdio: 'ignore' }));
		await waitFor('mosquitto listening', 15, () => portOpen(CFG.mqttPort));
	}
	async stop() {
		await stopProc(this.proc);
		this.proc = null;
		await waitFor('mosquitto port closed', 10, async () => !(await portOpen(CFG.mqttPort)));
	}
}

// ---- mosquitto_sub over TLS: a persistent session (fixed id, -c, QoS 1),
// so that the broker keeps what arrives while the subscriber is away ----
const SUB_ID = 'iv-outputs-reader';
class Subscriber {
	constructor() { this.lines = []; }
	async start() {
		const acks = occurrences(brokerLog(), `Sending SUBACK to ${SUB_ID}`);
		this.lines = [];
		this.err = '';
		this.proc = track(spawn('mosquitto_sub', ['-h', 'localhost', '-p', String(CFG.mqttPort), '--cafile', CFG.ca,
			'-u', 'reader', '-P', CFG.readerPassword, '-i', SUB_ID, '-c', '-q', '1', '-t', `${PREFIX}/#`, '-F', '%t|%p'],
		{ stdio: ['ignore', 'pipe', 'pipe'] }));
		let buf = '';
		this.proc.stdout.on('data', (d) => {
			buf += d;
			let i;
			while ((i = buf.indexOf('\n')) >= 0) { this.lines.push(buf.slice(0, i)); buf = buf.slice(i + 1); }
		});
		this.proc.stderr.on('data', (d) => { this.err += d; });
		await waitFor('mosquitto_sub subscribed', 10, () => {
			assert.equal(this.proc.exitCode, null, `mosquitto_sub exited: ${this.err.trim()}`);
			return occurrences(brokerLog(), `Sending SUBACK to ${SUB_ID}`) > acks;
		});
	}
	// Received messages as {topic, body, msg}.
	messages() {
		return this.lines.map((l) => {
			const i = l.indexOf('|');
			const body = l.slice(i + 1);
			return { topic: l.slice(0, i), body, msg: JSON.parse(body) };
		});
	}
	async stop() { await stopProc(this.proc); this.proc = null; }
}

// ---- the webhook receiver's records ----
function webhookRecords() {
	let text = '';
	try { text = fs.readFileSync(path.join(CFG.rxDir, 'log.jsonl'), 'utf8'); } catch { return []; }
	return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

let fx, srv, ns, asOwn, apiKey, adminCookie, webhookSecret, broker, sub;
const dev = {};

// ---- the REST API of the running server; the oracle's frames and events ----
const api = lib.apiClient(() => ({ srv, fx }));
const chirpstackUp = (d, fcnt32, fport, plain) => lib.chirpstackUp(d, asOwn.kekLabel, fcnt32, fport, plain);
const ttsUp = (d, fcnt32, fport, plain) => lib.ttsUp(d, asOwn.kekLabel, fcnt32, fport, plain);
const joinDevice = (d) => lib.joinDevice(fx, srv, ns, d);

// A CayenneLPP payload whose values follow from SEED, and the measurements
// the codec must report for it (computed here from the wire values).
function lppFor(seed, { gps = false } = {}) {
	const t = ((seed * 37) % 900) - 300;          // temperature, 0.1 degC, signed
	const h = (seed * 13) % 201;                    // humidity, 0.5 %
	const a = ((seed * 211) % 20000) - 10000;       // analog input, 0.01, signed
	const di = seed % 2;                            // digital input
	const be16 = (v) => { const b = Buffer.alloc(2); b.writeInt16BE(v); return b; };
	const parts = [Buffer.from([1, 103]), be16(t), Buffer.from([2, 104, h]), Buffer.from([3, 2]), be16(a), Buffer.from([4, 0, di])];
	const want = [
		{ channel: 1, type: 103, name: 'temperature', value: t / 10, unit: 'Cel' },
		{ channel: 2, type: 104, name: 'humidity', value: h / 2, unit: '%RH' },
		{ channel: 3, type: 2, name: 'analog_input', value: a / 100 },
		{ channel: 4, type: 0, name: 'digital_input', value: di },
	];
	if (gps) {
		// latitude and longitude in 0.0001 deg, altitude in 0.01 m, each signed 24-bit
		const lat = 523676 - seed, lon = -49041 - seed, alt = 1234 + seed;
		const gpsBytes = Buffer.alloc(9);
		gpsBytes.writeIntBE(lat, 0, 3); gpsBytes.writeIntBE(lon, 3, 3); gpsBytes.writeIntBE(alt, 6, 3);
		parts.push(Buffer.from([5, 136]), gpsBytes);
		want.push({ channel: 5, type: 136, name: 'gps', value: { latitude: lat / 10000, longitude: lon / 10000, altitude: alt / 100 } });
	}
	return { plain: Buffer.concat(parts), want };
}

// The measurements of a decoded uplink against the oracle's; names are
// compared loosely (the codec's naming), types, channels and values exactly.
function checkMeasurements(got, want, what) {
	assert.ok(Array.isArray(got?.measurements), `${what}: decoded.measurements`);
	assert.equal(got.measurements.length, want.length, `${what}: number of measurements`);
	for (const [i, w] of want.entries()) {
		const g = got.measurements[i];
		assert.equal(g.channel, w.channel, `${what}: channel of item ${i}`);
		assert.equal(g.type, w.type, `${what}: type of channel ${w.channel}`);
		assert.equal(g.name.replace(/[^a-z]/gi, '').toLowerCase(), w.name.replace(/[^a-z]/gi, '').toLowerCase(),
			`${what}: name of channel ${w.channel}`);
		assert.deepEqual(g.value, w.value, `${what}: value of channel ${w.channel}`);
		if (w.unit) assert.equal(g.unit, w.unit, `${what}: unit of channel ${w.channel}`);
	}
}

// ---- sending ----
async function sendUplink(d, fcnt, seed, opts = {}) {
	const { plain, want } = lppFor(seed, opts);
	const fport = 10;
	const res = d.via === 'chirpstack'
		? await api('POST', '/api/v1/ingest/chirpstack?event=up', { json: chirpstackUp(d, fcnt, fport, plain), bearer: apiKey })
		: await api('POST', '/api/v1/ingest/tts', { json: ttsUp(d, fcnt, fport, plain), bearer: apiKey });
	assert.equal(res.status, 200, `${d.via} uplink FCnt ${fcnt}: HTTP ${res.status} ${res.body?.error?.code ?? ''}`);
	assert.equal(res.body.status, 'accepted', `${d.via} uplink FCnt ${fcnt}: ${res.body.reason ?? ''}`);
	assert.equal(res.body.forwarded, true, `${d.via} uplink FCnt ${fcnt} queued for the integrations`);
	assert.equal(res.body.f_cnt, fcnt);
	return { dev: d, fcnt, fport, want, uplinkId: res.body.uplink_id };
}

// Checks one delivered document against what was sent.
function checkDocument(msg, sent, what) {
	const d = sent.dev;
	assert.equal(msg.dev_eui, hex(d.devEui), `${what}: dev_eui`);
	assert.equal(msg.device_id, d.id, `${what}: device_id`);
	assert.equal(msg.session_key_id, d.session.skid, `${what}: session_key_id`);
	assert.equal(msg.f_cnt, sent.fcnt, `${what}: f_cnt`);
	assert.equal(msg.f_port, sent.fport, `${what}: f_port`);
	assert.equal(msg.source, d.via, `${what}: source`);
	assert.equal(msg.codec, 'cayennelpp', `${what}: codec`);
	assert.equal(msg.uplink_id, sent.uplinkId, `${what}: uplink_id`);
	checkMeasurements(msg.decoded, sent.want, what);
}

const topicOf = (d) => `${PREFIX}/default/${d.app}/${hex(d.devEui)}/up`;
const outboxCount = (where = '') => Number(fx.sql(`select count(*) from outbox ${where}`));

// The webhook records of delivered uplinks; each must verify and be fresh.
function verifiedHooks() {
	const recs = webhookRecords();
	for (const r of recs) {
		assert.equal(r.valid, true, `webhook delivery ${r.delivery}: signature does not verify`);
		assert.equal(r.fresh, true, `webhook delivery ${r.delivery}: timestamp outside the 5-minute window`);
		// the same check again here, independently of the receiver's code
		const mac = crypto.createHmac('sha256', webhookSecret).update(`${r.ts}.`).update(Buffer.from(r.body, 'utf8')).digest('hex');
		assert.equal(r.sig, `v1=${mac}`, `webhook delivery ${r.delivery}: signature recomputed here`);
		assert.equal(r.event, 'up', `webhook delivery ${r.delivery}: X-Iotvault-Event`);
		assert.equal(r.ctype, 'application/json');
		assert.equal(r.path, '/iotvault/hook');
	}
	return recs;
}

before(async () => {
	broker = new Broker();
	sub = new Subscriber();
	await broker.start();

	fx = new Fixture();
	fx.init();
	const netId = () => { const b = crypto.randomBytes(3); b[0] &= 0x7f; return hex(b); };
	ns = fx.addPeer('ns1', 'ns', netId(), 'token');
	asOwn = fx.addPeer('iv-as', 'as', 'AS-IV.IOT', 'token');
	fs.appendFileSync(path.join(fx.dir, 'iotvault.conf'), `
[appserver]
own_as_peer = iv-as

[mqtt]
url = mqtts://localhost:${CFG.mqttPort}
ca_file = ${CFG.ca}
username = iotvault
password_env = IV_OUTPUTS_MQTT_PASSWORD
topic_prefix = ${PREFIX}
qos = 1
retry_max_s = 2

[webhooks]
ca_file = ${CFG.ca}
retry_max_s = 2
`);
	process.env.IV_OUTPUTS_MQTT_PASSWORD = CFG.mqttPassword;
	dev.a = fx.addDevice('1.0.3', { as: 'iv-as' });
	dev.b = fx.addDevice('1.1', { as: 'iv-as' });
	dev.a.name = 'meter-a';
	dev.b.ttsId = 'sensor-b';
	dev.a.via = 'chirpstack';
	dev.b.via = 'tts';
	srv = await fx.serve();
	track(srv.proc);

	const pw = fs.readFileSync(path.join(fx.dir, 'initial-admin-password'), 'utf8').trim();
	const login = await api('POST', '/api/v1/session', { json: { tenant: 'default', username: 'admin', password: pw } });
	assert.equal(login.status, 200, `admin login: ${login.status}`);
	adminCookie = String(login.headers['set-cookie']).match(/__Host-iotvault_session=([^;]+)/)[1];
	const k = await api('POST', '/api/v1/apikeys', { json: { name: 'network-server', role: 'operator' }, cookie: adminCookie });
	assert.equal(k.status, 201, `API key: ${k.status}`);
	apiKey = k.body.key;

	// the webhook; its secret goes straight into the receiver's file
	const h = await api('POST', '/api/v1/webhooks', { json: { url: `https://127.0.0.1:${CFG.rxPort}/iotvault/hook`, events: ['up'] },
		cookie: adminCookie });
	assert.equal(h.status, 201, `webhook: ${h.status} ${h.body?.error?.code ?? ''}`);
	assert.match(h.body.secret ?? '', /^[0-9A-Fa-f]{64}$/, 'the webhook secret is shown once');
	webhookSecret = h.body.secret;
	fs.writeFileSync(path.join(CFG.rxDir, 'hook.secret'), webhookSecret, { mode: 0o600 });

	const list = await api('GET', '/api/v1/devices?limit=100', { bearer: apiKey });
	assert.equal(list.status, 200);
	for (const d of Object.values(dev)) {
		d.id = list.body.devices.find((x) => x.dev_eui === hex(d.devEui)).id;
		const c = await api('PUT', `/api/v1/devices/${d.id}/codec`, { json: { codec: 'cayennelpp' }, bearer: apiKey });
		assert.equal(c.status, 200, `PUT codec: ${c.status}`);
	}
	// device a belongs to the application "meters" (its app: tag), b to "default"
	const t = await api('PATCH', `/api/v1/devices/${dev.a.id}`, { json: { tags: ['app:meters'] }, bearer: apiKey });
	assert.equal(t.status, 200, `PATCH tags: ${t.status}`);
	dev.a.app = 'meters';
	dev.b.app = 'default';

	await joinDevice(dev.a);
	await joinDevice(dev.b);
	await sub.start();
});

after(async () => {
	if (sub) await sub.stop();
	if (fx) await fx.stop();
	if (broker) await stopProc(broker.proc);
});

const sentAll = [];

test('uplinks in ChirpStack and TTS shapes reach mosquitto (TLS) and the signed webhook with the oracle\'s values', async () => {
	const sent = [];
	sent.push(await sendUplink(dev.a, 1, 101, { gps: true }));
	sent.push(await sendUplink(dev.b, 1, 202, { gps: true }));
	sent.push(await sendUplink(dev.a, 2, 103));
	sent.push(await sendUplink(dev.b, 9, 204));
	sentAll.push(...sent);

	await waitFor('MQTT and webhook deliveries', 20, () => sub.lines.length >= sent.length && webhookRecords().length >= sent.length);
	await waitFor('the outbox drained', 10, () => outboxCount() === 0);
	await sleep(500);
	const mq = sub.messages();
	assert.equal(mq.length, sent.length, 'MQTT messages received');
	const hooks = verifiedHooks();
	assert.equal(hooks.length, sent.length, 'webhook requests received');
	for (const [i, s] of sent.entries()) {
		const what = `${s.dev.via} FCnt ${s.fcnt}`;
		assert.equal(mq[i].topic, topicOf(s.dev), `${what}: MQTT topic`);
		checkDocument(mq[i].msg, s, `${what} (MQTT)`);
		checkDocument(JSON.parse(hooks[i].body), s, `${what} (webhook)`);
		assert.equal(hooks[i].body, mq[i].body, `${what}: webhook body and MQTT payload are the same bytes`);
	}
	// the stored uplink says the same as the messages
	const st = await api('GET', `/api/v1/devices/${dev.b.id}/uplinks?limit=10`, { bearer: apiKey });
	assert.equal(st.status, 200);
	checkMeasurements(st.body.uplinks.find((u) => u.f_cnt === 9).decoded, sent[3].want, 'stored uplink');
	const ids = hooks.map((r) => Number(r.delivery));
	assert.equal(new Set(ids).size, ids.length, 'X-Iotvault-Delivery unique');
});

test('a replay, a regression and a malformed event are refused and produce no message', async () => {
	const mqBefore = sub.lines.length, hooksBefore = webhookRecords().length;
	const uplinksBefore = fx.sql('select count(*) from uplinks');
	const { plain } = lppFor(7);
	const replays = [
		['ChirpStack replay', () => api('POST', '/api/v1/ingest/chirpstack?event=up', { json: chirpstackUp(dev.a, 2, 10, plain), bearer: apiKey })],
		['ChirpStack regression', () => api('POST', '/api/v1/ingest/chirpstack?event=up', { json: chirpstackUp(dev.a, 1, 10, plain), bearer: apiKey })],
		['TTS replay', () => api('POST', '/api/v1/ingest/tts', { json: ttsUp(dev.b, 9, 10, plain), bearer: apiKey })],
		['TTS regression', () => api('POST', '/api/v1/ingest/tts', { json: ttsUp(dev.b, 8, 10, plain), bearer: apiKey })],
	];
	for (const [what, send] of replays) {
		const r = await send();
		assert.equal(r.status, 409, `${what}: HTTP ${r.status}`);
		assert.equal(r.body?.error?.code, 'replayed', `${what}: error code`);
		assert.equal(outboxCount(), 0, `${what}: nothing queued`);
	}
	const bad = await api('POST', '/api/v1/ingest/chirpstack?event=up', { json: { ...chirpstackUp(dev.a, 50, 10, plain), data: '!!!' }, bearer: apiKey });
	assert.equal(bad.status, 400, `malformed event: HTTP ${bad.status}`);
	const notJson = await api('POST', '/api/v1/ingest/tts', { raw: '{"end_device_ids": ', bearer: apiKey });
	assert.equal(notJson.status, 400, `truncated JSON: HTTP ${notJson.status}`);
	assert.equal(outboxCount(), 0, 'nothing queued by the refused events');
	assert.equal(fx.sql('select count(*) from uplinks'), uplinksBefore, 'nothing stored by the refused events');

	// a genuine uplink after them: when it has arrived, anything queued
	// before it has too (enqueue order over one connection, per endpoint)
	const s = await sendUplink(dev.a, 3, 105);
	sentAll.push(s);
	await waitFor('the next genuine uplink delivered', 20, () => sub.lines.length > mqBefore && webhookRecords().length > hooksBefore);
	await sleep(500);
	const mq = sub.messages().slice(mqBefore);
	const hooks = verifiedHooks().slice(hooksBefore);
	assert.equal(mq.length, 1, 'MQTT messages after the refused events (only the genuine one)');
	assert.equal(hooks.length, 1, 'webhook requests after the refused events (only the genuine one)');
	checkDocument(mq[0].msg, s, 'genuine uplink (MQTT)');
	assert.equal(hooks[0].body, mq[0].body);
	srv.assertAlive();
});

test(`broker outage: ${OUTAGE_UPLINKS} uplinks while mosquitto is down all arrive once, as queued, in FCnt order per device`, async () => {
	const hooksBefore = webhookRecords().length;
	await sub.stop();
	await broker.stop();

	// FCnt increases per device, with gaps; ChirpStack and TTS interleaved
	const next = { a: 10, b: 20 };
	const sent = [];
	for (let i = 0; i < OUTAGE_UPLINKS; i++) {
		const key = i % 2 ? 'b' : 'a';
		next[key] += 1 + (i % 3);
		sent.push(await sendUplink(dev[key], next[key], 1000 + i));
	}
	sentAll.push(...sent);

	// what iotvault queued for MQTT: nothing can have left while the broker is down
	await sleep(1500);
	const queued = JSON.parse(fx.sql("select coalesce(json_group_array(json_object('topic', topic, 'body', body)), '[]') " +
		'from (select topic, body from outbox where webhook_id is null order by id)'));
	assert.equal(queued.length, OUTAGE_UPLINKS, 'MQTT messages queued during the outage');
	for (const [i, q] of queued.entries()) {
		assert.equal(q.topic, topicOf(sent[i].dev), `queued message ${i}: topic`);
		checkDocument(JSON.parse(q.body), sent[i], `queued message ${i}`);
	}
	// the webhook is not held up by the broker
	await waitFor('webhook deliveries during the outage', 20, () => webhookRecords().length >= hooksBefore + OUTAGE_UPLINKS);

	await broker.start();
	await waitFor('the MQTT outbox drained after the broker returned', 30, () => outboxCount('where webhook_id is null') === 0);
	await sub.start();
	await waitFor('the subscriber got the queued messages', 20, () => sub.lines.length >= OUTAGE_UPLINKS);
	await sleep(1000);
	await sub.stop();

	const got = sub.messages();
	assert.equal(got.length, OUTAGE_UPLINKS, 'MQTT messages after the outage (loss or duplicates)');
	// exactly as queued: the same multiset of topic|body lines
	const key = (m) => `${m.topic}|${m.body}`;
	assert.deepEqual(got.map(key).sort(), queued.map(key).sort(), 'messages differ from those queued (altered, lost or duplicated)');
	for (const d of [dev.a, dev.b]) {
		const want = sent.filter((s) => s.dev === d);
		const mine = got.filter((m) => m.topic === topicOf(d));
		assert.deepEqual(mine.map((m) => m.msg.f_cnt), want.map((s) => s.fcnt), `${d.via} device: FCnt order`);
		for (const [i, m] of mine.entries()) checkDocument(m.msg, want[i], `${d.via} FCnt ${want[i].fcnt} after the outage`);
	}
	const hooks = verifiedHooks().slice(hooksBefore);
	assert.equal(hooks.length, OUTAGE_UPLINKS, 'webhook requests during the outage');
	assert.deepEqual(hooks.map((h) => h.body), queued.map((q) => q.body), 'webhook bodies: the same documents, in order');
	assert.ok(occurrences(fs.readFileSync(path.join(fx.dir, 'iotvault.log'), 'utf8') + srv.stderr, 'mqtt: reconnecting') > 0,
		'the server logged its reconnection attempts');
	srv.assertAlive();
});

test('no session key, password or webhook secret in the server log or the messages', async () => {
	await fx.servers[0].stop();
	const log = fs.readFileSync(path.join(fx.dir, 'iotvault.log'), 'utf8') + srv.stderr;
	const delivered = webhookRecords().map((r) => r.body).join('\n') + sub.lines.join('\n');
	const secrets = [CFG.mqttPassword, CFG.readerPassword, webhookSecret];
	for (const d of [dev.a, dev.b]) secrets.push(d.session.appSKey.toString('hex'), d.appKey.toString('hex'));
	for (const [i, s] of secrets.entries()) {
		for (const form of [s.toLowerCase(), s.toUpperCase()]) {
			assert.ok(!log.includes(form), `secret ${i} appears in the server log`);
			assert.ok(!delivered.includes(form), `secret ${i} appears in a delivered message`);
		}
	}
	assert.ok(!log.includes('"measurements"'), 'message bodies appear in the server log');
	assert.equal(sentAll.length, 5 + OUTAGE_UPLINKS);
});
