// Session API: login, whoami, logout, cookie attributes, the Origin rule for
// state-changing cookie requests, password change, security headers, and the
// login audit records.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { Server, Client, COOKIE_NAME, assertError, assertStatus, allDevices, randHex } from './harness.mjs';

const srv = new Server();
let admin;

before(async () => {
	// short throttling delays: this file fails a few logins on purpose
	await srv.start({ config: { auth: { throttle_base_ms: 10, throttle_max_ms: 100 } } });
	admin = await srv.loginAdmin();
});
after(() => srv.stop());

function lorawanBody() {
	return { type: 'lorawan', dev_eui: randHex(8), join_eui: '70B3D57ED0000000' };
}

test('health is public and every response carries the security headers', async () => {
	const res = await srv.anon().get('/api/v1/health');
	assertStatus(res, 200, 'health');
	assert.equal(res.body.status, 'ok');
	for (const r of [res, await srv.anon().get('/api/v1/devices'), await admin.get('/api/v1/nope')]) {
		assert.equal(r.headers['strict-transport-security'], 'max-age=63072000; includeSubDomains');
		assert.equal(r.headers['x-content-type-options'], 'nosniff');
		assert.match(r.headers['content-security-policy'], /default-src 'none'/);
		assert.equal(r.headers['referrer-policy'], 'no-referrer');
	}
});

test('unknown routes are 404, known paths with another method 405', async () => {
	assertError(await admin.get('/api/v1/nope'), 404, 'not_found', 'unknown path');
	assertError(await admin.request('PUT', '/api/v1/devices'), 405, 'method_not_allowed', 'PUT devices');
});

test('login sets a __Host- cookie: Secure, HttpOnly, SameSite=Strict, Path=/, no Domain', async () => {
	const { res, cookie } = await srv.login('t1', 'admin', srv.adminPassword);
	assertStatus(res, 200, 'login');
	assert.equal(res.body.user, 'admin');
	assert.equal(res.body.tenant, 't1');
	assert.equal(res.body.role, 'admin');
	assert.equal(cookie.name, COOKIE_NAME);
	assert.ok(cookie.name.startsWith('__Host-'));
	assert.equal(cookie.attrs.secure, true, 'Secure');
	assert.equal(cookie.attrs.httponly, true, 'HttpOnly');
	assert.equal(cookie.attrs.samesite, 'Strict', 'SameSite=Strict');
	assert.equal(cookie.attrs.path, '/', 'Path=/');
	assert.equal(cookie.attrs.domain, undefined, 'no Domain');
	// 256 random bits as base64url
	assert.match(cookie.value, /^[A-Za-z0-9_-]{43}$/);
	assert.equal(res.headers['cache-control'], 'no-store');
});

test('wrong password, unknown user and unknown tenant get the same 401', async () => {
	const attempts = [
		['t1', 'admin', 'not-the-password-at-all'],
		['t1', 'nobody', 'not-the-password-at-all'],
		['no-such-tenant', 'admin', 'not-the-password-at-all'],
	];
	const messages = new Set();
	for (const [tenant, username, password] of attempts) {
		const { res, client } = await srv.login(tenant, username, password);
		assert.equal(client, null);
		assertError(res, 401, 'unauthenticated', `login ${tenant}/${username}`);
		assert.equal(res.cookies.length, 0, 'no cookie on failure');
		messages.add(res.body.error.message);
	}
	assert.equal(messages.size, 1, 'one generic message');
});

test('login bodies are validated like every other body', async () => {
	const anon = srv.anon();
	let res = await anon.post('/api/v1/session', { tenant: 't1', username: 'admin' });
	assertError(res, 400, 'invalid_argument', 'missing password');
	assert.ok(res.body.error.fields.some((f) => f.field === 'password' && f.code === 'required'));
	res = await anon.post('/api/v1/session', { tenant: 't1', username: 'admin', password: 'x', extra: 1 });
	assertError(res, 400, 'invalid_argument', 'unknown field');
	assert.ok(res.body.error.fields.some((f) => f.field === 'extra' && f.code === 'unknown'));
	res = await anon.request('POST', '/api/v1/session', { raw: 'not json' });
	assertError(res, 400, 'invalid_argument', 'not JSON');
});

test('whoami answers for a session and refuses without one', async () => {
	const res = await admin.get('/api/v1/session');
	assertStatus(res, 200, 'whoami');
	assert.equal(res.body.kind, 'user');
	assert.equal(res.body.user, 'admin');
	assert.equal(res.body.role, 'admin');
	assert.equal(res.body.tenant, 't1');
	assertError(await srv.anon().get('/api/v1/session'), 401, 'unauthenticated', 'whoami without cookie');
	const forged = new Client(srv, { cookie: 'A'.repeat(43) });
	assertError(await forged.get('/api/v1/session'), 401, 'unauthenticated', 'unknown token');
	const junk = new Client(srv, { cookie: 'not a token' });
	assertError(await junk.get('/api/v1/session'), 401, 'unauthenticated', 'malformed token');
});

test('state-changing cookie requests need the API origin', async () => {
	const before = (await allDevices(admin)).length;
	const noOrigin = new Client(srv, { cookie: admin.cookie, origin: null });
	const evil = new Client(srv, { cookie: admin.cookie, origin: 'https://evil.example' });
	const plain = new Client(srv, { cookie: admin.cookie, origin: `http://127.0.0.1:${srv.port}` });
	const otherPort = new Client(srv, { cookie: admin.cookie, origin: `https://127.0.0.1:${srv.port + 1}` });
	for (const [c, what] of [[noOrigin, 'no Origin'], [evil, 'foreign Origin'], [plain, 'http Origin'],
		[otherPort, 'other port']]) {
		assertError(await c.post('/api/v1/devices', lorawanBody()), 403, 'cross_origin_rejected', `POST, ${what}`);
		assertError(await c.del('/api/v1/session'), 403, 'cross_origin_rejected', `logout, ${what}`);
		// reads are not state-changing
		assertStatus(await c.get('/api/v1/devices'), 200, `GET, ${what}`);
	}
	assert.equal((await allDevices(admin)).length, before, 'nothing created');
	const ok = await admin.post('/api/v1/devices', lorawanBody());
	assertStatus(ok, 201, 'POST with Origin https://127.0.0.1:PORT');
	// the session survived the rejected logouts
	assertStatus(await admin.get('/api/v1/session'), 200, 'whoami after rejected logouts');
});

test('logout ends the session server-side and clears the cookie', async () => {
	const { client } = await srv.login('t1', 'admin', srv.adminPassword);
	assertStatus(await client.get('/api/v1/session'), 200, 'whoami');
	const res = await client.del('/api/v1/session');
	assertStatus(res, 204, 'logout');
	const cleared = res.cookies.find((c) => c.name === COOKIE_NAME);
	assert.ok(cleared, 'logout sets the cookie');
	assert.equal(cleared.value, '');
	assert.equal(cleared.attrs['max-age'], '0');
	assertError(await client.get('/api/v1/session'), 401, 'unauthenticated', 'whoami after logout');
	assertError(await client.del('/api/v1/session'), 401, 'unauthenticated', 'second logout');
});

test('password suggestion is a policy-passing passphrase', async () => {
	const res = await srv.anon().get('/api/v1/password/suggestion');
	assertStatus(res, 200, 'suggestion');
	assert.ok(res.body.passphrase.length >= 15);
	assert.equal(res.headers['cache-control'], 'no-store');
	const created = await admin.post('/api/v1/users', { name: 'suggested', role: 'viewer', password: res.body.passphrase });
	assertStatus(created, 201, 'user with the suggested password');
});

test('password change: wrong current, weak new, success ends the other sessions', async () => {
	const pw1 = (await srv.anon().get('/api/v1/password/suggestion')).body.passphrase;
	const pw2 = (await srv.anon().get('/api/v1/password/suggestion')).body.passphrase;
	assertStatus(await admin.post('/api/v1/users', { name: 'carol', role: 'operator', password: pw1 }), 201, 'create carol');
	const a = (await srv.login('t1', 'carol', pw1)).client;
	const b = (await srv.login('t1', 'carol', pw1)).client;
	assert.ok(a && b, 'carol logs in twice');

	let res = await a.post('/api/v1/session/password', { current: 'wrong-current-password', new: pw2 });
	assertError(res, 403, 'forbidden', 'wrong current password');
	res = await a.post('/api/v1/session/password', { current: pw1, new: 'short' });
	assertError(res, 422, 'weak_password', 'too short');
	assert.ok(res.body.error.fields.some((f) => f.field === 'new'));
	// a password from the common-password list the server uses
	const common = commonLongPassword();
	if (common) {
		res = await a.post('/api/v1/session/password', { current: pw1, new: common });
		assertError(res, 422, 'weak_password', 'common password');
	}
	res = await a.post('/api/v1/session/password', { current: pw1, new: pw2 });
	assertStatus(res, 204, 'password change');
	assertStatus(await a.get('/api/v1/session'), 200, 'the changing session lives on');
	assertError(await b.get('/api/v1/session'), 401, 'unauthenticated', 'the other session ended');
	assert.equal((await srv.login('t1', 'carol', pw1)).client, null, 'old password refused');
	assert.ok((await srv.login('t1', 'carol', pw2)).client, 'new password works');
	// API keys cannot change passwords (users only)
	const key = await admin.post('/api/v1/apikeys', { name: 'pw-test', role: 'admin' });
	assertStatus(key, 201, 'API key');
	assertError(await srv.bearer(key.body.key).post('/api/v1/session/password', { current: pw2, new: pw1 }),
		403, 'forbidden', 'password change with an API key');
});

test('every login success and failure is audited with the source address', async () => {
	const res = await admin.get('/api/v1/audit?action=session.login&limit=1000');
	assertStatus(res, 200, 'audit');
	const recs = res.body.records;
	assert.ok(recs.some((r) => r.outcome === 'success'), 'a success');
	assert.ok(recs.some((r) => r.outcome === 'failure'), 'a failure');
	for (const r of recs) assert.equal(r.source, '127.0.0.1', 'source address');
	assertStatus(await admin.get('/api/v1/audit?action=session.logout'), 200, 'logout records');
});

// The first entry of at least 15 characters of the configured common list.
function commonLongPassword() {
	const conf = fs.readFileSync(`${srv.dir}/iotvault.conf`, 'utf8');
	const m = conf.match(/^common_passwords = (.*)$/m);
	if (!m || !fs.existsSync(m[1])) return null;
	return fs.readFileSync(m[1], 'utf8').split('\n').find((l) => [...l].length >= 15 && [...l].length <= 128) || null;
}
