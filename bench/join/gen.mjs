// bench/join set-up: adds LoRaWAN devices with random root keys to a
// throwaway data directory (through `iotvault device add`, keys passed by
// env:NAME, never on a command line or in a file) and writes pre-built TS002
// JoinReq bodies, one JSON object per line, for bench/join.sh's clients.
//
// Every body carries a JoinRequest with a valid MIC (lora-packet) and a
// DevNonce the device has not used: LoRaWAN 1.0.3 devices draw distinct random
// nonces, 1.0.4 and 1.1 devices count up. Sets are written in the order the
// benchmark runs them, and each set visits the devices round-robin, so a
// device's requests are D bodies apart and its counting nonces arrive in order
// even with many connections in flight. The root keys exist only in this
// process's memory and are dropped when it exits.
//
//   node gen.mjs --bin IOTVAULT --data DIR --tenant T --as-peer NAME
//                --devices D --out DIR --set NAME:NETID:COUNT [--set ...]
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.resolve(here, '../../tests/node/package.json'));
const lora = require('lora-packet');

const args = { set: [] };
for (let i = 2; i < process.argv.length; i += 2) {
	const k = process.argv[i].replace(/^--/, '');
	if (k === 'set') args.set.push(process.argv[i + 1]);
	else args[k] = process.argv[i + 1];
}
for (const k of ['bin', 'data', 'tenant', 'as-peer', 'devices', 'out'])
	if (!args[k]) throw new Error(`gen.mjs: --${k} is required`);
const D = Number(args.devices);

const hex = (b) => Buffer.from(b).toString('hex').toUpperCase();
const be16 = (v) => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; };
// a realistic mix: most fleets are 1.0.3, newer ones 1.0.4 and 1.1
const MIX = ['1.0.3', '1.0.3', '1.0.4', '1.1'];

function run(argv, env) {
	return new Promise((resolve, reject) => {
		const p = spawn(args.bin, argv, { stdio: ['ignore', 'ignore', 'pipe'],
			env: { PATH: process.env.PATH, ...env } });
		let err = '';
		p.stderr.on('data', (d) => { err += d; });
		p.on('error', reject);
		p.on('exit', (code) => (code === 0 ? resolve()
			: reject(new Error(`iotvault ${argv.slice(0, 2).join(' ')} exited ${code}: ${err.trim()}`))));
	});
}

const devices = [];
for (let i = 0; i < D; i++) {
	const mac = MIX[i % MIX.length];
	const devEui = Buffer.concat([Buffer.from('70B3D5', 'hex'), crypto.randomBytes(2), be16(i), Buffer.from([0x01])]);
	devices.push({ mac, devEui, joinEui: Buffer.from('70B3D57ED0000000', 'hex'),
		appKey: crypto.randomBytes(16), nwkKey: mac === '1.1' ? crypto.randomBytes(16) : null,
		next: 1, used: new Set() });
}

const t0 = process.hrtime.bigint();
// two CLI processes at a time: one per CPU; SQLite serialises their writes
let cursor = 0;
async function adder() {
	while (cursor < devices.length) {
		const d = devices[cursor++];
		const argv = ['device', 'add', '--data', args.data, '--tenant', args.tenant, '--type', 'lorawan',
			'--dev-eui', hex(d.devEui), '--join-eui', hex(d.joinEui), '--mac-version', d.mac,
			'--app-key', 'env:BENCH_APP_KEY'];
		const env = { BENCH_APP_KEY: d.appKey.toString('hex') };
		if (d.nwkKey) {
			argv.push('--nwk-key', 'env:BENCH_NWK_KEY');
			env.BENCH_NWK_KEY = d.nwkKey.toString('hex');
		}
		await run(argv, env);
		await run(['device', 'join-settings', '--data', args.data, '--tenant', args.tenant,
			'--dev-eui', hex(d.devEui), '--as-peer', args['as-peer']], {});
	}
}
await Promise.all([adder(), adder()]);
const t1 = process.hrtime.bigint();

function nextNonce(d) {
	if (d.mac === '1.0.4' || d.mac === '1.1') {
		if (d.next > 0xffff) throw new Error('gen.mjs: a device ran out of DevNonces; use more devices');
		return d.next++;
	}
	if (d.used.size >= 0xffff) throw new Error('gen.mjs: a device ran out of DevNonces; use more devices');
	let n;
	do n = crypto.randomInt(65536); while (d.used.has(n));
	d.used.add(n);
	return n;
}

let transaction = crypto.randomInt(1 << 30);
const written = [];
for (const spec of args.set) {
	const [name, netId, countStr] = spec.split(':');
	const count = Number(countStr);
	const fd = fs.openSync(path.join(args.out, `${name}.jsonl`), 'w', 0o600);
	let buf = [];
	for (let j = 0; j < count; j++) {
		const d = devices[j % D];
		const nonce = nextNonce(d);
		const phy = lora.fromFields({ MType: 'Join Request', AppEUI: d.joinEui, DevEUI: d.devEui,
			DevNonce: be16(nonce) }, undefined, undefined, d.nwkKey || d.appKey).getPHYPayload();
		buf.push(JSON.stringify({ ProtocolVersion: '1.1', SenderID: netId, ReceiverID: hex(d.joinEui),
			TransactionID: transaction++ % 0x100000000, MessageType: 'JoinReq', MACVersion: d.mac,
			PHYPayload: hex(phy), DevEUI: hex(d.devEui), DevAddr: hex(crypto.randomBytes(4)),
			DLSettings: '00', RxDelay: 1 }));
		if (buf.length === 4096) { fs.writeSync(fd, buf.join('\n') + '\n'); buf = []; }
	}
	if (buf.length) fs.writeSync(fd, buf.join('\n') + '\n');
	fs.closeSync(fd);
	written.push(`${name}=${count}`);
}
const t2 = process.hrtime.bigint();
const mix = {};
for (const d of devices) mix[d.mac] = (mix[d.mac] || 0) + 1;
console.log(`GEN devices=${D} mix=${Object.entries(mix).map(([k, v]) => `${k}:${v}`).join(',')} ` +
	`add_s=${(Number(t1 - t0) / 1e9).toFixed(1)} bodies_s=${(Number(t2 - t1) / 1e9).toFixed(1)} ${written.join(' ')}`);
