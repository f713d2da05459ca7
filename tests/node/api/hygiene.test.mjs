// Key hygiene over the API: weak and duplicated keys under the reject, flag
// and regenerate policies of POST /api/v1/devices, POST /api/v1/keygen and the
// fleet report GET /api/v1/hygiene. No key material is printed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Server, assertError, assertStatus, randHex } from './harness.mjs';

const srv = new Server();
let admin;
const JOIN = '70B3D57ED0000000';
// the FIPS-197 / RFC 4493 example key: published, in the dictionary
const FIPS = '2B7E151628AED2A6ABF7158809CF4F3C';

before(async () => {
	await srv.start();
	admin = await srv.loginAdmin();
});
after(() => srv.stop());

test('a weak key is refused by default: 422 weak_key, one field error per rule, no key', async () => {
	const res = await admin.post('/api/v1/devices', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, app_key: FIPS });
	assertError(res, 422, 'weak_key', 'weak AppKey');
	const fields = res.body.error.fields;
	assert.ok(fields.some((f) => f.field === 'app_key' && f.code === 'weak_key' && f.rule === 'dictionary.fips197_example'));
	assert.equal(JSON.stringify(res.body).toUpperCase().includes(FIPS), false, 'no key in the error');
	const zeros = await admin.post('/api/v1/devices', { type: 'lwm2m', endpoint: `urn:dev:${randHex(4)}`, psk: '00'.repeat(16) });
	assertError(zeros, 422, 'weak_key', 'all-zero PSK');
	assert.ok(zeros.body.error.fields.some((f) => f.field === 'psk' && f.rule === 'pattern.repeated_byte'));
	assertError(await admin.post('/api/v1/devices', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, app_key: FIPS, key_policy: 'lenient' }),
		400, 'invalid_argument', 'unknown policy');
});

test('flag stores the key with its findings; regenerate replaces it and marks the device', async () => {
	let res = await admin.post('/api/v1/devices', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, app_key: FIPS, key_policy: 'flag' });
	assertStatus(res, 201, 'flag');
	assert.equal(res.body.needs_provisioning, false);
	assert.ok(res.body.findings.some((f) => f.rule === 'dictionary.fips197_example'));
	const got = await admin.get(`/api/v1/devices/${res.body.id}`);
	assert.ok(got.body.findings.length >= 1, 'findings in GET');

	res = await admin.post('/api/v1/devices', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, app_key: FIPS, key_policy: 'regenerate' });
	assertStatus(res, 201, 'regenerate');
	assert.equal(res.body.needs_provisioning, true);
	const keys = await admin.get(`/api/v1/devices/${res.body.id}/keys`);
	assertStatus(keys, 200, 'reveal');
	assert.ok(/^[0-9A-F]{32}$/.test(keys.body.keys.app_key) && keys.body.keys.app_key !== FIPS, 'a new key');
});

test('duplicates within the tenant are refused, then flagged, and grouped in the report', async () => {
	const key = randHex(16);
	const a = await admin.post('/api/v1/devices', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, app_key: key });
	assertStatus(a, 201, 'first');
	const dup = await admin.post('/api/v1/devices', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, app_key: key });
	assertError(dup, 422, 'weak_key', 'duplicate');
	assert.ok(dup.body.error.fields.some((f) => f.rule === 'duplicate.same_tenant'));
	const b = await admin.post('/api/v1/devices', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, app_key: key, key_policy: 'flag' });
	assertStatus(b, 201, 'flagged duplicate');

	const rep = await admin.get('/api/v1/hygiene');
	assertStatus(rep, 200, 'report');
	assert.ok(rep.body.duplicates.groups >= 1);
	assert.ok(rep.body.duplicates.list.some((g) => g.devices.includes(a.body.id) && g.devices.includes(b.body.id)));
	assert.ok(rep.body.rules['dictionary.fips197_example'] >= 1);
	assert.ok(rep.body.score >= 0 && rep.body.score <= 100);
	assert.equal(JSON.stringify(rep.body).includes(key), false, 'no key in the report');
	assertError(await admin.get('/api/v1/hygiene?groups=abc'), 400, 'invalid_argument', 'bad groups');
});

test('keygen: fresh keys, no-store, bounds', async () => {
	let res = await admin.post('/api/v1/keygen', { type: 'app_key', count: 5 });
	assertStatus(res, 200, 'keygen');
	assert.equal(res.headers['cache-control'], 'no-store');
	assert.equal(res.body.keys.length, 5);
	assert.ok(res.body.keys.every((k) => /^[0-9A-F]{32}$/.test(k)));
	assert.equal(new Set(res.body.keys).size, 5);
	res = await admin.post('/api/v1/keygen', { type: 'psk', length: 32 });
	assert.ok(/^[0-9A-F]{64}$/.test(res.body.keys[0]));
	res = await admin.post('/api/v1/keygen', { type: 'psk_identity', prefix: 'acme', count: 2 });
	assert.ok(res.body.keys.every((k) => /^acme-[A-Z2-7]{16}$/.test(k)));
	assertError(await admin.post('/api/v1/keygen', { count: 101 }), 400, 'invalid_argument', 'count');
	assertError(await admin.post('/api/v1/keygen', { type: 'app_key', length: 32 }), 400, 'invalid_argument', 'length');
	assertError(await admin.post('/api/v1/keygen', { type: 'rsa' }), 400, 'invalid_argument', 'type');
});
