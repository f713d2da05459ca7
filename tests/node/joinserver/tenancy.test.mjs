// Join-server gaps of issue 5, end to end against the real `iotvault serve`:
// tenancy of peers (a tenant's own peer is answered only for that tenant's
// devices: UnknownDevEUI, nothing stored, a security event), client
// certificates authenticated by the peer's CA (right CA and CN accepted;
// wrong CA, wrong CN, expired refused), the ReceiverID check with the
// per-peer receiver-unknown code, and the peers API (create returns the KEK
// and token once and audits it, GET without secrets, another tenant's peer
// 404, delete), device join settings and reset-nonces through the API. Every
// JoinAns is checked with lora-packet and the KEKs, as in joinserver.test.mjs.
//
// Environment: IOTVAULT_BIN, IOTVAULT_SRC; JS_KEEP_DATA=1 keeps the data.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';

import {
	Fixture, cli, hex, rand, nextDevNonce, joinRequest, joinReq, verifyJoinAns, makeClientCert,
} from './harness.mjs';

let fx, srv, nsAll, nsCa, nsT2, asT2, caIds;
let defaultAdmin, t2Admin;
const devs = {};
const netId = () => { const b = rand(3); b[0] &= 0x7f; return hex(b); };

function openssl(args) {
	const r = spawnSync('openssl', args, { encoding: 'utf8' });
	assert.equal(r.status, 0, `openssl ${args[0]}: ${r.stderr}`);
}

// A CA (basicConstraints CA) and client certificates it issues.
function makeCa(dir, name) {
	const crt = path.join(dir, `${name}.crt.pem`), key = path.join(dir, `${name}.key.pem`);
	openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
		'-subj', `/CN=${name}`, '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE',
		'-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', key, '-out', crt]);
	return { crt, key, pem: fs.readFileSync(crt, 'utf8') };
}

function issue(dir, ca, name, cn, days = '1') {
	const key = path.join(dir, `${name}.key.pem`), csr = path.join(dir, `${name}.csr`);
	const crt = path.join(dir, `${name}.crt.pem`), ext = path.join(dir, `${name}.ext`);
	fs.writeFileSync(ext, 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
	openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
		'-subj', `/CN=${cn}`, '-keyout', key, '-out', csr]);
	openssl(['x509', '-req', '-in', csr, '-CA', ca.crt, '-CAkey', ca.key, '-CAcreateserial',
		'-days', days, '-extfile', ext, '-out', crt]);
	return { name, cert: fs.readFileSync(crt), key: fs.readFileSync(key) };
}

function peerAdd(name, type, senderId, extraArgs) {
	const r = cli(['peer', 'add', '--data', fx.dir, '--name', name, '--type', type, '--sender-id', senderId,
		'--kek-label', `${name}-kek`, ...extraArgs]);
	assert.equal(r.status, 0, `peer add ${name}: ${r.stderr.trim()}`);
	const p = { name, type, senderId, kekLabel: `${name}-kek` };
	p.kek = Buffer.from(r.stdout.match(/^kek: ([0-9A-F]{32})$/m)[1], 'hex');
	const t = r.stdout.match(/^bearer token: (\S+)/m);
	if (t) p.token = t[1];
	p.id = Number(r.stdout.match(/^id: (\d+)$/m)[1]);
	fx.peers[name] = p;
	return p;
}

// A LoRaWAN device of TENANT with random keys (the fixture's own helper
// knows the default tenant only).
function addDevice(tenant, mac, { as = null, home = null } = {}) {
	const d = { devEui: rand(8), joinEui: rand(8), mac, appKey: rand(16), nwkKey: mac === '1.1' ? rand(16) : null,
		as, home, nextNonce: 1 + crypto.randomInt(1000), used: [], tenant };
	d.devEui[0] = 0x71;
	const args = ['device', 'add', '--data', fx.dir, '--tenant', tenant, '--type', 'lorawan',
		'--dev-eui', hex(d.devEui), '--join-eui', hex(d.joinEui), '--mac-version', mac, '--app-key', 'env:T_APP_KEY'];
	const env = { T_APP_KEY: d.appKey.toString('hex') };
	if (d.nwkKey) { args.push('--nwk-key', 'env:T_NWK_KEY'); env.T_NWK_KEY = d.nwkKey.toString('hex'); }
	const r = cli(args, env);
	assert.equal(r.status, 0, `device add: ${r.stderr.trim()}`);
	if (as || home) {
		const js = ['device', 'join-settings', '--data', fx.dir, '--tenant', tenant, '--dev-eui', hex(d.devEui)];
		if (as) js.push('--as-peer', as);
		if (home) js.push('--home-net-id', home);
		const j = cli(js);
		assert.equal(j.status, 0, `join-settings: ${j.stderr.trim()}`);
	}
	d.id = Number(fx.sql(`select id from devices where dev_eui = '${hex(d.devEui)}'`));
	fx.devices.push(d);
	return d;
}

// A small HTTPS client of the REST API (cookie session with Origin).
class Api {
	constructor(port, cookie) { this.port = port; this.cookie = cookie; this.agent = new https.Agent({ keepAlive: true, ca: fx.ca, servername: 'localhost' }); }
	static async login(port, tenant, username, password) {
		const a = new Api(port, null);
		const res = await a.request('POST', '/api/v1/session', { tenant, username, password });
		assert.ok(res.status === 200 || res.status === 201, `login ${tenant}: ${res.status} ${res.text}`);
		const c = (res.headers['set-cookie'] || []).map((l) => l.split(';')[0]).find((l) => l.startsWith('__Host-iotvault_session='));
		assert.ok(c, 'session cookie');
		a.cookie = c;
		return a;
	}
	request(method, urlPath, json) {
		const payload = json === undefined ? null : Buffer.from(JSON.stringify(json));
		const headers = { Accept: 'application/json', Origin: `https://127.0.0.1:${this.port}` };
		if (this.cookie) headers.Cookie = this.cookie;
		if (payload) { headers['Content-Type'] = 'application/json'; headers['Content-Length'] = String(payload.length); }
		return new Promise((resolve, reject) => {
			const req = https.request({ host: '127.0.0.1', port: this.port, method, path: urlPath, headers, agent: this.agent,
				servername: 'localhost' }, (res) => {
				const chunks = [];
				res.on('data', (c) => chunks.push(c));
				res.on('end', () => {
					const text = Buffer.concat(chunks).toString('utf8');
					let body = null;
					try { body = text ? JSON.parse(text) : null; } catch { body = undefined; }
					resolve({ status: res.statusCode, headers: res.headers, body, text });
				});
			});
			req.on('error', reject);
			req.end(payload || undefined);
		});
	}
}

before(async () => {
	fx = new Fixture();
	fx.init();
	const t = cli(['tenant', 'add', '--data', fx.dir, '--name', 't2']);
	assert.equal(t.status, 0, `tenant add: ${t.stderr}`);
	const t2Password = t.stdout.match(/^admin password:\s+(\S+)/m)[1];

	const ca = makeCa(fx.tmp, 'ns-ca');
	const otherCa = makeCa(fx.tmp, 'other-ca');
	caIds = {
		good: issue(fx.tmp, ca, 'ca-good', 'ns-ca-client'),
		wrongCa: issue(fx.tmp, otherCa, 'ca-wrong-ca', 'ns-ca-client'),
		wrongCn: issue(fx.tmp, ca, 'ca-wrong-cn', 'someone-else'),
		expired: issue(fx.tmp, ca, 'ca-expired', 'ns-ca-client', '0'),
	};
	nsAll = peerAdd('ns-all', 'ns', netId(), ['--token', 'generate']);
	nsCa = peerAdd('ns-ca', 'ns', netId(), ['--client-ca', ca.crt, '--client-cert-cn', 'ns-ca-client']);
	const t2cert = makeClientCert(fx.tmp, 'ns-t2');
	nsT2 = peerAdd('ns-t2', 'ns', netId(), ['--tenant', 't2', '--client-cert', t2cert.certPath,
		'--receiver-unknown-code', 'UnknownReceiverID']);
	Object.assign(nsT2, { cert: t2cert.cert, key: t2cert.key });
	asT2 = peerAdd('as-t2', 'as', 'AS-T2.IOT', ['--tenant', 't2', '--token', 'generate']);

	devs.d1 = addDevice('default', '1.0.3');
	devs.d2 = addDevice('default', '1.1');
	devs.t2a = addDevice('t2', '1.0.3', { as: 'as-t2', home: '00AA01' });
	devs.t2b = addDevice('t2', '1.0.4');
	devs.t2c = addDevice('t2', '1.0.3');
	srv = await fx.serve();
	defaultAdmin = await Api.login(srv.apiPort, 'default', 'admin',
		fs.readFileSync(path.join(fx.dir, 'initial-admin-password'), 'utf8').trim());
	t2Admin = await Api.login(srv.apiPort, 't2', 'admin', t2Password);
});

after(async () => {
	if (fx) await fx.stop();
});

async function post(body, opts) {
	const res = await srv.post(body, opts);
	srv.assertAlive();
	assert.equal(res.status, 200, `HTTP status ${res.status}`);
	return res.body;
}

async function joinOk(peer, d, { auth = { peer }, extra = {} } = {}) {
	const nonce = nextDevNonce(d);
	const req = joinReq(peer, d, joinRequest(d, nonce), extra);
	const ans = await post(req, auth);
	const keys = verifyJoinAns(fx, peer, d, req, ans, nonce);
	d.used.push(nonce);
	return { ans, keys, nonce };
}

// CODE, no keys or payload in the answer, and nothing stored.
async function refused(what, body, auth, code) {
	const snap = fx.snapshot();
	const ans = await post(body, auth);
	assert.equal(ans.Result?.ResultCode, code, `${what}: expected ${code}, got ${ans.Result?.ResultCode} (${ans.Result?.Description ?? ''})`);
	for (const k of ['PHYPayload', 'NwkSKey', 'FNwkSIntKey', 'SNwkSIntKey', 'NwkSEncKey', 'AppSKey', 'HNetID'])
		assert.equal(ans[k], undefined, `${what}: no ${k}`);
	assert.equal(fx.snapshot(), snap, `${what}: the database changed`);
	return ans;
}

const events = () => fx.securityEvents();
const delta = (a, b, k) => (b[k] || 0) - (a[k] || 0);

test('a client certificate issued by the peer\'s CA with the right CN authenticates it', async () => {
	const { ans } = await joinOk(nsCa, devs.d1, { auth: { peer: caIds.good } });
	assert.equal(ans.NwkSKey.KEKLabel, 'ns-ca-kek');
	await joinOk(nsCa, devs.d2, { auth: { peer: caIds.good } });
});

test('wrong CA, wrong CN and an expired certificate are refused: UnknownSender, nothing stored', async () => {
	await new Promise((r) => setTimeout(r, 1500)); // the 0-day certificate has expired by now
	const before_ = events();
	const d = devs.d1;
	const nonce = nextDevNonce(d);
	const req = joinReq(nsCa, d, joinRequest(d, nonce));
	for (const [what, id] of [['wrong CA', caIds.wrongCa], ['wrong CN', caIds.wrongCn], ['expired', caIds.expired]])
		await refused(what, req, { peer: id }, 'UnknownSender');
	await refused('no certificate', req, { peer: null }, 'UnknownSender');
	assert.equal(delta(before_, events(), 'peer_auth_failed'), 4, 'a security event per refusal');
	// the DevNonce was never consumed
	const ans = await post(req, { peer: caIds.good });
	verifyJoinAns(fx, nsCa, d, req, ans, nonce);
	d.used.push(nonce);
});

test('a tenant\'s peer cannot join, HomeNSReq or AppSKeyReq another tenant\'s device: UnknownDevEUI, nothing stored', async () => {
	const before_ = events();
	for (const d of [devs.d1, devs.d2]) {
		const nonce = nextDevNonce(d);
		const req = joinReq(nsT2, d, joinRequest(d, nonce));
		await refused(`JoinReq for a default-tenant device (${d.mac})`, req, { peer: nsT2 }, 'UnknownDevEUI');
		// the same request from an installation-wide peer is answered
		const ans = await post({ ...req, SenderID: nsAll.senderId }, { peer: nsAll });
		verifyJoinAns(fx, nsAll, d, { ...req, SenderID: nsAll.senderId }, ans, nonce);
		d.used.push(nonce);
	}
	await refused('HomeNSReq for a default-tenant device', { ProtocolVersion: '1.1', SenderID: nsT2.senderId,
		ReceiverID: hex(devs.d1.joinEui), TransactionID: 5, MessageType: 'HomeNSReq', DevEUI: hex(devs.d1.devEui) },
	{ peer: nsT2 }, 'UnknownDevEUI');
	const after_ = events();
	assert.equal(delta(before_, after_, 'peer_tenant_denied'), 3, 'a security event per cross-tenant request');
	// its own tenant's devices are answered
	await joinOk(nsT2, devs.t2a);
	await joinOk(nsT2, devs.t2b);
});

test('an AS peer of another tenant named by a device (legacy data) gets no AppSKey and no AppSKeyReq answer', async () => {
	const d = devs.d1;
	// the CLI refuses to name another tenant's AS peer
	const r = cli(['device', 'join-settings', '--data', fx.dir, '--tenant', 'default', '--dev-eui', hex(d.devEui), '--as-peer', 'as-t2']);
	assert.notEqual(r.status, 0, 'join-settings naming another tenant\'s AS peer is refused');
	fx.sql(`update devices set as_peer_id = ${asT2.id} where id = ${d.id}`);
	const { ans } = await joinOk(nsAll, { ...d, as: null }, { auth: { peer: nsAll } }).catch((e) => { throw e; });
	assert.equal(ans.AppSKey, undefined, 'no AppSKey for another tenant\'s AS');
	const ask = { ProtocolVersion: '1.1', SenderID: asT2.senderId, ReceiverID: hex(d.joinEui), TransactionID: 6,
		MessageType: 'AppSKeyReq', DevEUI: hex(d.devEui), SessionKeyID: ans.SessionKeyID };
	const a = await post(ask, { peer: asT2 });
	assert.equal(a.Result?.ResultCode, 'UnknownDevEUI');
	assert.equal(a.AppSKey, undefined);
	fx.sql(`update devices set as_peer_id = NULL where id = ${d.id}`);
	// its own device's AppSKey it gets
	const t = devs.t2a;
	const own = await joinOk(nsT2, t);
	const ok = await post({ ...ask, ReceiverID: hex(t.joinEui), DevEUI: hex(t.devEui), SessionKeyID: own.ans.SessionKeyID }, { peer: asT2 });
	assert.equal(ok.Result?.ResultCode, 'Success', `AppSKeyReq: ${ok.Result?.Description ?? ''}`);
	// ReceiverID must be the JoinEUI of the named device
	const wrong = await post({ ...ask, ReceiverID: hex(rand(8)), DevEUI: hex(t.devEui), SessionKeyID: own.ans.SessionKeyID }, { peer: asT2 });
	assert.equal(wrong.Result?.ResultCode, 'UnknownReceiver');
	assert.equal(wrong.AppSKey, undefined);
});

test('ReceiverID other than the device\'s JoinEUI: the peer\'s receiver-unknown code, nothing stored', async () => {
	for (const [peer, d, code] of [[nsAll, devs.d2, 'UnknownReceiver'], [nsT2, devs.t2b, 'UnknownReceiverID']]) {
		const nonce = nextDevNonce(d);
		const req = joinReq(peer, d, joinRequest(d, nonce), { ReceiverID: hex(rand(8)) });
		await refused(`JoinReq to another ReceiverID (${peer.name})`, req, { peer }, code);
		// the same DevNonce with the right ReceiverID (any case, 0x) works
		const good = { ...req, ReceiverID: '0x' + hex(d.joinEui).toLowerCase() };
		const ans = await post(good, { peer });
		verifyJoinAns(fx, peer, d, { ...good, ReceiverID: hex(d.joinEui) }, ans, nonce);
		d.used.push(nonce);
	}
	await refused('HomeNSReq to another ReceiverID', { ProtocolVersion: '1.1', SenderID: nsT2.senderId,
		ReceiverID: hex(rand(8)), TransactionID: 7, MessageType: 'HomeNSReq', DevEUI: hex(devs.t2a.devEui) },
	{ peer: nsT2 }, 'UnknownReceiverID');
});

test('peers API: create returns KEK and token once (audited), GET without secrets, other tenant 404, delete', async () => {
	const sender = netId();
	const res = await t2Admin.request('POST', '/api/v1/peers', { type: 'ns', name: 't2-api-ns', sender_id: sender.toLowerCase(),
		token: 'generate', kek_label: 't2-api-kek' });
	assert.equal(res.status, 201, `create: ${res.text.slice(0, 200)}`);
	assert.equal(res.headers['cache-control'], 'no-store');
	assert.match(res.body.kek, /^[0-9A-F]{32}$/);
	assert.ok(res.body.token && res.body.token.length >= 16, 'a generated token');
	assert.equal(res.body.sender_id, sender);
	assert.equal(res.body.bearer_token, true);
	const id = res.body.id;
	const peer = { name: 't2-api-ns', senderId: sender, kekLabel: 't2-api-kek', kek: Buffer.from(res.body.kek, 'hex'), token: res.body.token };
	fx.peers[peer.name] = peer;

	// the audit log of t2 has the creation and the KEK's reveal
	const audit = (await t2Admin.request('GET', '/api/v1/audit?limit=1000')).body.records;
	assert.ok(audit.some((r) => r.action === 'peer.create' && r.object === 'peer:t2-api-ns'), 'peer.create audited');
	assert.ok(audit.some((r) => r.action === 'key.reveal' && r.object === `peer:${id}/kek`), 'KEK reveal audited');
	const defAudit = (await defaultAdmin.request('GET', '/api/v1/audit?limit=1000')).body.records;
	assert.ok(!defAudit.some((r) => r.object === 'peer:t2-api-ns'), 'not in the other tenant\'s audit');

	// the peer works on the backend listener, for t2's devices only
	const { ans } = await joinOk(peer, devs.t2c, { auth: { peer: null, token: peer.token } });
	assert.equal(ans.NwkSKey.KEKLabel, 't2-api-kek');
	const d = devs.d1;
	await refused('API-made tenant peer, other tenant\'s device', joinReq(peer, d, joinRequest(d, nextDevNonce(d))),
		{ peer: null, token: peer.token }, 'UnknownDevEUI');

	const got = await t2Admin.request('GET', `/api/v1/peers/${id}`);
	assert.equal(got.status, 200);
	assert.equal(got.body.kek, undefined);
	assert.equal(got.body.token, undefined);
	assert.ok(!got.text.includes(res.body.kek) && !got.text.includes(peer.token), 'GET carries no secret');
	const list = await t2Admin.request('GET', '/api/v1/peers');
	const names = list.body.peers.map((p) => p.name).sort();
	assert.deepEqual(names, ['as-t2', 'ns-t2', 't2-api-ns'], 'the tenant\'s own peers, no installation-wide ones');
	assert.ok(!list.text.includes(res.body.kek) && !list.text.includes(peer.token), 'list carries no secret');
	assert.deepEqual((await defaultAdmin.request('GET', '/api/v1/peers')).body.peers, [], 'default tenant has no peers of its own');
	assert.equal((await defaultAdmin.request('GET', `/api/v1/peers/${id}`)).status, 404);
	assert.equal((await defaultAdmin.request('DELETE', `/api/v1/peers/${id}`)).status, 404);
	assert.equal((await t2Admin.request('GET', `/api/v1/peers/${nsAll.id}`)).status, 404, 'installation-wide peers are invisible');

	// a CA-authenticated peer by API; bad PEM is refused
	const caPeer = await t2Admin.request('POST', '/api/v1/peers', { type: 'ns', name: 't2-ca-ns', sender_id: netId(),
		client_ca: fs.readFileSync(path.join(fx.tmp, 'other-ca.crt.pem'), 'utf8'), client_cert_cn: 'x' });
	assert.equal(caPeer.status, 201, caPeer.text.slice(0, 200));
	assert.equal(caPeer.body.client_cert_cn, 'x');
	const bad = await t2Admin.request('POST', '/api/v1/peers', { type: 'ns', name: 't2-bad', sender_id: netId(), client_ca: 'not a PEM' });
	assert.equal(bad.status, 400);
	assert.ok(bad.body.error.fields.some((f) => f.field === 'client_ca'));
	const noAuth = await t2Admin.request('POST', '/api/v1/peers', { type: 'ns', name: 't2-none', sender_id: netId() });
	assert.equal(noAuth.status, 400);
	const dup = await t2Admin.request('POST', '/api/v1/peers', { type: 'ns', name: 'ns-all', sender_id: netId(), token: 'generate' });
	assert.equal(dup.status, 409);

	// delete: audited, gone, and its token no longer authenticates
	assert.equal((await t2Admin.request('DELETE', `/api/v1/peers/${id}`)).status, 204);
	assert.equal((await t2Admin.request('GET', `/api/v1/peers/${id}`)).status, 404);
	const audit2 = (await t2Admin.request('GET', '/api/v1/audit?limit=1000')).body.records;
	assert.ok(audit2.some((r) => r.action === 'peer.delete' && r.object === 'peer:t2-api-ns'), 'peer.delete audited');
	const t = devs.t2c;
	await refused('deleted peer', joinReq(peer, t, joinRequest(t, nextDevNonce(t))), { peer: null, token: peer.token }, 'UnknownSender');
});

test('device join settings and reset-nonces through the API', async () => {
	const t = devs.t2c;
	const asRes = await t2Admin.request('POST', '/api/v1/peers', { type: 'as', name: 't2-api-as', sender_id: 'T2-API-AS', token: 'generate' });
	assert.equal(asRes.status, 201);
	const put = await t2Admin.request('PUT', `/api/v1/devices/${t.id}/join-settings`, { as_peer_id: asRes.body.id, home_net_id: '0x00ab12' });
	assert.equal(put.status, 200, put.text);
	assert.deepEqual(put.body, { id: t.id, as_peer_id: asRes.body.id, home_net_id: '00AB12' });
	const home = await post({ ProtocolVersion: '1.1', SenderID: nsT2.senderId, ReceiverID: hex(t.joinEui), TransactionID: 9,
		MessageType: 'HomeNSReq', DevEUI: hex(t.devEui) }, { peer: nsT2 });
	assert.equal(home.HNetID, '00AB12');
	// another tenant's AS peer, or an NS peer, cannot be named
	for (const bad of [{ as_peer_id: fx.peers['ns-t2'].id }, { as_peer_id: 999999 }]) {
		const r = await t2Admin.request('PUT', `/api/v1/devices/${t.id}/join-settings`, bad);
		assert.equal(r.status, 400, JSON.stringify(bad));
	}
	const d1 = devs.d1;
	const cross = await defaultAdmin.request('PUT', `/api/v1/devices/${d1.id}/join-settings`, { as_peer_id: asT2.id });
	assert.equal(cross.status, 400, 'another tenant\'s AS peer');
	assert.equal((await defaultAdmin.request('PUT', `/api/v1/devices/${t.id}/join-settings`, {})).status, 404, 'another tenant\'s device');
	const cleared = await t2Admin.request('PUT', `/api/v1/devices/${t.id}/join-settings`, {});
	assert.deepEqual(cleared.body, { id: t.id, as_peer_id: null, home_net_id: null });

	// reset-nonces: a replayed DevNonce works again after the reset
	const nonce = t.used[0];
	await refused('replay before the reset', joinReq(nsT2, t, joinRequest(t, nonce)), { peer: nsT2 }, 'FrameReplayed');
	assert.equal((await defaultAdmin.request('POST', `/api/v1/devices/${t.id}/reset-nonces`)).status, 404, 'another tenant\'s device');
	assert.equal((await t2Admin.request('POST', `/api/v1/devices/${t.id}/reset-nonces`)).status, 204);
	const req = joinReq(nsT2, t, joinRequest(t, nonce));
	verifyJoinAns(fx, nsT2, t, req, await post(req, { peer: nsT2 }), nonce);
	const audit = (await t2Admin.request('GET', '/api/v1/audit?limit=1000')).body.records;
	assert.ok(audit.some((r) => r.action === 'device.reset_nonces' && r.object === `device:${t.id}`), 'reset audited');
	assert.ok(audit.some((r) => r.action === 'device.join_settings' && r.object === `device:${t.id}`), 'join settings audited');
});
