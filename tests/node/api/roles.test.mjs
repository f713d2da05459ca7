// The access matrix: every endpoint x every role (admin, operator, auditor,
// viewer) x both kinds of principal (cookie session of a user, bearer API
// key): 2xx where the role is allowed (docs/openapi.yaml x-roles, checked
// against the issue's role definitions), 403 forbidden where it is not; and
// every object of another tenant answers 404 to an allowed role.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Server, assertError, assertStatus, randHex } from './harness.mjs';

const ROLES = ['admin', 'operator', 'auditor', 'viewer'];
const srv = new Server();
let admin;        // t1 admin (cookie)
let t2admin;      // t2 admin (cookie)
const principals = {}; // role -> {cookie: Client, bearer: Client, password}
const t2 = {};    // ids of tenant t2's objects
let t1TenantId;

before(async () => {
	await srv.start({ tenants: ['t2'], config: { auth: { throttle_base_ms: 10, throttle_max_ms: 100 } } });
	admin = await srv.loginAdmin();
	t1TenantId = (await admin.get('/api/v1/session')).body.tenant_id;
	for (const role of ROLES) {
		const name = `${role}-user`;
		const u = await admin.post('/api/v1/users', { name, role, generate: true });
		assertStatus(u, 201, `create ${role} user`);
		assert.equal(u.headers['cache-control'], 'no-store');
		const { client } = await srv.login('t1', name, u.body.password);
		assert.ok(client, `${role} user logs in`);
		const k = await admin.post('/api/v1/apikeys', { name: `${role}-key`, role });
		assertStatus(k, 201, `create ${role} API key`);
		principals[role] = { cookie: client, bearer: srv.bearer(k.body.key), name, password: u.body.password };
	}
	t2admin = (await srv.login('t2', 'admin', srv.tenantAdmins.t2)).client;
	assert.ok(t2admin, 't2 admin logs in');
	const who = await t2admin.get('/api/v1/session');
	t2.tenant = who.body.tenant_id;
	t2.device = (await t2admin.post('/api/v1/devices', { type: 'lorawan', dev_eui: randHex(8), join_eui: '70B3D57ED0000000' })).body.id;
	t2.user = (await t2admin.post('/api/v1/users', { name: 'eve', role: 'operator', generate: true })).body.id;
	t2.apikey = (await t2admin.post('/api/v1/apikeys', { name: 't2-key', role: 'viewer' })).body.id;
	t2.peer = (await t2admin.post('/api/v1/peers', { type: 'as', name: 't2-as', sender_id: 't2-as', token: 'generate' })).body.id;
	t2.self = who.body.user_id;
	for (const v of Object.values(t2)) assert.ok(Number.isInteger(v), 't2 objects created');
});
after(() => srv.stop());

async function newDevice() {
	const r = await admin.post('/api/v1/devices', { type: 'lorawan', dev_eui: randHex(8), join_eui: '70B3D57ED0000000' });
	assertStatus(r, 201, 'fixture device');
	return r.body.id;
}
async function newUser() {
	const r = await admin.post('/api/v1/users', { name: `u${randHex(4).toLowerCase()}`, role: 'viewer', generate: true });
	assertStatus(r, 201, 'fixture user');
	return r.body.id;
}
async function newPeer() {
	const r = await admin.post('/api/v1/peers', { type: 'as', name: `p${randHex(4)}`, sender_id: `as-${randHex(6)}`, token: 'generate' });
	assertStatus(r, 201, 'fixture peer');
	return r.body.id;
}
async function newLwm2mDevice() {
	const r = await admin.post('/api/v1/devices', { type: 'lwm2m', endpoint: `ep-${randHex(4).toLowerCase()}` });
	assertStatus(r, 201, 'fixture LwM2M device');
	return r.body.id;
}
const lwm2mWrite = (path) => ({ records: [{ path, value: 1 }] });
async function newKey() {
	const r = await admin.post('/api/v1/apikeys', { name: `k${randHex(4)}`, role: 'viewer' });
	assertStatus(r, 201, 'fixture key');
	return r.body.id;
}

// operationId -> how to call it for a principal of ROLE (fresh objects for
// destructive calls), the statuses that mean "allowed", and the path with a
// tenant-t2 object (null when the route has no object id).
const calls = {
	whoami: { req: async () => ['GET', '/api/v1/session'] },
	logout: { req: async (role, kind) => ['DELETE', '/api/v1/session', undefined, kind === 'cookie' ? 'fresh-session' : null], ok: [204] },
	// a body without the fields: the role check passed when the answer is 400
	changePassword: { req: async () => ['POST', '/api/v1/session/password', {}], ok: [400] },
	totpEnrol: { req: async () => ['POST', '/api/v1/session/totp'] },
	totpConfirm: { req: async () => ['POST', '/api/v1/session/totp/confirm', { code: '000000' }], ok: [400, 409] },
	totpDisable: { req: async () => ['DELETE', '/api/v1/session/totp', { code: '000000' }], ok: [400, 409] },
	passwordSuggestion: { req: async () => ['GET', '/api/v1/password/suggestion'] },
	getHealth: { req: async () => ['GET', '/api/v1/health'] },
	listUsers: { req: async () => ['GET', '/api/v1/users'] },
	createUser: { req: async () => ['POST', '/api/v1/users', { name: `n${randHex(4).toLowerCase()}`, role: 'viewer', generate: true }] },
	getUser: { req: async () => ['GET', `/api/v1/users/${await newUser()}`], other: () => `/api/v1/users/${t2.user}` },
	updateUser: { req: async () => ['PATCH', `/api/v1/users/${await newUser()}`, { role: 'auditor' }], other: () => `/api/v1/users/${t2.user}`, otherBody: { role: 'auditor' } },
	deleteUser: { req: async () => ['DELETE', `/api/v1/users/${await newUser()}`], other: () => `/api/v1/users/${t2.user}` },
	unlockUser: { req: async () => ['POST', `/api/v1/users/${await newUser()}/unlock`], other: () => `/api/v1/users/${t2.user}/unlock` },
	listTenants: { req: async () => ['GET', '/api/v1/tenants'] },
	getTenant: { req: async () => ['GET', `/api/v1/tenants/${t1TenantId}`], other: () => `/api/v1/tenants/${t2.tenant}` },
	listDevices: { req: async () => ['GET', '/api/v1/devices'] },
	createDevice: { req: async () => ['POST', '/api/v1/devices', { type: 'lorawan', dev_eui: randHex(8), join_eui: '70B3D57ED0000000' }] },
	getDevice: { req: async () => ['GET', `/api/v1/devices/${await newDevice()}`], other: () => `/api/v1/devices/${t2.device}` },
	updateDevice: { req: async () => ['PATCH', `/api/v1/devices/${await newDevice()}`, { name: 'renamed' }], other: () => `/api/v1/devices/${t2.device}`, otherBody: { name: 'renamed' } },
	deleteDevice: { req: async () => ['DELETE', `/api/v1/devices/${await newDevice()}`], other: () => `/api/v1/devices/${t2.device}` },
	revealDeviceKeys: { req: async () => ['GET', `/api/v1/devices/${await newDevice()}/keys`], other: () => `/api/v1/devices/${t2.device}/keys` },
	listApiKeys: { req: async () => ['GET', '/api/v1/apikeys'] },
	createApiKey: { req: async () => ['POST', '/api/v1/apikeys', { name: `c${randHex(4)}`, role: 'viewer' }] },
	revokeApiKey: { req: async () => ['DELETE', `/api/v1/apikeys/${await newKey()}`], other: () => `/api/v1/apikeys/${t2.apikey}` },
	listAudit: { req: async () => ['GET', '/api/v1/audit'] },
	verifyAudit: { req: async () => ['GET', '/api/v1/audit/verify'] },
	generateKeys: { req: async () => ['POST', '/api/v1/keygen', { type: 'app_key', count: 1 }] },
	hygieneReport: { req: async () => ['GET', '/api/v1/hygiene'] },
	importDevices: { req: async () => ['POST', '/api/v1/devices/import', [{ type: 'lorawan', dev_eui: randHex(8), join_eui: '70B3D57ED0000000' }]], ok: [201] },
	// no recipient key: the role check passed when the answer is 400
	exportDevices: { req: async () => ['POST', '/api/v1/devices/export', { format: 'tts-csv' }], ok: [400] },
	listUplinks: { req: async () => ['GET', `/api/v1/devices/${await newDevice()}/uplinks`], other: () => `/api/v1/devices/${t2.device}/uplinks` },
	getCodec: { req: async () => ['GET', `/api/v1/devices/${await newDevice()}/codec`], other: () => `/api/v1/devices/${t2.device}/codec` },
	setCodec: { req: async () => ['PUT', `/api/v1/devices/${await newDevice()}/codec`, { codec: 'raw' }], other: () => `/api/v1/devices/${t2.device}/codec`, otherBody: { codec: 'raw' } },
	// no session yet: 404 once the role check passed
	postDownlink: { req: async () => ['POST', `/api/v1/devices/${await newDevice()}/downlinks`, { f_port: 1, data: '00' }], ok: [404], other: () => `/api/v1/devices/${t2.device}/downlinks`, otherBody: { f_port: 1, data: '00' } },
	// ingest routes are for API keys: user sessions of allowed roles get 403 from the handler
	ingestChirpstack: { req: async () => ['POST', '/api/v1/ingest/chirpstack?event=status', {}], ok: [204, 403] },
	ingestTts: { req: async () => ['POST', '/api/v1/ingest/tts', { downlink_ack: {} }], ok: [204, 403] },
	ingestNative: { req: async () => ['POST', '/api/v1/ingest/native', { event: 'join', dev_eui: randHex(8), session_key_id: '01' }], ok: [404, 403] },
	getLwm2m: { req: async () => ['GET', `/api/v1/devices/${(await admin.post('/api/v1/devices', { type: 'lwm2m', endpoint: `ep-${randHex(4).toLowerCase()}` })).body.id}/lwm2m`], other: () => `/api/v1/devices/${t2.device}/lwm2m` },
	// DM operations: an LwM2M device that never registered answers 404 once the role check passed
	readLwm2mObject: { req: async () => ['GET', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/3`], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/3` },
	createLwm2mInstance: { req: async () => ['POST', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/9`, lwm2mWrite('/9/0/0')], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/9`, otherBody: lwm2mWrite('/9/0/0') },
	readLwm2mInstance: { req: async () => ['GET', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/3/0`], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/3/0` },
	writeLwm2mInstance: { req: async () => ['PUT', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/3/0`, lwm2mWrite('/3/0/13')], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/3/0`, otherBody: lwm2mWrite('/3/0/13') },
	updateLwm2mInstance: { req: async () => ['POST', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/3/0`, lwm2mWrite('/3/0/13')], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/3/0`, otherBody: lwm2mWrite('/3/0/13') },
	deleteLwm2mInstance: { req: async () => ['DELETE', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/9/0`], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/9/0` },
	readLwm2mResource: { req: async () => ['GET', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/3/0/0`], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/3/0/0` },
	writeLwm2mResource: { req: async () => ['PUT', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/3/0/13`, lwm2mWrite('/3/0/13')], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/3/0/13`, otherBody: lwm2mWrite('/3/0/13') },
	executeLwm2mResource: { req: async () => ['POST', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/3/0/4/execute`], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/3/0/4/execute` },
	// no CA is ever set here: 404 (get, delete) and 400 (a body that is no PEM) pass the role check
	getLwm2mCa: { req: async () => ['GET', `/api/v1/tenants/${t1TenantId}/lwm2m-ca`], ok: [404], other: () => `/api/v1/tenants/${t2.tenant}/lwm2m-ca` },
	putLwm2mCa: { req: async () => ['PUT', `/api/v1/tenants/${t1TenantId}/lwm2m-ca`, { certificate: 'x' }], ok: [400], other: () => `/api/v1/tenants/${t2.tenant}/lwm2m-ca`, otherBody: { certificate: 'x' } },
	deleteLwm2mCa: { req: async () => ['DELETE', `/api/v1/tenants/${t1TenantId}/lwm2m-ca`], ok: [404], other: () => `/api/v1/tenants/${t2.tenant}/lwm2m-ca` },
	getLwm2mSecurity: { req: async () => ['GET', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m-security`], other: () => `/api/v1/devices/${t2.device}/lwm2m-security` },
	putLwm2mSecurity: { req: async () => ['PUT', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m-security`, { mode: 'psk' }], other: () => `/api/v1/devices/${t2.device}/lwm2m-security`, otherBody: { mode: 'psk' } },
	rebootstrapLwm2mDevice: { req: async () => ['POST', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/rebootstrap`], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/rebootstrap` },
	// firmware: a JSON body is 415 and unknown ids 404 once the role check passed
	listLwm2mFirmware: { req: async () => ['GET', '/api/v1/lwm2m/firmware'] },
	uploadLwm2mFirmware: { req: async () => ['POST', '/api/v1/lwm2m/firmware?name=fw&version=1', {}], ok: [415] },
	getLwm2mFirmware: { req: async () => ['GET', '/api/v1/lwm2m/firmware/999999'], ok: [404] },
	deleteLwm2mFirmware: { req: async () => ['DELETE', '/api/v1/lwm2m/firmware/999999'], ok: [404] },
	listLwm2mFirmwareJobs: { req: async () => ['GET', '/api/v1/lwm2m/firmware-jobs'] },
	startLwm2mFirmwareJob: { req: async () => ['POST', '/api/v1/lwm2m/firmware-jobs', {}], ok: [400] },
	getLwm2mFirmwareJob: { req: async () => ['GET', '/api/v1/lwm2m/firmware-jobs/999999'], ok: [404] },
	discoverLwm2mObject: { req: async () => ['GET', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/3/discover`], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/3/discover` },
	discoverLwm2mInstance: { req: async () => ['GET', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/3/0/discover`], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/3/0/discover` },
	discoverLwm2mResource: { req: async () => ['GET', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/3/0/9/discover`], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/3/0/9/discover` },
	writeLwm2mAttributesObject: { req: async () => ['PUT', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/3/attributes`, { pmin: 1 }], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/3/attributes`, otherBody: { pmin: 1 } },
	writeLwm2mAttributesInstance: { req: async () => ['PUT', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/3/0/attributes`, { pmin: 1 }], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/3/0/attributes`, otherBody: { pmin: 1 } },
	writeLwm2mAttributesResource: { req: async () => ['PUT', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/3/0/9/attributes`, { pmin: 1 }], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/3/0/9/attributes`, otherBody: { pmin: 1 } },
	observeLwm2mObject: { req: async () => ['POST', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/3/observe`], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/3/observe` },
	observeLwm2mInstance: { req: async () => ['POST', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/3/0/observe`], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/3/0/observe` },
	observeLwm2mResource: { req: async () => ['POST', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/3/0/9/observe`], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/3/0/9/observe` },
	listLwm2mObservations: { req: async () => ['GET', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/observations`], other: () => `/api/v1/devices/${t2.device}/lwm2m/observations` },
	// no such observation or held request: 404 once the role check passed
	cancelLwm2mObservation: { req: async () => ['DELETE', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/observations/1`], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/observations/1` },
	listLwm2mNotifications: { req: async () => ['GET', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/notifications`], other: () => `/api/v1/devices/${t2.device}/lwm2m/notifications` },
	getLwm2mHeldRequest: { req: async () => ['GET', `/api/v1/devices/${await newLwm2mDevice()}/lwm2m/requests/1`], ok: [404], other: () => `/api/v1/devices/${t2.device}/lwm2m/requests/1` },
	listWebhooks: { req: async () => ['GET', '/api/v1/webhooks'] },
	createWebhook: { req: async () => ['POST', '/api/v1/webhooks', { url: `https://hooks.example.com/${randHex(4)}` }] },
	deleteWebhook: { req: async () => ['DELETE', `/api/v1/webhooks/${(await admin.post('/api/v1/webhooks', { url: 'https://hooks.example.com/d' })).body.id}`] },
	listPeers: { req: async () => ['GET', '/api/v1/peers'] },
	createPeer: { req: async () => ['POST', '/api/v1/peers', { type: 'as', name: `c${randHex(4)}`, sender_id: `as-${randHex(6)}`, token: 'generate' }] },
	getPeer: { req: async () => ['GET', `/api/v1/peers/${await newPeer()}`], other: () => `/api/v1/peers/${t2.peer}` },
	deletePeer: { req: async () => ['DELETE', `/api/v1/peers/${await newPeer()}`], other: () => `/api/v1/peers/${t2.peer}` },
	setJoinSettings: { req: async () => ['PUT', `/api/v1/devices/${await newDevice()}/join-settings`, { home_net_id: '000013' }], other: () => `/api/v1/devices/${t2.device}/join-settings`, otherBody: { home_net_id: '000013' } },
	resetNonces: { req: async () => ['POST', `/api/v1/devices/${await newDevice()}/reset-nonces`], ok: [204], other: () => `/api/v1/devices/${t2.device}/reset-nonces` },
	login: null, // public; covered by session.test.mjs
};

function operations() {
	const ops = [];
	for (const [p, item] of Object.entries(srv.spec.doc.paths))
		for (const [m, op] of Object.entries(item))
			if (m !== 'parameters') ops.push({ path: p, method: m.toUpperCase(), op });
	return ops;
}

test('the documented roles are the issue\'s roles', () => {
	const roles = Object.fromEntries(operations().map((o) => [o.op.operationId, o.op['x-roles']]));
	const can = (role, id) => roles[id].length === 0 || roles[id].includes(role);
	// admin: users, settings, keys
	for (const id of ['listUsers', 'createUser', 'updateUser', 'deleteUser', 'createApiKey', 'revokeApiKey', 'revealDeviceKeys'])
		assert.ok(can('admin', id) && !can('viewer', id) && !can('auditor', id), id);
	// operator: devices and reveal, but no users or API keys
	for (const id of ['createDevice', 'updateDevice', 'deleteDevice', 'revealDeviceKeys']) assert.ok(can('operator', id), id);
	for (const id of ['listUsers', 'createUser', 'createApiKey', 'listAudit']) assert.ok(!can('operator', id), id);
	// auditor: the audit log, no keys
	for (const id of ['listAudit', 'verifyAudit']) assert.ok(can('auditor', id) && !can('viewer', id), id);
	assert.ok(!can('auditor', 'revealDeviceKeys'));
	// viewer: device metadata only
	for (const id of ['listDevices', 'getDevice']) assert.ok(can('viewer', id), id);
	for (const id of ['createDevice', 'updateDevice', 'deleteDevice', 'revealDeviceKeys', 'listAudit'])
		assert.ok(!can('viewer', id), id);
});

test('role x endpoint x principal kind: allowed or 403', async () => {
	const failures = [];
	for (const { path: p, method, op } of operations()) {
		const call = calls[op.operationId];
		if (call === null) continue;
		assert.ok(call, `the matrix covers ${op.operationId}`);
		for (const role of ROLES)
			for (const kind of ['cookie', 'bearer']) {
				const isPublic = op['x-roles'].length === 0;
				const allowed = isPublic || (op['x-roles'].includes(role) && !(kind === 'bearer' && op['x-users-only']));
				const [m, urlPath, body, special] = await call.req(role, kind);
				assert.equal(m, method, `${op.operationId}: method`);
				let client = principals[role][kind];
				if (special === 'fresh-session')
					client = (await srv.login('t1', principals[role].name, principals[role].password)).client;
				const res = await client.request(m, urlPath, body !== undefined ? { json: body } : {});
				const okStatuses = call.ok || [200, 201, 204];
				const good = allowed ? okStatuses.includes(res.status) : res.status === 403 && res.body?.error?.code === 'forbidden';
				if (!good)
					failures.push(`${m} ${p} as ${role} (${kind}): got ${res.status} ${res.body?.error?.code ?? ''}, expected ${allowed ? okStatuses.join('/') : '403 forbidden'}`);
			}
	}
	assert.deepEqual(failures, []);
});

test('objects of another tenant: 404 for allowed roles, 403 for the others', async () => {
	const failures = [];
	for (const { path: p, method, op } of operations()) {
		const call = calls[op.operationId];
		if (!call || !call.other) continue;
		for (const role of ROLES)
			for (const kind of ['cookie', 'bearer']) {
				const allowed = op['x-roles'].includes(role) && !(kind === 'bearer' && op['x-users-only']);
				const res = await principals[role][kind].request(method, call.other(), call.otherBody ? { json: call.otherBody } : {});
				const want = allowed ? [404, 'not_found'] : [403, 'forbidden'];
				if (res.status !== want[0] || res.body?.error?.code !== want[1])
					failures.push(`${method} ${p} (t2 object) as ${role} (${kind}): got ${res.status} ${res.body?.error?.code ?? ''}, expected ${want.join(' ')}`);
			}
	}
	assert.deepEqual(failures, []);
	// t2's objects are intact and visible to t2 only
	assertStatus(await t2admin.get(`/api/v1/devices/${t2.device}`), 200, 't2 device');
	assertStatus(await t2admin.get(`/api/v1/users/${t2.user}`), 200, 't2 user');
	assert.ok((await t2admin.get('/api/v1/apikeys')).body.apikeys.some((k) => k.id === t2.apikey && !k.revoked));
	const t1list = (await admin.get('/api/v1/devices?limit=1000')).body.devices.map((d) => d.id);
	assert.ok(!t1list.includes(t2.device), 't1 does not list t2 devices');
	const t2list = (await t2admin.get('/api/v1/devices?limit=1000')).body.devices.map((d) => d.id);
	assert.deepEqual(t2list, [t2.device], 't2 lists only its own device');
	assertError(await admin.get(`/api/v1/tenants/${t2.tenant}`), 404, 'not_found', 'other tenant');
	assert.deepEqual((await admin.get('/api/v1/tenants')).body.tenants.map((t) => t.name), ['t1']);
	// the same DevEUI may exist in two tenants? at least: t2's audit is not in t1's
	const t1audit = (await admin.get('/api/v1/audit?limit=1000')).body.records;
	assert.ok(!t1audit.some((r) => r.object === `device:${t2.device}` && r.action === 'device.create'), 't1 audit excludes t2');
});

test('a revoked API key and a disabled user are refused', async () => {
	const k = await admin.post('/api/v1/apikeys', { name: 'to-revoke', role: 'operator' });
	const client = srv.bearer(k.body.key);
	assertStatus(await client.get('/api/v1/devices'), 200, 'key works');
	const listed = (await admin.get('/api/v1/apikeys')).body.apikeys.find((x) => x.id === k.body.id);
	assert.ok(listed.last_used_at !== null, 'last-used time recorded');
	assert.equal(JSON.stringify((await admin.get('/api/v1/apikeys')).body).includes(k.body.key), false, 'secret never listed');
	assertStatus(await admin.del(`/api/v1/apikeys/${k.body.id}`), 204, 'revoke');
	assertError(await client.get('/api/v1/devices'), 401, 'unauthenticated', 'revoked key');
	assertError(await admin.del(`/api/v1/apikeys/${k.body.id}`), 404, 'not_found', 'revoke twice');
	// a forged key with a valid id
	const forged = srv.bearer(k.body.key.replace(/_[^_]+$/, '_' + 'A'.repeat(43)));
	assertError(await forged.get('/api/v1/devices'), 401, 'unauthenticated', 'forged key');

	const u = await admin.post('/api/v1/users', { name: 'to-disable', role: 'operator', generate: true });
	const { client: session } = await srv.login('t1', 'to-disable', u.body.password);
	assertStatus(await session.get('/api/v1/session'), 200, 'user works');
	assertStatus(await admin.patch(`/api/v1/users/${u.body.id}`, { disabled: true }), 200, 'disable');
	assertError(await session.get('/api/v1/session'), 401, 'unauthenticated', 'disabled user session');
	assert.equal((await srv.login('t1', 'to-disable', u.body.password)).client, null, 'disabled user cannot log in');
});

test('the last active admin cannot be demoted, disabled or deleted', async () => {
	// t2 has a single admin
	const who = await t2admin.get('/api/v1/session');
	const id = who.body.user_id;
	assertError(await t2admin.patch(`/api/v1/users/${id}`, { role: 'viewer' }), 409, 'refused', 'demote last admin');
	assertError(await t2admin.patch(`/api/v1/users/${id}`, { disabled: true }), 409, 'refused', 'disable last admin');
	assertError(await t2admin.del(`/api/v1/users/${id}`), 409, 'refused', 'delete last admin');
	assertStatus(await t2admin.get('/api/v1/session'), 200, 'still signed in');
});
