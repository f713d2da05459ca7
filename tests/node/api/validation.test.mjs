// Malformed and oversized request bodies: each gets a clear 4xx with
// field-level errors naming the (snake_case) request field, changes nothing
// (device count unchanged), and never crashes the server. docs/openapi.yaml
// must reject the same bodies (the document and the field-spec tables agree).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Server, assertError, assertStatus, allDevices, errorFields, randHex } from './harness.mjs';

const srv = new Server();
let admin;
const JOIN = '70B3D57ED0000000';

before(async () => {
	await srv.start();
	admin = await srv.loginAdmin();
});
after(() => srv.stop());

async function count() { return (await allDevices(admin)).length; }

// [what, body, field the error must name (null: no field-level check), docs must reject]
const cases = [
	['unknown field', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, colour: 'red' }, 'colour'],
	['type missing', { dev_eui: randHex(8), join_eui: JOIN }, 'type'],
	['type not in enum', { type: 'zigbee' }, 'type'],
	['type a number', { type: 7 }, 'type'],
	['name a number', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, name: 12 }, 'name'],
	['name with a control character', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, name: 'a\u0001b' }, 'name'],
	['name too long', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, name: 'n'.repeat(129) }, 'name'],
	['tags not an array', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, tags: 'a,b' }, 'tags'],
	['tag with a space', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, tags: ['a b'] }, 'tags'],
	['too many tags', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, tags: Array.from({ length: 33 }, (_, i) => `t${i}`) }, 'tags'],
	['bad DevEUI (15 digits)', { type: 'lorawan', dev_eui: randHex(8).slice(1), join_eui: JOIN }, 'dev_eui'],
	['bad DevEUI (not hex)', { type: 'lorawan', dev_eui: 'ZZ' + randHex(7), join_eui: JOIN }, 'dev_eui'],
	['DevEUI a number', { type: 'lorawan', dev_eui: 1234, join_eui: JOIN }, 'dev_eui'],
	['bad JoinEUI', { type: 'lorawan', dev_eui: randHex(8), join_eui: '70B3' }, 'join_eui'],
	['bad hex AppKey (31 digits)', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, app_key: randHex(16).slice(1) }, 'app_key'],
	['bad hex AppKey (not hex)', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, app_key: 'G'.repeat(32) }, 'app_key'],
	['AppKey too long', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, app_key: randHex(17) }, 'app_key'],
	['mac_version not in enum', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, mac_version: '1.2' }, 'mac_version'],
	['psk_length a string', { type: 'lwm2m', endpoint: 'ep-v1', psk_length: '16' }, 'psk_length'],
	['psk_length out of range', { type: 'lwm2m', endpoint: 'ep-v2', psk_length: 8 }, 'psk_length'],
	['PSK too short', { type: 'lwm2m', endpoint: 'ep-v3', psk: randHex(8) }, 'psk'],
	['endpoint with a slash', { type: 'lwm2m', endpoint: 'a/b' }, 'endpoint'],
	// required per device type (checked after the field-spec table)
	['LoRaWAN without DevEUI', { type: 'lorawan', join_eui: JOIN }, 'dev_eui', false],
	['LoRaWAN without JoinEUI', { type: 'lorawan', dev_eui: randHex(8) }, 'join_eui', false],
	['LwM2M without endpoint', { type: 'lwm2m' }, 'endpoint', false],
	['NwkKey on LoRaWAN 1.0.3', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, mac_version: '1.0.3', nwk_key: randHex(16) }, 'nwk_key', false],
	['PSK on a LoRaWAN device', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, psk: randHex(16) }, 'psk', false],
	['AppKey on an LwM2M device', { type: 'lwm2m', endpoint: 'ep-v4', app_key: randHex(16) }, 'app_key', false],
];

for (const [what, body, field, docsReject = true] of cases) {
	test(`POST /api/v1/devices, ${what}: 400 naming ${field}, nothing created`, async () => {
		const before = await count();
		const res = await admin.post('/api/v1/devices', body);
		assertError(res, 400, 'invalid_argument', what);
		assert.ok(errorFields(res).includes(field),
			`${what}: field errors ${JSON.stringify(errorFields(res))} should name "${field}"`);
		assert.equal(await count(), before, 'device count unchanged');
		if (docsReject)
			assert.equal(srv.spec.validateRequest('POST', '/api/v1/devices', body).ok, false,
				`${what}: docs/openapi.yaml accepts a body the server refuses`);
		srv.assertAlive();
	});
}

test('the documented example bodies are accepted by the server', async () => {
	const ex = structuredClone(srv.spec.doc.components.schemas.DeviceCreate.example);
	ex.dev_eui = randHex(8);
	ex.app_key = randHex(16);
	assert.equal(srv.spec.validateRequest('POST', '/api/v1/devices', ex).ok, true);
	assertStatus(await admin.post('/api/v1/devices', ex), 201, 'documented example');
});

test('bodies that are not a JSON object', async () => {
	const before = await count();
	const raws = [
		['not JSON', 'type=lorawan'],
		['truncated JSON', '{"type": "lorawan", '],
		['JSON array', JSON.stringify([{ type: 'lorawan' }])],
		['JSON string', '"lorawan"'],
		['JSON null', 'null'],
		['empty body', ''],
		['duplicate keys', '{"type":"lorawan","type":"lwm2m"}'],
		['NUL inside a string', '{"type":"lorawan","name":"a\\u0000b","dev_eui":"' + randHex(8) + '","join_eui":"' + JOIN + '"}'],
		['deeply nested', '['.repeat(5000) + ']'.repeat(5000)],
		['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x74, 0x79, 0x70, 0x65, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
	];
	for (const [what, raw] of raws) {
		const res = await admin.request('POST', '/api/v1/devices', { raw });
		assertError(res, 400, 'invalid_argument', what);
		srv.assertAlive();
	}
	const wrongType = await admin.request('POST', '/api/v1/devices', {
		raw: JSON.stringify({ type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN }),
		headers: { 'Content-Type': 'text/plain' },
	});
	assertError(wrongType, 415, 'unsupported_media_type', 'text/plain');
	assert.equal(await count(), before, 'device count unchanged');
});

test('duplicate DevEUI is 409 naming dev_eui; duplicate endpoint is 409', async () => {
	const eui = randHex(8);
	assertStatus(await admin.post('/api/v1/devices', { type: 'lorawan', dev_eui: eui, join_eui: JOIN }), 201, 'first');
	const before = await count();
	// the same EUI in another spelling
	const dup = await admin.post('/api/v1/devices', { type: 'lorawan', dev_eui: eui.toLowerCase().replace(/(..)(?!$)/g, '$1-'), join_eui: JOIN });
	assertError(dup, 409, 'already_exists', 'duplicate DevEUI');
	assert.ok(errorFields(dup).includes('dev_eui'), `field errors ${JSON.stringify(errorFields(dup))} should name "dev_eui"`);
	assertStatus(await admin.post('/api/v1/devices', { type: 'lwm2m', endpoint: 'dup-ep' }), 201, 'first lwm2m');
	assertError(await admin.post('/api/v1/devices', { type: 'lwm2m', endpoint: 'dup-ep' }), 409, 'already_exists', 'duplicate endpoint');
	assert.equal(await count(), before + 1, 'only the first lwm2m device added');
});

test('PATCH bodies: unknown field, wrong types, bad JoinEUI change nothing', async () => {
	const res = await admin.post('/api/v1/devices', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, name: 'keep', tags: ['keep'] });
	const id = res.body.id;
	const bad = [
		[{ name: 5 }, 'name'], [{ tags: 'x' }, 'tags'], [{ join_eui: 'nope' }, 'join_eui'],
		[{ colour: 'red' }, 'colour'], [{ name: 'ok', type: 'lwm2m' }, 'type'],
	];
	for (const [body, field] of bad) {
		const r = await admin.patch(`/api/v1/devices/${id}`, body);
		assertError(r, 400, 'invalid_argument', `patch ${field}`);
		assert.ok(errorFields(r).includes(field), `patch: field errors should name "${field}"`);
	}
	assertError(await admin.request('PATCH', `/api/v1/devices/${id}`, { raw: '[1]' }), 400, 'invalid_argument', 'patch array');
	const got = await admin.get(`/api/v1/devices/${id}`);
	assert.equal(got.body.name, 'keep');
	assert.deepEqual(got.body.tags, ['keep']);
	assert.equal(got.body.join_eui, JOIN);
});

test('a body above [http] max_body_bytes is 413 and the server carries on', async () => {
	const before = await count();
	const big = JSON.stringify({ type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN, name: 'x'.repeat(1024 * 1024) });
	const res = await admin.request('POST', '/api/v1/devices', { raw: big, validate: false });
	assertError(res, 413, 'too_large', 'oversized body');
	srv.spec.validateResponse('POST', '/api/v1/devices', res);
	srv.assertAlive();
	assertStatus(await admin.get('/api/v1/health'), 200, 'health after 413');
	assert.equal(await count(), before, 'device count unchanged');
});

test('user and API key bodies are validated the same way', async () => {
	let res = await admin.post('/api/v1/users', { name: 'Bad Name', role: 'viewer', generate: true });
	assertError(res, 400, 'invalid_argument', 'user name');
	assert.ok(errorFields(res).includes('name'));
	res = await admin.post('/api/v1/users', { name: 'dave', role: 'root', generate: true });
	assertError(res, 400, 'invalid_argument', 'role');
	assert.ok(errorFields(res).includes('role'));
	res = await admin.post('/api/v1/users', { name: 'dave', role: 'viewer' });
	assertError(res, 400, 'invalid_argument', 'no password');
	assert.ok(errorFields(res).includes('password'));
	res = await admin.post('/api/v1/users', { name: 'dave', role: 'viewer', password: 'too-short' });
	assertError(res, 422, 'weak_password', 'short password');
	res = await admin.post('/api/v1/users', { name: 'dave', role: 'viewer', generate: true, admin: true });
	assertError(res, 400, 'invalid_argument', 'unknown field');
	res = await admin.post('/api/v1/apikeys', { name: 'k1', role: 'superuser' });
	assertError(res, 400, 'invalid_argument', 'API key role');
	res = await admin.post('/api/v1/apikeys', { name: 'has space', role: 'viewer' });
	assertError(res, 400, 'invalid_argument', 'API key name');
	const users = await admin.get('/api/v1/users');
	assert.equal(users.body.users.some((u) => u.name === 'dave'), false, 'no user created');
});

test('headers above [http] max_header_bytes are 431 and the server carries on', async () => {
	const res = await admin.request('GET', '/api/v1/devices', { headers: { 'X-Padding': 'a'.repeat(20000) }, validate: false });
	assert.equal(res.status, 431);
	srv.assertAlive();
	assertStatus(await admin.get('/api/v1/health'), 200, 'health after 431');
});
