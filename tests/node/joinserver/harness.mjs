// Join-server test harness: a throwaway data directory with peers (client
// certificates made with openssl, bearer tokens), LoRaWAN devices with random
// keys, real `iotvault serve` processes with their backend listeners, a TS002
// client over (mutual) TLS, and the independent side of every check: the npm
// package lora-packet builds JoinRequests and RejoinRequests, decrypts and
// verifies JoinAccepts and derives session keys; node:crypto unwraps the
// RFC 3394 envelopes with the KEKs printed by `iotvault peer add`.
//
// Keys, KEKs and tokens live in variables only: nothing here prints them, and
// assertion messages carry result codes and counts, never key material.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'package.json'));
export const lora = require('lora-packet');

export const SRC_DIR = process.env.IOTVAULT_SRC || path.resolve(here, '../../..');
export const BIN = process.env.IOTVAULT_BIN || path.join(SRC_DIR, 'build/iotvault');
export const TENANT = 'default';

function cleanEnv(extra = {}) {
	const env = { ...process.env, ...extra };
	for (const k of ['IOTVAULT_DATA', 'IOTVAULT_PASSPHRASE', 'IOTVAULT_PKCS11_PIN']) delete env[k];
	return env;
}

// Runs the CLI; EXTRA_ENV passes keys by env:NAME. Output may hold a KEK or
// token (peer add): callers extract them and never print stdout.
export function cli(args, extraEnv = {}) {
	const r = spawnSync(BIN, args, { encoding: 'utf8', timeout: 120000, env: cleanEnv(extraEnv) });
	if (r.error) throw r.error;
	return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function cliOk(args, extraEnv = {}, what = args.slice(0, 2).join(' ')) {
	const r = cli(args, extraEnv);
	assert.equal(r.status, 0, `iotvault ${what} failed (${r.status}): ${r.stderr.trim()}`);
	return r;
}

export const rand = (n) => crypto.randomBytes(n);
export const hex = (b) => Buffer.from(b).toString('hex').toUpperCase();
export const be16 = (v) => { const b = Buffer.alloc(2); b.writeUInt16BE(v & 0xffff); return b; };
const le16 = (v) => { const b = Buffer.alloc(2); b.writeUInt16LE(v & 0xffff); return b; };
const rev = (b) => Buffer.from(b).reverse();

export function freePort() {
	return new Promise((resolve, reject) => {
		const s = net.createServer();
		s.unref();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

// A self-signed ECDSA P-256 client certificate and its key (PEM files).
export function makeClientCert(dir, name) {
	const cert = path.join(dir, `${name}.crt.pem`), key = path.join(dir, `${name}.key.pem`);
	const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt',
		'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-days', '2',
		'-keyout', key, '-out', cert], { encoding: 'utf8' });
	assert.equal(r.status, 0, `openssl req for ${name}: ${r.stderr}`);
	return { cert: fs.readFileSync(cert), key: fs.readFileSync(key), certPath: cert };
}

// RFC 3394 unwrap (default IV) of a TS002 KeyEnvelope's AESKey under KEK.
export function unwrap(kek, aesKeyHex) {
	const d = crypto.createDecipheriv('id-aes128-wrap', kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'));
	return Buffer.concat([d.update(Buffer.from(aesKeyHex, 'hex')), d.final()]);
}

// The fixture: data directory, peers and devices. Devices:
//   {devEui, joinEui, mac, appKey, nwkKey (1.1), as (peer name or null),
//    home (NetID or null), nextNonce (1.0.4/1.1), used (DevNonces)}
export class Fixture {
	constructor() {
		this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iotvault-js-'));
		fs.chmodSync(this.tmp, 0o700);
		this.dir = path.join(this.tmp, 'data');
		this.peers = {};
		this.devices = [];
		this.servers = [];
	}

	init() {
		cliOk(['init', '--data', this.dir, '--quiet'], {}, 'init');
		this.ca = fs.readFileSync(path.join(this.dir, 'tls/cert.pem'));
	}

	// Adds a peer; AUTH is 'cert' (a fresh client certificate) or 'token'.
	addPeer(name, type, senderId, auth, { kekLabel = `${name}-kek` } = {}) {
		const args = ['peer', 'add', '--data', this.dir, '--name', name, '--type', type,
			'--sender-id', senderId, '--kek-label', kekLabel];
		const p = { name, type, senderId, kekLabel };
		if (auth === 'cert') {
			Object.assign(p, makeClientCert(this.tmp, name));
			args.push('--client-cert', p.certPath);
		} else args.push('--token', 'generate');
		const r = cliOk(args, {}, `peer add ${name}`);
		const kek = r.stdout.match(/^kek: ([0-9A-Fa-f]{32})$/m);
		assert.ok(kek, `peer add ${name} prints "kek: HEX" once`);
		p.kek = Buffer.from(kek[1], 'hex');
		if (auth === 'token') {
			const t = r.stdout.match(/^bearer token: (\S+)/m);
			assert.ok(t, `peer add ${name} --token generate prints the token`);
			p.token = t[1];
		}
		this.peers[name] = p;
		return p;
	}

	// A device with random keys; for 1.1 the NwkKey differs from the AppKey.
	addDevice(mac, { as = null, home = null } = {}) {
		const d = { devEui: rand(8), joinEui: rand(8), mac, appKey: rand(16),
			nwkKey: mac === '1.1' ? rand(16) : null, as, home,
			nextNonce: 1 + crypto.randomInt(1000), used: [] };
		d.devEui[0] = 0x70; // never the all-zero or broadcast EUI
		const args = ['device', 'add', '--data', this.dir, '--tenant', TENANT, '--type', 'lorawan',
			'--dev-eui', hex(d.devEui), '--join-eui', hex(d.joinEui), '--mac-version', mac,
			'--app-key', 'env:JS_APP_KEY'];
		const env = { JS_APP_KEY: d.appKey.toString('hex') };
		if (d.nwkKey) {
			args.push('--nwk-key', 'env:JS_NWK_KEY');
			env.JS_NWK_KEY = d.nwkKey.toString('hex');
		}
		cliOk(args, env, `device add (${mac})`);
		if (as || home) {
			const js = ['device', 'join-settings', '--data', this.dir, '--tenant', TENANT,
				'--dev-eui', hex(d.devEui)];
			if (as) js.push('--as-peer', as);
			if (home) js.push('--home-net-id', home);
			cliOk(js, {}, 'device join-settings');
		}
		this.devices.push(d);
		return d;
	}

	resetNonces(d) {
		cliOk(['device', 'reset-nonces', '--data', this.dir, '--tenant', TENANT, '--dev-eui', hex(d.devEui)],
			{}, 'device reset-nonces');
	}

	// Starts `iotvault serve` with its backend listener; returns the server.
	async serve() {
		const s = new JsServer(this);
		await s.start();
		this.servers.push(s);
		return s;
	}

	sql(query) {
		const r = spawnSync('sqlite3', ['-batch', '-noheader', '-cmd', '.timeout 10000',
			path.join(this.dir, 'iotvault.db'), query], { encoding: 'utf8' });
		assert.equal(r.status, 0, `sqlite3: ${r.stderr}`);
		return r.stdout.trim();
	}

	// What a refused message must leave unchanged.
	snapshot() {
		return this.sql("select (select count(*) from lorawan_sessions) || ' ' || " +
			"(select count(*) from dev_nonces) || ' ' || " +
			"(select coalesce(sum(join_nonce), 0) || '/' || coalesce(group_concat(coalesce(last_dev_nonce, '-') || ':' || coalesce(rj_count1, '-')), '') from join_state) || ' ' || " +
			"(select count(*) from secrets)");
	}

	securityEvents() {
		const out = {};
		for (const line of this.sql('select kind, count(*) from security_events group by kind').split('\n'))
			if (line) { const [k, n] = line.split('|'); out[k] = Number(n); }
		return out;
	}

	async stop() {
		for (const s of this.servers) await s.stop();
		this.servers = [];
		if (!process.env.JS_KEEP_DATA) fs.rmSync(this.tmp, { recursive: true, force: true });
	}
}

export class JsServer {
	constructor(fx) {
		this.fx = fx;
		this.stderr = '';
		this.agents = new Map();
	}

	async start() {
		this.apiPort = await freePort();
		this.port = await freePort();
		this.proc = spawn(BIN, ['serve', '--data', this.fx.dir, '--listen', `127.0.0.1:${this.apiPort}`,
			'--backend-listen', `127.0.0.1:${this.port}`], { stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
		this.proc.stderr.on('data', (d) => { this.stderr = (this.stderr + d).slice(-8192); });
		await new Promise((resolve, reject) => {
			let out = '';
			const timer = setTimeout(() => reject(new Error(`serve did not start: ${this.stderr}`)), 30000);
			this.proc.stdout.on('data', (d) => {
				out += d;
				if (/join server .* on https:\/\//.test(out)) { clearTimeout(timer); resolve(); }
			});
			this.proc.on('exit', (code) => {
				clearTimeout(timer);
				reject(new Error(`serve exited with ${code} before serving: ${this.stderr}`));
			});
		});
		this.proc.removeAllListeners('exit');
	}

	assertAlive() {
		assert.equal(this.proc.exitCode, null, `the server exited: ${this.stderr}`);
		assert.equal(this.proc.signalCode, null, `the server was killed: ${this.stderr}`);
	}

	async stop() {
		for (const a of this.agents.values()) a.destroy();
		if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
			const exited = new Promise((r) => this.proc.once('exit', r));
			this.proc.kill('SIGTERM');
			const t = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
			await exited;
			clearTimeout(t);
		}
	}

	// One keep-alive agent per client identity (certificate or none).
	agent(peer) {
		const key = peer && peer.cert ? peer.name : '-';
		if (!this.agents.has(key)) {
			const o = { keepAlive: true, maxSockets: 4, ca: this.fx.ca, servername: 'localhost' };
			if (peer && peer.cert) Object.assign(o, { cert: peer.cert, key: peer.key });
			this.agents.set(key, new https.Agent(o));
		}
		return this.agents.get(key);
	}

	// Posts BODY (object, or a string/Buffer sent as is) to / on the backend
	// listener as PEER: its client certificate (when it has one) and
	// AUTHORIZATION (default: its bearer token). Resolves {status, body, text}.
	post(body, { peer = null, token, path: urlPath = '/', method = 'POST', headers: extraHeaders = {} } = {}) {
		const payload = Buffer.isBuffer(body) ? body
			: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
		const headers = { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) };
		const bearer = token !== undefined ? token : peer && peer.token;
		if (bearer) headers.Authorization = `Bearer ${bearer}`;
		Object.assign(headers, extraHeaders);
		return new Promise((resolve, reject) => {
			const req = https.request({ host: '127.0.0.1', port: this.port, method, path: urlPath, headers,
				agent: this.agent(peer), servername: 'localhost' }, (res) => {
				const chunks = [];
				res.on('data', (c) => chunks.push(c));
				res.on('end', () => {
					const text = Buffer.concat(chunks).toString('utf8');
					let parsed;
					try { parsed = JSON.parse(text); } catch { parsed = undefined; }
					resolve({ status: res.statusCode, headers: res.headers, body: parsed, text });
				});
				res.on('error', reject);
			});
			req.on('error', reject);
			req.end(payload);
		});
	}
}

// ---- LoRaWAN messages (lora-packet) ----

// The next DevNonce of D: random and unused for 1.0.0-1.0.3, counting for 1.0.4/1.1.
export function nextDevNonce(d) {
	let n;
	if (d.mac === '1.0.4' || d.mac === '1.1') n = d.nextNonce++;
	else do n = crypto.randomInt(65536); while (d.used.includes(n));
	return n;
}

// A JoinRequest PHYPayload with the device's AppKey (1.0.x) or NwkKey (1.1).
export function joinRequest(d, devNonce, key = d.nwkKey || d.appKey) {
	const p = lora.fromFields({ MType: 'Join Request', AppEUI: d.joinEui, DevEUI: d.devEui,
		DevNonce: be16(devNonce) }, undefined, undefined, key);
	return p.getPHYPayload();
}

// A RejoinRequest (LoRaWAN 1.1 6.2.4; lora-packet cannot build one but
// parses it and computes its MIC): type 1 with JSIntKey, types 0/2 with SNWKSINTKEY.
export function rejoinRequest(d, type, rjCount, { netId = Buffer.alloc(3), sNwkSIntKey } = {}) {
	const wire = Buffer.concat([Buffer.from([0xc0, type]), type === 1 ? rev(d.joinEui) : rev(netId),
		rev(d.devEui), le16(rjCount), Buffer.alloc(4)]);
	const p = lora.fromWire(wire);
	const js = lora.generateJSKeys(d.nwkKey, d.devEui);
	const mic = type === 1 ? lora.calculateMIC(p, undefined, js.JSIntKey) : lora.calculateMIC(p, sNwkSIntKey);
	wire.set(mic, wire.length - 4);
	return wire;
}

let transaction = crypto.randomInt(1 << 30);
export function joinReq(sender, d, phy, extra = {}) {
	return { ProtocolVersion: '1.1', SenderID: sender.senderId, ReceiverID: hex(d.joinEui),
		TransactionID: transaction++, MessageType: 'JoinReq', MACVersion: d.mac,
		PHYPayload: hex(phy), DevEUI: hex(d.devEui), DevAddr: hex(rand(4)), DLSettings: '00',
		RxDelay: 1, ...extra };
}

// Checks a successful JoinAns / RejoinAns against everything computed here:
// decrypts the JoinAccept, verifies its MIC, derives the session keys with
// lora-packet and compares them with the envelopes unwrapped under the KEKs.
// NONCE is the DevNonce (or RJcount of a rejoin); JOINREQTYPE 0xff for a JoinRequest.
// Returns the derived keys and the JoinNonce (hex).
export function verifyJoinAns(fx, ns, d, req, ans, nonce, joinReqType = 0xff) {
	const tag = `${d.mac} ${hex(d.devEui)}`;
	assert.equal(ans.Result?.ResultCode, 'Success', `${tag}: ${ans.Result?.ResultCode} ${ans.Result?.Description ?? ''}`);
	assert.equal(ans.MessageType, joinReqType === 0xff ? 'JoinAns' : 'RejoinAns', `${tag}: MessageType`);
	assert.equal(ans.ProtocolVersion, req.ProtocolVersion, `${tag}: ProtocolVersion`);
	assert.equal(ans.TransactionID, req.TransactionID, `${tag}: TransactionID echoed`);
	assert.equal(ans.SenderID, req.ReceiverID.replace(/^0x/i, '').toUpperCase(), `${tag}: SenderID = request's ReceiverID`);
	assert.equal(ans.ReceiverID, req.SenderID.replace(/^0x/i, '').toUpperCase(), `${tag}: ReceiverID = request's SenderID`);
	if (req.SenderToken !== undefined) assert.equal(ans.ReceiverToken, req.SenderToken, `${tag}: SenderToken -> ReceiverToken`);
	assert.match(ans.SessionKeyID ?? '', /^[0-9A-F]{16,64}$/, `${tag}: SessionKeyID`);
	assert.ok(Number.isInteger(ans.Lifetime), `${tag}: Lifetime`);
	assert.match(ans.PHYPayload ?? '', /^[0-9A-Fa-f]+$/, `${tag}: PHYPayload`);

	const v11 = d.mac === '1.1';
	const js = v11 ? lora.generateJSKeys(d.nwkKey, d.devEui) : null;
	const encKey = !v11 ? d.appKey : joinReqType === 0xff ? d.nwkKey : js.JSEncKey;
	const wire = Buffer.from(ans.PHYPayload, 'hex');
	assert.ok(wire.length === 17 || wire.length === 33, `${tag}: JoinAccept length ${wire.length}`);
	assert.equal(wire[0], 0x20, `${tag}: MHDR of a JoinAccept`);
	const plain = lora.fromWire(lora.decryptJoinAccept(lora.fromWire(wire), encKey));
	if (v11) {
		plain.JoinReqType = Buffer.from([joinReqType]);
		plain.JoinEUI = d.joinEui;
		plain.DevNonce = be16(nonce);
		assert.ok(plain.getDLSettingsOptNeg(), `${tag}: OptNeg set for 1.1`);
		assert.ok(lora.verifyMIC(plain, js.JSIntKey), `${tag}: JoinAccept MIC (JSIntKey)`);
	} else {
		assert.ok(!plain.getDLSettingsOptNeg(), `${tag}: OptNeg clear for 1.0.x`);
		assert.ok(lora.verifyMIC(plain, undefined, d.appKey), `${tag}: JoinAccept MIC (AppKey)`);
	}
	assert.equal(hex(plain.NetID), ns.senderId.toUpperCase(), `${tag}: NetID is the NS peer's`);
	if (joinReqType === 0xff) assert.equal(hex(plain.DevAddr), req.DevAddr.replace(/^0x/i, '').toUpperCase(), `${tag}: DevAddr`);
	assert.equal(plain.RxDelay.readUInt8(0) & 0x0f, req.RxDelay, `${tag}: RxDelay`);
	assert.equal(plain.DLSettings.readUInt8(0) & 0x7f, Buffer.from(req.DLSettings.replace(/^0x/i, ''), 'hex')[0] & 0x7f, `${tag}: DLSettings`);
	if (req.CFList) assert.equal(hex(plain.CFList), req.CFList.toUpperCase(), `${tag}: CFList`);
	else assert.equal(plain.CFList.length, 0, `${tag}: no CFList`);

	const keys = v11
		? lora.generateSessionKeys11(d.appKey, d.nwkKey, d.joinEui, plain.AppNonce, be16(nonce))
		: lora.generateSessionKeys10(d.appKey, plain.NetID, plain.AppNonce, be16(nonce));
	const nsNames = v11 ? ['FNwkSIntKey', 'SNwkSIntKey', 'NwkSEncKey'] : ['NwkSKey'];
	for (const k of nsNames) {
		assert.equal(ans[k]?.KEKLabel, ns.kekLabel, `${tag}: ${k}.KEKLabel`);
		assert.ok(unwrap(ns.kek, ans[k].AESKey).equals(keys[k]), `${tag}: ${k} unwrapped under the NS KEK equals lora-packet's`);
	}
	for (const k of v11 ? ['NwkSKey'] : ['FNwkSIntKey', 'SNwkSIntKey', 'NwkSEncKey'])
		assert.equal(ans[k], undefined, `${tag}: no ${k} for ${d.mac}`);
	if (d.as) {
		const as = fx.peers[d.as];
		assert.equal(ans.AppSKey?.KEKLabel, as.kekLabel, `${tag}: AppSKey.KEKLabel`);
		assert.ok(unwrap(as.kek, ans.AppSKey.AESKey).equals(keys.AppSKey), `${tag}: AppSKey unwrapped under the AS KEK equals lora-packet's`);
	} else assert.equal(ans.AppSKey, undefined, `${tag}: no AppSKey without an AS peer`);
	// a key envelope under the wrong KEK must not unwrap (RFC 3394 integrity check)
	assert.throws(() => unwrap(rand(16), ans[nsNames[0]].AESKey), `${tag}: envelope unwraps under a random KEK`);
	return { ...keys, js, joinNonce: hex(plain.AppNonce) };
}
