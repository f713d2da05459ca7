// Brute-force protection and the second factor, end to end:
// - a scripted guessing run against one account: the limit of failed
//   attempts per hour holds (429, even for the right password), every
//   attempt is audited with its source address, and the legitimate user
//   logs in again once an admin unlocks the account;
// - TOTP: enrolment, login needing the code, each code usable once.
// The throttle delay is set to 0 so the run is fast; the limit is the real one.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { Server, assertError, assertStatus } from './harness.mjs';

const srv = new Server();
let admin;
const LIMIT = 100; // [auth] max_failures_per_account_hour (OWASP ASVS 2.2.1)

function base32Decode(s) {
	const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
	let bits = 0, value = 0;
	const out = [];
	for (const ch of s.replace(/=+$/, '').toUpperCase()) {
		const i = alphabet.indexOf(ch);
		if (i < 0) throw new Error('bad base32');
		value = (value << 5) | i;
		bits += 5;
		if (bits >= 8) {
			out.push((value >>> (bits - 8)) & 0xff);
			bits -= 8;
		}
	}
	return Buffer.from(out);
}

// RFC 6238 TOTP (SHA-1, 6 digits, 30 s), computed independently of the server.
function totp(secret, t = Date.now()) {
	const step = Math.floor(t / 1000 / 30);
	const msg = Buffer.alloc(8);
	msg.writeBigUInt64BE(BigInt(step));
	const h = crypto.createHmac('sha1', secret).update(msg).digest();
	const o = h[h.length - 1] & 0x0f;
	const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
	return String(n % 1000000).padStart(6, '0');
}

async function createUser(name, role) {
	const password = `correct horse ${crypto.randomBytes(6).toString('hex')} staple`;
	const res = await admin.post('/api/v1/users', { name, role, password });
	assertStatus(res, 201, `create ${name}`);
	return { id: res.body.id, password };
}

before(async () => {
	await srv.start({ config: { auth: { throttle_base_ms: 0, throttle_max_ms: 0 } } });
	admin = await srv.loginAdmin();
});

after(async () => {
	await srv.stop();
});

test('guessing run: the per-account limit holds, then an admin unlock lets the user in', async () => {
	const victim = await createUser('victim', 'operator');
	for (let i = 0; i < LIMIT; i++) {
		const res = await srv.anon().post('/api/v1/session',
			{ tenant: 't1', username: 'victim', password: `guess number ${i} wrong` });
		assertError(res, 401, 'unauthenticated', `guess ${i}`);
		// the same generic message for every failure
		assert.equal(res.body.error.message, 'invalid credentials');
	}
	// the limit is reached: even the right password is refused now
	for (const password of ['guess number 101 wrong', victim.password]) {
		const res = await srv.anon().post('/api/v1/session', { tenant: 't1', username: 'victim', password });
		assertError(res, 429, 'too_many_requests', 'over the limit');
	}
	// an unknown account is throttled exactly like a real one
	for (let i = 0; i < LIMIT; i++)
		await srv.anon().post('/api/v1/session', { tenant: 't1', username: 'nobody', password: `guess number ${i} wrong` });
	const ghost = await srv.anon().post('/api/v1/session', { tenant: 't1', username: 'nobody', password: 'another guess here' });
	assertError(ghost, 429, 'too_many_requests', 'unknown account over the limit');

	// every attempt is in the audit log with the source address
	const audit = await admin.get('/api/v1/audit?action=session.login&limit=1000');
	assertStatus(audit, 200, 'audit');
	const failures = audit.body.records.filter((r) => r.actor === 'victim' && r.outcome !== 'success');
	assert.ok(failures.length >= LIMIT, `at least ${LIMIT} failed logins audited, got ${failures.length}`);
	assert.ok(failures.every((r) => r.source === '127.0.0.1'), 'source address recorded');

	const unlock = await admin.request('POST', `/api/v1/users/${victim.id}/unlock`);
	assert.ok(unlock.status === 200 || unlock.status === 204, `unlock: ${unlock.status}`);
	const { res, client } = await srv.login('t1', 'victim', victim.password);
	assertStatus(res, 200, 'legitimate login after unlock');
	assert.ok(client);
});

test('TOTP: enrolment, login needs the code, each code is usable once', async () => {
	const u = await createUser('totpuser', 'viewer');
	const { client } = await srv.login('t1', 'totpuser', u.password);
	const start = await client.request('POST', '/api/v1/session/totp');
	assert.ok(start.status === 200 || start.status === 201, `enrol: ${start.status}`);
	const secret = base32Decode(start.body.secret_base32);
	assert.match(start.body.otpauth_uri, /^otpauth:\/\/totp\//);

	// codes may straddle a 30 s step; wait for a fresh step when close to the edge
	const wait = 30000 - (Date.now() % 30000);
	if (wait < 5000) await new Promise((r) => setTimeout(r, wait + 200));
	const code = totp(secret);
	const confirm = await client.post('/api/v1/session/totp/confirm', { code });
	assert.ok(confirm.status === 200 || confirm.status === 204, `confirm: ${confirm.status}`);

	const without = await srv.anon().post('/api/v1/session', { tenant: 't1', username: 'totpuser', password: u.password });
	assertError(without, 401, 'totp_required', 'login without a code');

	// the code used for confirmation cannot be used again
	const reused = await srv.anon().post('/api/v1/session',
		{ tenant: 't1', username: 'totpuser', password: u.password, totp: code });
	assert.equal(reused.status, 401, 'a used code is refused');

	// the next step's code works once
	const next = 30000 - (Date.now() % 30000);
	await new Promise((r) => setTimeout(r, next + 200));
	const fresh = totp(secret);
	const ok = await srv.anon().post('/api/v1/session',
		{ tenant: 't1', username: 'totpuser', password: u.password, totp: fresh });
	assertStatus(ok, 200, 'login with a fresh code');
	const again = await srv.anon().post('/api/v1/session',
		{ tenant: 't1', username: 'totpuser', password: u.password, totp: fresh });
	assert.equal(again.status, 401, 'the same code twice is refused');
});
