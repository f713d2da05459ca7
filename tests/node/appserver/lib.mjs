// Helpers shared by the Application Server suites (appserver.test.mjs and
// outputs.test.mjs): the REST API client of a running server, and the
// network-server side of an uplink — frames encrypted by lora-packet, wrapped
// in ChirpStack v4 and The Things Stack event shapes — plus a join through
// iotvault's join server whose session keys the oracle derives itself.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import https from 'node:https';

import { lora, hex, nextDevNonce, joinRequest, joinReq, verifyJoinAns } from '../joinserver/harness.mjs';

export const b64 = (b) => Buffer.from(b).toString('base64');
const le16 = (v) => { const b = Buffer.alloc(2); b.writeUInt16LE(v & 0xffff); return b; };
export const fcntMsb = (fcnt32) => le16(Math.floor(fcnt32 / 65536));

// A request to the API of the server CTX() returns ({ srv, fx }: read at call
// time, since the suites start their server in before()).
export function apiClient(ctx) {
	return function api(method, urlPath, { json, raw, bearer, cookie, headers = {} } = {}) {
		const { srv, fx } = ctx();
		const payload = json !== undefined ? Buffer.from(JSON.stringify(json)) : raw !== undefined ? Buffer.from(raw) : null;
		const h = { Accept: 'application/json', Host: `127.0.0.1:${srv.apiPort}`, ...headers };
		if (payload) { h['Content-Type'] = h['Content-Type'] || 'application/json'; h['Content-Length'] = String(payload.length); }
		if (bearer) h.Authorization = `Bearer ${bearer}`;
		if (cookie) { h.Cookie = `__Host-iotvault_session=${cookie}`; h.Origin = `https://127.0.0.1:${srv.apiPort}`; }
		return new Promise((resolve, reject) => {
			const req = https.request({ host: '127.0.0.1', port: srv.apiPort, method, path: urlPath, headers: h,
				ca: fx.ca, servername: 'localhost' }, (res) => {
				const chunks = [];
				res.on('data', (c) => chunks.push(c));
				res.on('end', () => {
					const text = Buffer.concat(chunks).toString('utf8');
					let body; try { body = JSON.parse(text); } catch { body = undefined; }
					resolve({ status: res.statusCode, headers: res.headers, body, text });
				});
			});
			req.on('error', reject);
			req.end(payload || undefined);
		});
	};
}

// The FRMPayload a device with SESSION sends at FCNT32 on FPORT.
export function encryptUplink(session, fcnt32, fport, plain) {
	const p = lora.fromFields({ MType: 'Unconfirmed Data Up', DevAddr: session.devAddr, FCnt: fcnt32 & 0xffff,
		FPort: fport, payload: plain }, session.appSKey, undefined, undefined, fcntMsb(fcnt32));
	return p.FRMPayload;
}

// A ChirpStack v4 "up" event in end-to-end mode: the AppSKey travels wrapped
// under the AS peer's KEK (KEK_LABEL) in joinServerContext.
export function chirpstackUp(d, kekLabel, fcnt32, fport, plain, extra = {}) {
	const s = d.session;
	return {
		deduplicationId: crypto.randomUUID(), time: new Date().toISOString(),
		deviceInfo: { tenantId: crypto.randomUUID(), tenantName: 'acme', applicationId: crypto.randomUUID(),
			applicationName: 'meters', deviceProfileName: 'p', deviceName: d.name ?? 'device',
			devEui: hex(d.devEui).toLowerCase(), tags: {} },
		devAddr: hex(s.devAddr).toLowerCase(), adr: true, dr: 5, fCnt: fcnt32, fPort: fport, confirmed: false,
		data: b64(encryptUplink(s, fcnt32, fport, plain)),
		rxInfo: [{ gatewayId: '0016c001ff10a235', rssi: -57, snr: 10.5 }],
		txInfo: { frequency: 868100000, modulation: { lora: { bandwidth: 125000, spreadingFactor: 7 } } },
		joinServerContext: { sessionKeyId: s.skid, appSKey: { kekLabel, aesKey: b64(s.envelope) } },
		...extra,
	};
}

// A The Things Stack uplink message with skip_payload_crypto.
export function ttsUp(d, kekLabel, fcnt32, fport, plain) {
	const s = d.session;
	return {
		end_device_ids: { device_id: d.ttsId ?? 'device', application_ids: { application_id: 'meters-app' },
			dev_eui: hex(d.devEui), join_eui: hex(d.joinEui), dev_addr: hex(s.devAddr) },
		correlation_ids: ['as:up:01H0000000000000000000000'], received_at: new Date().toISOString(),
		uplink_message: { session_key_id: b64(Buffer.from(s.skid, 'hex')), f_port: fport, f_cnt: fcnt32,
			frm_payload: b64(encryptUplink(s, fcnt32, fport, plain)),
			app_s_key: { kek_label: kekLabel, encrypted_key: b64(s.envelope) },
			rx_metadata: [{ gateway_ids: { gateway_id: 'gw1' }, rssi: -42 }],
			settings: { data_rate: { lora: { bandwidth: 125000, spreading_factor: 7 } }, frequency: '868100000' } },
	};
}

// A join of device D through iotvault's join server (SRV) as network server
// NS; the oracle derives the session keys and D.session is set from them.
export async function joinDevice(fx, srv, ns, d) {
	const nonce = nextDevNonce(d);
	const req = joinReq(ns, d, joinRequest(d, nonce));
	const res = await srv.post(req, { peer: ns });
	assert.equal(res.status, 200, `JoinReq: HTTP ${res.status}`);
	const keys = verifyJoinAns(fx, ns, d, req, res.body, nonce);
	d.used.push(nonce);
	d.session = { skid: res.body.SessionKeyID, appSKey: keys.AppSKey, devAddr: Buffer.from(req.DevAddr, 'hex'),
		envelope: Buffer.from(res.body.AppSKey.AESKey, 'hex') };
}
