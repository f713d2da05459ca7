// Devices API: create (LoRaWAN 1.0.x / 1.1, LwM2M), get, list with filters
// and cursor pagination, update, delete, audited key reveal, audit query and
// verification. Revealed keys are compared in memory, never printed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Server, assertError, assertStatus, allDevices, randHex } from './harness.mjs';

const srv = new Server();
let admin;
const JOIN_A = '70B3D57ED0000000';
const JOIN_B = '70B3D57ED00000BB';

before(async () => {
	await srv.start();
	admin = await srv.loginAdmin();
});
after(() => srv.stop());

test('create a LoRaWAN 1.0.3 device with a given AppKey, get it, reveal it', async () => {
	const appKey = randHex(16);
	const devEui = randHex(8);
	const res = await admin.post('/api/v1/devices', {
		type: 'lorawan', name: 'sensor one', tags: ['floor-2', 'temp'], dev_eui: devEui.toLowerCase(),
		join_eui: JOIN_A, mac_version: '1.0.3', app_key: appKey.toLowerCase().replace(/(..)(?!$)/g, '$1:'),
	});
	assertStatus(res, 201, 'create');
	assert.equal(res.body.dev_eui, devEui, 'DevEUI canonical upper case');
	assert.deepEqual(res.body.tags, ['floor-2', 'temp']);
	assert.deepEqual(res.body.generated_keys, []);
	assert.equal(JSON.stringify(res.body).includes(appKey), false, 'no key in the create reply');

	const got = await admin.get(`/api/v1/devices/${res.body.id}`);
	assertStatus(got, 200, 'get');
	assert.equal(got.body.name, 'sensor one');
	assert.equal(got.body.mac_version, '1.0.3');
	assert.equal(JSON.stringify(got.body).toUpperCase().includes(appKey), false, 'no key in get');

	const keys = await admin.get(`/api/v1/devices/${res.body.id}/keys`);
	assertStatus(keys, 200, 'reveal');
	assert.equal(keys.headers['cache-control'], 'no-store');
	assert.deepEqual(Object.keys(keys.body.keys), ['app_key']);
	assert.ok(keys.body.keys.app_key === appKey, 'revealed AppKey matches the one given');
});

test('LoRaWAN 1.1 without keys: AppKey and NwkKey generated, distinct', async () => {
	const res = await admin.post('/api/v1/devices', {
		type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN_A, mac_version: '1.1',
	});
	assertStatus(res, 201, 'create 1.1');
	assert.deepEqual([...res.body.generated_keys].sort(), ['app_key', 'nwk_key']);
	const keys = await admin.get(`/api/v1/devices/${res.body.id}/keys`);
	assertStatus(keys, 200, 'reveal');
	assert.ok(keys.body.keys.app_key !== keys.body.keys.nwk_key, 'two different keys');
});

test('LwM2M device: given PSK, generated PSK of psk_length, psk_identity default', async () => {
	const psk = randHex(32);
	let res = await admin.post('/api/v1/devices', {
		type: 'lwm2m', endpoint: 'urn:dev:ops:acme-0001', psk_identity: 'acme-0001', psk,
		name: 'meter', tags: ['meters'],
	});
	assertStatus(res, 201, 'create lwm2m');
	assert.equal(res.body.endpoint, 'urn:dev:ops:acme-0001');
	assert.equal(res.body.psk_identity, 'acme-0001');
	let keys = await admin.get(`/api/v1/devices/${res.body.id}/keys`);
	assertStatus(keys, 200, 'reveal psk');
	assert.ok(keys.body.keys.psk === psk, 'PSK matches');

	res = await admin.post('/api/v1/devices', { type: 'lwm2m', endpoint: 'acme-0002', psk_length: 24 });
	assertStatus(res, 201, 'create lwm2m, generated psk');
	assert.equal(res.body.psk_identity, 'acme-0002', 'identity defaults to the endpoint');
	assert.deepEqual(res.body.generated_keys, ['psk']);
	keys = await admin.get(`/api/v1/devices/${res.body.id}/keys`);
	assert.equal(keys.body.keys.psk.length, 48, '24 bytes');
});

test('every reveal is in the audit log before the key is returned', async () => {
	const before = (await admin.get('/api/v1/audit?action=key.reveal&limit=1000')).body.records.length;
	const res = await admin.post('/api/v1/devices', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN_A, mac_version: '1.1' });
	assertStatus(res, 201, 'create');
	for (let i = 0; i < 3; i++)
		assertStatus(await admin.get(`/api/v1/devices/${res.body.id}/keys`), 200, 'reveal');
	const audit = await admin.get('/api/v1/audit?action=key.reveal&limit=1000');
	assertStatus(audit, 200, 'audit');
	const recs = audit.body.records;
	// one record per key per reveal: AppKey and NwkKey, three times
	assert.equal(recs.length - before, 6);
	const mine = recs.filter((r) => r.object.startsWith(`device:${res.body.id}/`));
	assert.equal(mine.length, 6);
	for (const r of mine) {
		assert.equal(r.action, 'key.reveal');
		assert.equal(r.actor, 'admin');
		assert.equal(r.source, '127.0.0.1');
		// written before the key is opened: the outcome is the decision
		assert.equal(r.outcome, 'granted');
	}
	// the prefix filter
	const prefix = await admin.get('/api/v1/audit?action=key.*&limit=1000');
	assert.ok(prefix.body.records.length >= recs.length);
	assert.ok(prefix.body.records.every((r) => r.action.startsWith('key.')));
	assertError(await admin.get('/api/v1/audit?action=DROP%20TABLE'), 400, 'invalid_argument', 'bad action filter');
});

test('list: filters by type, tag, q and join_eui', async () => {
	const mk = async (body) => {
		const r = await admin.post('/api/v1/devices', body);
		assertStatus(r, 201, 'create');
		return r.body.id;
	};
	const a = await mk({ type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN_B, name: 'Boiler Room Sensor', tags: ['filter-x', 'b'] });
	const b = await mk({ type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN_B, name: 'attic', tags: ['b'] });
	const c = await mk({ type: 'lwm2m', endpoint: 'filter-ep-1', name: 'boiler meter', tags: ['filter-x'] });
	const ids = async (q) => (await allDevices(admin, q)).map((d) => d.id).sort((x, y) => x - y);

	assert.deepEqual(await ids(`join_eui=${JOIN_B}`), [a, b]);
	assert.deepEqual(await ids(`join_eui=${JOIN_B.toLowerCase()}`), [a, b], 'join_eui any case');
	assert.deepEqual(await ids('tag=filter-x'), [a, c]);
	assert.deepEqual(await ids('tag=filter'), [], 'tags match exactly');
	assert.deepEqual(await ids('q=BOILER'), [a, c], 'q: case-insensitive name substring');
	assert.deepEqual(await ids('tag=filter-x&type=lwm2m'), [c]);
	assert.deepEqual(await ids(`type=lwm2m&join_eui=${JOIN_B}`), []);
	const lw = await allDevices(admin, 'type=lwm2m');
	assert.ok(lw.length >= 1 && lw.every((d) => d.type === 'lwm2m'));

	assertError(await admin.get('/api/v1/devices?type=zigbee'), 400, 'invalid_argument', 'bad type');
	assertError(await admin.get('/api/v1/devices?join_eui=xyz'), 400, 'invalid_argument', 'bad join_eui');
	assertError(await admin.get('/api/v1/devices?limit=0'), 400, 'invalid_argument', 'limit 0');
	assertError(await admin.get('/api/v1/devices?limit=1001'), 400, 'invalid_argument', 'limit 1001');
	assertError(await admin.get('/api/v1/devices?cursor=abc'), 400, 'invalid_argument', 'bad cursor');
	assertError(await admin.get(`/api/v1/devices?tag=${'t'.repeat(65)}`), 400, 'invalid_argument', 'long tag');
});

test('cursor pagination walks more than two pages without gaps or repeats', async () => {
	const tag = 'page-walk';
	const created = [];
	for (let i = 0; i < 7; i++) {
		const r = await admin.post('/api/v1/devices', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN_A, tags: [tag] });
		assertStatus(r, 201, 'create');
		created.push(r.body.id);
	}
	const seen = [];
	let cursor = null;
	let pages = 0;
	do {
		const res = await admin.get(`/api/v1/devices?tag=${tag}&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
		assertStatus(res, 200, 'page');
		assert.ok(res.body.devices.length <= 3);
		seen.push(...res.body.devices.map((d) => d.id));
		cursor = res.body.next_cursor;
		pages++;
	} while (cursor && pages < 10);
	assert.equal(pages, 3, '7 devices at 3 per page: 3 pages');
	assert.deepEqual(seen, created, 'every device once, in id order');
	// default page size and an exact multiple
	const all = await admin.get(`/api/v1/devices?tag=${tag}&limit=7`);
	assert.equal(all.body.devices.length, 7);
	if (all.body.next_cursor !== null) {
		const rest = await admin.get(`/api/v1/devices?tag=${tag}&limit=7&cursor=${all.body.next_cursor}`);
		assert.deepEqual(rest.body, { devices: [], next_cursor: null });
	}
});

test('update name, tags and join_eui; refused fields and types', async () => {
	const res = await admin.post('/api/v1/devices', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN_A, name: 'old', tags: ['x'] });
	const id = res.body.id;
	let up = await admin.patch(`/api/v1/devices/${id}`, { name: 'new name', tags: ['y', 'z'], join_eui: '70-B3-D5-7E-D0-00-00-CC' });
	assertStatus(up, 200, 'patch');
	assert.equal(up.body.name, 'new name');
	assert.deepEqual(up.body.tags, ['y', 'z']);
	assert.equal(up.body.join_eui, '70B3D57ED00000CC');
	assert.ok(up.body.updated_at >= up.body.created_at);
	up = await admin.patch(`/api/v1/devices/${id}`, { tags: [] });
	assertStatus(up, 200, 'clear tags');
	assert.deepEqual(up.body.tags, []);
	assert.equal(up.body.name, 'new name', 'absent fields unchanged');

	assertError(await admin.patch(`/api/v1/devices/${id}`, { dev_eui: randHex(8) }), 400, 'invalid_argument', 'dev_eui is immutable');
	assertError(await admin.patch(`/api/v1/devices/${id}`, { app_key: randHex(16) }), 400, 'invalid_argument', 'keys are not patched');
	const lw = await admin.post('/api/v1/devices', { type: 'lwm2m', endpoint: 'patch-ep' });
	assertError(await admin.patch(`/api/v1/devices/${lw.body.id}`, { join_eui: JOIN_A }), 400, 'invalid_argument', 'join_eui on lwm2m');
	assertError(await admin.patch('/api/v1/devices/999999', { name: 'x' }), 404, 'not_found', 'patch unknown');
	const audit = await admin.get('/api/v1/audit?action=device.update&limit=1000');
	assert.ok(audit.body.records.some((r) => r.object === `device:${id}`), 'device.update audited');
});

test('delete: 204, then 404 for get, keys, patch and delete', async () => {
	const res = await admin.post('/api/v1/devices', { type: 'lorawan', dev_eui: randHex(8), join_eui: JOIN_A });
	const id = res.body.id;
	assertStatus(await admin.del(`/api/v1/devices/${id}`), 204, 'delete');
	assertError(await admin.get(`/api/v1/devices/${id}`), 404, 'not_found', 'get deleted');
	assertError(await admin.get(`/api/v1/devices/${id}/keys`), 404, 'not_found', 'reveal deleted');
	assertError(await admin.patch(`/api/v1/devices/${id}`, { name: 'x' }), 404, 'not_found', 'patch deleted');
	assertError(await admin.del(`/api/v1/devices/${id}`), 404, 'not_found', 'delete twice');
	for (const bad of ['0', '-1', 'abc', '1e3', '99999999999999999999999'])
		assertError(await admin.get(`/api/v1/devices/${bad}`), 404, 'not_found', `id ${bad}`);
	const audit = await admin.get('/api/v1/audit?action=device.delete');
	assert.ok(audit.body.records.some((r) => r.object === `device:${id}`), 'device.delete audited');
});

test('audit pagination and verification', async () => {
	const seen = [];
	let cursor = null;
	let pages = 0;
	do {
		const res = await admin.get(`/api/v1/audit?limit=5${cursor ? `&cursor=${cursor}` : ''}`);
		assertStatus(res, 200, 'audit page');
		seen.push(...res.body.records.map((r) => r.seq));
		cursor = res.body.next_cursor;
		pages++;
	} while (cursor && pages < 200);
	assert.ok(pages > 2, 'more than two pages');
	for (let i = 1; i < seen.length; i++) assert.ok(seen[i] > seen[i - 1], 'ascending, no repeats');
	const v = await admin.get('/api/v1/audit/verify');
	assertStatus(v, 200, 'verify');
	assert.equal(v.body.intact, true);
	assert.ok(v.body.records >= seen.length);
});
