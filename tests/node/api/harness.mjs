// Test harness for the REST API suite: a throwaway data directory, a real
// `iotvault serve` on a free port, an HTTPS client that trusts only the data
// directory's certificate, and a request helper that checks every response
// against docs/openapi.yaml (status and body schema).
//
// Secrets (passwords, API keys, revealed device keys) are kept in variables
// and never printed: assertion messages show statuses and error codes only.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

import { loadSpec } from './openapi.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SRC_DIR = process.env.IOTVAULT_SRC || path.resolve(here, '../../..');
export const BIN = process.env.IOTVAULT_BIN || '/work/main/build/iotvault';
export const SPEC_PATH = path.join(SRC_DIR, 'docs/openapi.yaml');
export const COOKIE_NAME = '__Host-iotvault_session';

// The environment of every iotvault run: the caller's settings must not leak in.
function cleanEnv() {
	const env = { ...process.env };
	for (const k of ['IOTVAULT_DATA', 'IOTVAULT_PASSPHRASE', 'IOTVAULT_PKCS11_PIN']) delete env[k];
	return env;
}

// Runs the CLI synchronously; returns {status, stdout, stderr}.
export function cli(args, opts = {}) {
	const r = spawnSync(BIN, args, {
		encoding: 'utf8',
		timeout: 120000,
		env: cleanEnv(),
		...opts,
	});
	if (r.error) throw r.error;
	return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// 1 when BIN knows `iotvault tenant add`.
export function hasTenantAdd() {
	const r = cli(['tenant', '--help']);
	return r.status === 0 && /tenant add/.test(r.stdout + r.stderr);
}

function freePort() {
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

function parseSetCookie(lines) {
	const out = [];
	for (const line of lines || []) {
		const parts = line.split(';').map((p) => p.trim());
		const [nv, ...attrs] = parts;
		const eq = nv.indexOf('=');
		const c = { name: nv.slice(0, eq), value: nv.slice(eq + 1), attrs: {} };
		for (const a of attrs) {
			const i = a.indexOf('=');
			if (i < 0) c.attrs[a.toLowerCase()] = true;
			else c.attrs[a.slice(0, i).toLowerCase()] = a.slice(i + 1);
		}
		out.push(c);
	}
	return out;
}

// A client identity: either a session cookie (with the Origin a browser on
// the API's own origin would send) or a bearer API key.
export class Client {
	constructor(server, { cookie = null, bearer = null, origin = 'auto' } = {}) {
		this.server = server;
		this.cookie = cookie;
		this.bearer = bearer;
		this.origin = origin;
	}

	// request(method, path, {json, raw, headers, validate}) ->
	//   {status, headers, body (parsed JSON or null), text, cookies}
	async request(method, urlPath, opts = {}) {
		const headers = { Accept: 'application/json', ...(opts.headers || {}) };
		if (this.cookie && !('Cookie' in headers)) headers.Cookie = `${COOKIE_NAME}=${this.cookie}`;
		if (this.bearer && !('Authorization' in headers))
			headers.Authorization = `Bearer ${this.bearer}`;
		if (this.cookie && this.origin && !('Origin' in headers))
			headers.Origin = this.origin === 'auto' ? this.server.origin : this.origin;
		let payload;
		if (opts.json !== undefined) {
			payload = Buffer.from(JSON.stringify(opts.json));
			if (!('Content-Type' in headers)) headers['Content-Type'] = 'application/json';
		} else if (opts.raw !== undefined) {
			payload = Buffer.isBuffer(opts.raw) ? opts.raw : Buffer.from(opts.raw);
			if (!('Content-Type' in headers)) headers['Content-Type'] = 'application/json';
		}
		// explicit framing: node sends DELETE bodies without it otherwise
		if (payload && !('Content-Length' in headers)) headers['Content-Length'] = String(payload.length);
		for (const k of Object.keys(headers)) if (headers[k] === null) delete headers[k];
		const res = await this.server.rawRequest(method, urlPath, headers, payload);
		if (opts.validate !== false) {
			this.server.spec.validateResponse(method, urlPath, res);
			// what the server accepted, the document must accept too
			if (res.status < 300 && opts.json !== undefined) {
				const v = this.server.spec.validateRequest(method, urlPath, opts.json);
				assert.ok(v.ok, `${method} ${urlPath.split('?')[0]}: accepted body not valid per docs/openapi.yaml: ${v.errors}`);
			}
		}
		return res;
	}

	get(p, o) { return this.request('GET', p, o); }
	post(p, json, o = {}) { return this.request('POST', p, { ...o, json }); }
	patch(p, json, o = {}) { return this.request('PATCH', p, { ...o, json }); }
	put(p, json, o = {}) { return this.request('PUT', p, { ...o, json }); }
	del(p, o) { return this.request('DELETE', p, o); }
}

export class Server {
	constructor() {
		this.dir = null;
		this.proc = null;
		this.port = 0;
		this.stderr = '';
		this.agent = null;
		this.spec = null;
	}

	get origin() { return `https://127.0.0.1:${this.port}`; }

	// Creates the data directory (tenant t1) and starts the server.
	// TENANTS: names of further tenants made with `iotvault tenant add`
	// before the server starts; their admin passwords land in this.tenantAdmins.
	async start({ config = null, tenants = [] } = {}) {
		this.spec = loadSpec(SPEC_PATH);
		this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iotvault-api-'));
		this.dir = path.join(this.tmp, 'data');
		const init = cli(['init', '--data', this.dir, '--tenant', 't1', '--quiet']);
		assert.equal(init.status, 0, `iotvault init failed: ${init.stderr}`);
		this.adminPassword = fs.readFileSync(path.join(this.dir, 'initial-admin-password'), 'utf8').trim();
		if (config) this.editConfig(config);
		// a build tree without the installed list can name one (development only)
		const conf = fs.readFileSync(path.join(this.dir, 'iotvault.conf'), 'utf8');
		const list = conf.match(/^common_passwords = (.*)$/m)?.[1];
		if (list && !fs.existsSync(list) && process.env.IOTVAULT_COMMON_PASSWORDS)
			this.editConfig({ auth: { common_passwords: process.env.IOTVAULT_COMMON_PASSWORDS } });
		this.tenantAdmins = {};
		for (const name of tenants) {
			const r = cli(['tenant', 'add', '--data', this.dir, '--name', name]);
			assert.equal(r.status, 0, `iotvault tenant add ${name} failed: ${r.stderr}`);
			const m = r.stdout.match(/^admin password:\s+(\S+)/m);
			assert.ok(m, 'tenant add prints the admin password');
			this.tenantAdmins[name] = m[1];
		}
		this.ca = fs.readFileSync(path.join(this.dir, 'tls/cert.pem'));
		this.agent = new https.Agent({ keepAlive: true, maxSockets: 8, ca: this.ca, servername: 'localhost' });
		await this.spawn();
	}

	// CONFIG: {section: {key: value}} replaced in iotvault.conf.
	editConfig(config) {
		const file = path.join(this.dir, 'iotvault.conf');
		let text = fs.readFileSync(file, 'utf8');
		for (const [section, kv] of Object.entries(config))
			for (const [k, v] of Object.entries(kv)) {
				const re = new RegExp(`(\\[${section}\\][^\\[]*?\\n)${k} = [^\\n]*`);
				assert.ok(re.test(text), `config ${section}.${k} not found`);
				text = text.replace(re, `$1${k} = ${v}`);
			}
		fs.writeFileSync(file, text, { mode: 0o600 });
	}

	async spawn() {
		this.port = await freePort();
		this.proc = spawn(BIN, ['serve', '--data', this.dir, '--listen', `127.0.0.1:${this.port}`], {
			stdio: ['ignore', 'pipe', 'pipe'],
			env: cleanEnv(),
		});
		this.proc.stderr.on('data', (d) => { this.stderr = (this.stderr + d).slice(-8192); });
		await new Promise((resolve, reject) => {
			let out = '';
			const timer = setTimeout(() => reject(new Error(`server did not start: ${this.stderr}`)), 30000);
			this.proc.stdout.on('data', (d) => {
				out += d;
				if (/serving https:\/\//.test(out)) { clearTimeout(timer); resolve(); }
			});
			this.proc.on('exit', (code) => {
				clearTimeout(timer);
				reject(new Error(`server exited with ${code} before serving: ${this.stderr}`));
			});
		});
		this.proc.removeAllListeners('exit');
	}

	async stop({ keep = false } = {}) {
		if (this.agent) this.agent.destroy();
		if (this.proc && this.proc.exitCode === null) {
			const exited = new Promise((r) => this.proc.once('exit', r));
			this.proc.kill('SIGTERM');
			const t = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
			await exited;
			clearTimeout(t);
		}
		if (!keep && this.tmp) fs.rmSync(this.tmp, { recursive: true, force: true });
	}

	// Asserts the server process is still alive (bad input must never crash it).
	assertAlive() {
		assert.equal(this.proc.exitCode, null, `the server exited: ${this.stderr}`);
		assert.equal(this.proc.signalCode, null, `the server was killed: ${this.stderr}`);
	}

	rawRequest(method, urlPath, headers, payload) {
		return new Promise((resolve, reject) => {
			const req = https.request({
				host: '127.0.0.1', port: this.port, method, path: urlPath, headers,
				agent: this.agent, servername: 'localhost',
			}, (res) => {
				const chunks = [];
				res.on('data', (c) => chunks.push(c));
				res.on('end', () => {
					const text = Buffer.concat(chunks).toString('utf8');
					let body = null;
					if (text.length) {
						try { body = JSON.parse(text); } catch { body = undefined; }
					}
					resolve({
						status: res.statusCode, headers: res.headers, body, text,
						cookies: parseSetCookie(res.headers['set-cookie']),
					});
				});
				res.on('error', reject);
			});
			// the server may answer (413) and close before the whole body is sent
			req.on('error', (e) => { if (!req.res) reject(e); });
			if (payload) req.write(payload);
			req.end();
		});
	}

	anon() { return new Client(this); }

	// Logs in and returns a cookie client (or the raw response when it fails).
	async login(tenant, username, password, extra = {}) {
		const res = await this.anon().post('/api/v1/session', { tenant, username, password, ...extra });
		if (res.status !== 200 && res.status !== 201) return { res, client: null };
		const c = res.cookies.find((k) => k.name === COOKIE_NAME);
		assert.ok(c && c.value, 'login sets the session cookie');
		return { res, client: new Client(this, { cookie: c.value }), cookie: c };
	}

	async loginAdmin() {
		const { res, client } = await this.login('t1', 'admin', this.adminPassword);
		assert.ok(client, `admin login: ${res.status} ${res.body?.error?.code}`);
		return client;
	}

	bearer(key) { return new Client(this, { bearer: key }); }
}

// Asserts an error reply: STATUS and error.code CODE.
export function assertError(res, status, code, what = '') {
	assert.equal(res.status, status,
		`${what}: expected ${status} ${code}, got ${res.status} ${res.body?.error?.code ?? ''} ${res.body?.error?.message ?? ''}`);
	assert.equal(res.body?.error?.code, code, `${what}: error code`);
}

export function assertStatus(res, status, what = '') {
	assert.equal(res.status, status,
		`${what}: expected ${status}, got ${res.status} ${res.body?.error?.code ?? ''} ${res.body?.error?.message ?? ''}`);
}

// The field names of a 400 reply's field-level errors.
export function errorFields(res) {
	return (res.body?.error?.fields || []).map((f) => f.field);
}

// A random EUI-64 / AES-128 key as hex (test data, never printed).
export function randHex(bytes) {
	let s = '';
	for (let i = 0; i < bytes; i++) s += Math.floor(Math.random() * 256).toString(16).padStart(2, '0');
	return s.toUpperCase();
}

// Every device of the caller's tenant (follows next_cursor).
export async function allDevices(client, query = '') {
	const out = [];
	let cursor = null;
	for (let i = 0; i < 1000; i++) {
		const q = [query, cursor ? `cursor=${encodeURIComponent(cursor)}` : '', 'limit=1000']
			.filter(Boolean).join('&');
		const res = await client.get(`/api/v1/devices?${q}`);
		assertStatus(res, 200, 'list devices');
		out.push(...res.body.devices);
		cursor = res.body.next_cursor;
		if (!cursor) return out;
	}
	throw new Error('pagination did not end');
}
