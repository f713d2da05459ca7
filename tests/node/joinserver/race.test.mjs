// Two `iotvault serve` processes on one data directory (one SQLite database,
// separate API and backend ports) receive the same JoinRequest at the same
// moment, round after round with fresh DevNonces: exactly one answers
// Success (checked by the lora-packet oracle) and the other FrameReplayed,
// and each round adds exactly one session row and one DevNonce row.
// The DevNonce rule is enforced by the database, not by either process.
//
// Environment: IOTVAULT_BIN, IOTVAULT_SRC; JS_RACE_ROUNDS (default 21).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Fixture, hex, rand, nextDevNonce, joinRequest, joinReq, verifyJoinAns } from './harness.mjs';

const ROUNDS = Number(process.env.JS_RACE_ROUNDS || 21);
let fx, a, b, ns;

before(async () => {
	fx = new Fixture();
	fx.init();
	const id = rand(3);
	id[0] &= 0x7f;
	ns = fx.addPeer('ns1', 'ns', hex(id), 'cert');
	fx.addPeer('as1', 'as', 'AS-1.IOT', 'token');
	for (const mac of ['1.0.3', '1.0.4', '1.1']) fx.addDevice(mac, { as: 'as1' });
	[a, b] = await Promise.all([fx.serve(), fx.serve()]);
	// TLS handshakes done beforehand, so both requests of a round reach their
	// server at nearly the same time over kept-alive connections
	for (const s of [a, b]) {
		const res = await s.post({ ProtocolVersion: '1.1', SenderID: ns.senderId, ReceiverID: '0000000000000000',
			TransactionID: 0, MessageType: 'HomeNSReq', DevEUI: hex(fx.devices[0].devEui) }, { peer: ns });
		assert.equal(res.status, 200);
	}
});

after(async () => {
	if (fx) await fx.stop();
});

const count = (table) => Number(fx.sql(`select count(*) from ${table}`));

test(`${ROUNDS} rounds of one JoinRequest posted to two servers at once: one Success, one FrameReplayed`, async () => {
	const tally = {};
	for (let round = 0; round < ROUNDS; round++) {
		const d = fx.devices[round % fx.devices.length];
		const nonce = nextDevNonce(d);
		const req = joinReq(ns, d, joinRequest(d, nonce));
		const sessions = count('lorawan_sessions'), nonces = count('dev_nonces');
		const answers = (await Promise.all([a.post(req, { peer: ns }), b.post(req, { peer: ns })])).map((r) => r.body);
		const codes = answers.map((x) => x?.Result?.ResultCode);
		const what = `round ${round} (${d.mac}): ${codes.join(' / ')} ${answers.map((x) => x?.Result?.Description ?? '').join(' / ')}`;
		assert.deepEqual([...codes].sort(), ['FrameReplayed', 'Success'], what);
		const winner = answers[codes.indexOf('Success')];
		verifyJoinAns(fx, ns, d, req, winner, nonce);
		d.used.push(nonce);
		assert.equal(count('lorawan_sessions') - sessions, 1, `${what}: session rows added`);
		assert.equal(count('dev_nonces') - nonces, 1, `${what}: DevNonce rows added`);
		const w = codes[0] === 'Success' ? 'first' : 'second';
		tally[w] = (tally[w] || 0) + 1;
		a.assertAlive();
		b.assertAlive();
	}
	process.stderr.write(`# race winners: ${JSON.stringify(tally)}\n`);
});

test('the two servers share the JoinNonce: a device joining through both alternately never repeats one', async () => {
	const d = fx.devices[1]; // 1.0.4
	const seen = new Set();
	for (let i = 0; i < 6; i++) {
		const nonce = nextDevNonce(d);
		const req = joinReq(ns, d, joinRequest(d, nonce));
		const ans = (await (i % 2 ? b : a).post(req, { peer: ns })).body;
		const { joinNonce } = verifyJoinAns(fx, ns, d, req, ans, nonce);
		assert.ok(!seen.has(joinNonce), `JoinNonce repeated on join ${i}`);
		seen.add(joinNonce);
	}
	// and they increase
	const list = [...seen].map((x) => parseInt(x, 16));
	assert.deepEqual(list, [...list].sort((x, y) => x - y), 'JoinNonces increase');
});
