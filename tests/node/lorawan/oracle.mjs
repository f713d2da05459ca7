// Independent LoRaWAN oracle: generates random cases and computes every
// expected value with the npm package lora-packet (an implementation iotvault
// did not write), one JSON object per line. The C side
// (tests/unit/test_lorawan.c, run with IOTVAULT_LORAWAN_CASES=<file>) recomputes
// each case with src/lorawan and requires byte-for-byte equality.
//
// Usage: node oracle.mjs [--count N] [--seed S] [--out FILE]
// The keys are random throwaway test keys; they go to the cases file only,
// never to the terminal. The seed is printed so a failing run can be repeated.
//
// Conventions of the case file: hex strings, EUIs / NetID / nonces / DevAddr
// big-endian as humans write them, phy = the PHYPayload on the wire.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import lora from "lora-packet";

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

const count = Number.parseInt(arg("--count", "200"), 10);
const seed = arg("--seed", String(Date.now()));
const outPath = arg("--out", null);

// Deterministic byte stream from the seed (SHA-256 in counter mode), so a
// failing case set can be regenerated exactly.
let counter = 0;
let pool = Buffer.alloc(0);
function bytes(n) {
  while (pool.length < n) {
    const h = createHash("sha256").update(`${seed}:${counter++}`).digest();
    pool = Buffer.concat([pool, h]);
  }
  const out = pool.subarray(0, n);
  pool = pool.subarray(n);
  return Buffer.from(out);
}
function uint(max) { // uniform-enough integer in [0, max)
  return bytes(4).readUInt32BE(0) % max;
}
const hex = (b) => Buffer.from(b).toString("hex");
const be = (value, n) => { // integer -> big-endian Buffer of n bytes
  const b = Buffer.alloc(n);
  for (let i = n - 1; i >= 0; i--) { b[i] = value & 0xff; value = Math.floor(value / 256); }
  return b;
};
const le16 = (v) => { const b = Buffer.alloc(2); b.writeUInt16LE(v & 0xffff); return b; };
const rev = (b) => Buffer.from(b).reverse();

function sessionKeys10(id) {
  const appKey = bytes(16), netId = bytes(3), joinNonce = bytes(3), devNonce = bytes(2);
  const k = lora.generateSessionKeys10(appKey, netId, joinNonce, devNonce);
  return { kind: "session_keys_1_0", id, app_key: hex(appKey), net_id: hex(netId),
    join_nonce: hex(joinNonce), dev_nonce: hex(devNonce),
    nwk_s_key: hex(k.NwkSKey), app_s_key: hex(k.AppSKey) };
}

function sessionKeys11(id) {
  const appKey = bytes(16), nwkKey = bytes(16), joinEui = bytes(8), devEui = bytes(8);
  const joinNonce = bytes(3), devNonce = bytes(2);
  const k = lora.generateSessionKeys11(appKey, nwkKey, joinEui, joinNonce, devNonce);
  const js = lora.generateJSKeys(nwkKey, devEui);
  return { kind: "session_keys_1_1", id, app_key: hex(appKey), nwk_key: hex(nwkKey),
    join_eui: hex(joinEui), dev_eui: hex(devEui), join_nonce: hex(joinNonce), dev_nonce: hex(devNonce),
    f_nwk_s_int_key: hex(k.FNwkSIntKey), s_nwk_s_int_key: hex(k.SNwkSIntKey),
    nwk_s_enc_key: hex(k.NwkSEncKey), app_s_key: hex(k.AppSKey),
    js_int_key: hex(js.JSIntKey), js_enc_key: hex(js.JSEncKey) };
}

function joinRequest(id) {
  const key = bytes(16), joinEui = bytes(8), devEui = bytes(8), devNonce = bytes(2);
  const p = lora.fromFields({ MType: 0, AppEUI: joinEui, DevEUI: devEui, DevNonce: devNonce },
    undefined, undefined, key);
  return { kind: "join_request", id, key: hex(key), join_eui: hex(joinEui), dev_eui: hex(devEui),
    dev_nonce: hex(devNonce), phy: hex(p.getPHYPayload()) };
}

// lora-packet cannot build a RejoinRequest, so the wire layout is assembled
// here (LoRaWAN 1.1 section 6.2.4) and lora-packet parses it and computes the MIC.
function rejoinRequest(id) {
  const type = [0, 1, 2][uint(3)];
  const key = bytes(16), devEui = bytes(8), rjCount = uint(65536);
  const netId = bytes(3), joinEui = bytes(8);
  const wire = Buffer.concat([Buffer.from([0xc0, type]), type === 1 ? rev(joinEui) : rev(netId),
    rev(devEui), le16(rjCount), Buffer.alloc(4)]);
  const p = lora.fromWire(wire);
  const mic = type === 1 ? lora.calculateMIC(p, undefined, key) : lora.calculateMIC(p, key);
  wire.set(mic, wire.length - 4);
  const c = { kind: "rejoin_request", id, key: hex(key), rejoin_type: type, dev_eui: hex(devEui),
    rj_count: rjCount, phy: hex(wire) };
  if (type === 1) c.join_eui = hex(joinEui); else c.net_id = hex(netId);
  return c;
}

function joinAcceptFields(optNeg) {
  const dlSettings = (uint(256) & 0x7f) | (optNeg ? 0x80 : 0);
  return { joinNonce: bytes(3), netId: bytes(3), devAddr: bytes(4), dlSettings,
    rxDelay: uint(16), cflist: uint(2) ? bytes(16) : Buffer.alloc(0) };
}

function joinAccept10(id) {
  const key = bytes(16), f = joinAcceptFields(false);
  const p = lora.fromFields({ MType: 1, AppNonce: f.joinNonce, NetID: f.netId, DevAddr: f.devAddr,
    DLSettings: f.dlSettings, RxDelay: f.rxDelay, CFList: f.cflist }, undefined, undefined, key);
  return { kind: "join_accept_1_0", id, key: hex(key), join_nonce: hex(f.joinNonce),
    net_id: hex(f.netId), dev_addr: hex(f.devAddr), dl_settings: f.dlSettings, rx_delay: f.rxDelay,
    cflist: hex(f.cflist), phy: hex(p.getPHYPayload()) };
}

// 1.1 join-accept: MIC with JSIntKey, encrypted with NwkKey (answer to a
// JoinRequest, JoinReqType 0xFF) or JSEncKey (answer to a rejoin, 0/1/2).
function joinAccept11(id) {
  const nwkKey = bytes(16), devEui = bytes(8), joinEui = bytes(8), devNonce = bytes(2);
  const joinReqType = [0xff, 0xff, 0, 1, 2][uint(5)];
  const js = lora.generateJSKeys(nwkKey, devEui);
  const encKey = joinReqType === 0xff ? nwkKey : js.JSEncKey;
  const f = joinAcceptFields(true);
  const p = lora.fromFields({ MType: 1, AppNonce: f.joinNonce, NetID: f.netId, DevAddr: f.devAddr,
    DLSettings: f.dlSettings, RxDelay: f.rxDelay, CFList: f.cflist,
    JoinReqType: Buffer.from([joinReqType]), AppEUI: joinEui, DevNonce: devNonce },
  undefined, js.JSIntKey, encKey);
  return { kind: "join_accept_1_1", id, nwk_key: hex(nwkKey), dev_eui: hex(devEui),
    join_eui: hex(joinEui), dev_nonce: hex(devNonce), join_req_type: joinReqType,
    join_nonce: hex(f.joinNonce), net_id: hex(f.netId), dev_addr: hex(f.devAddr),
    dl_settings: f.dlSettings, rx_delay: f.rxDelay, cflist: hex(f.cflist),
    phy: hex(p.getPHYPayload()) };
}

// Data frames. lora-packet encrypts FRMPayload in fromFields; the MIC is then
// computed explicitly (fromFields skips it for frames without FPort).
function dataFields(version) {
  const mtype = 2 + uint(4);
  const uplink = mtype === 2 || mtype === 4;
  const fctrl = uint(16) << 4;
  const fcnt32 = uint(4) === 0 ? uint(65536) : uint(0x100000000);
  // An eighth without FPort, an eighth FPort 0 (MAC commands, NwkSKey), the rest 1..255.
  const pick = uint(8);
  let fport = pick === 0 ? -1 : pick === 1 ? 0 : 1 + uint(255);
  if (version === "1.1" && fport === 0) fport = 1 + uint(223);
  const fopts = fport === 0 ? Buffer.alloc(0) : bytes(uint(16));
  const payload = fport < 0 ? Buffer.alloc(0) : bytes(uint(uint(4) === 0 ? 243 - fopts.length : 40));
  return { mtype, uplink, fctrl, fcnt32, fport, fopts, payload, devAddr: bytes(4) };
}

function userFields(d) {
  const u = { MType: d.mtype, DevAddr: d.devAddr, FCnt: d.fcnt32 & 0xffff, FOpts: d.fopts,
    payload: d.payload,
    FCtrl: { ADR: !!(d.fctrl & 0x80), ADRACKReq: !!(d.fctrl & 0x40), ACK: !!(d.fctrl & 0x20),
      FPending: !!(d.fctrl & 0x10) } };
  if (d.fport >= 0) u.FPort = d.fport;
  return u;
}

const fcntMsb = (fcnt32) => le16(Math.floor(fcnt32 / 65536));

function data10(id) {
  const d = dataFields("1.0");
  const appSKey = bytes(16), nwkSKey = bytes(16);
  const p = lora.fromFields(userFields(d), appSKey, d.fport === 0 ? nwkSKey : undefined,
    undefined, fcntMsb(d.fcnt32));
  lora.recalculateMIC(p, nwkSKey, undefined, fcntMsb(d.fcnt32));
  return { kind: "data_1_0", id, mtype: d.mtype, dev_addr: hex(d.devAddr), fctrl: d.fctrl,
    fcnt32: d.fcnt32, fopts: hex(d.fopts), fport: d.fport, payload: hex(d.payload),
    app_s_key: hex(appSKey), nwk_s_key: hex(nwkSKey), phy: hex(p.getPHYPayload()) };
}

function data11(id) {
  const d = dataFields("1.1");
  const appSKey = bytes(16), fKey = bytes(16), sKey = bytes(16);
  const confFCnt = uint(65536), txDr = uint(16), txCh = uint(256);
  const ack = (d.fctrl & 0x20) !== 0;
  const p = lora.fromFields(userFields(d), appSKey, undefined, undefined, fcntMsb(d.fcnt32));
  if (d.uplink) {
    // lora-packet byte-swaps the first two bytes of this buffer (in place)
    // before putting them into B1, so ConfFCnt goes in big-endian.
    const conf = Buffer.concat([be(confFCnt, 2), Buffer.from([txDr, txCh])]);
    lora.recalculateMIC(p, fKey, sKey, fcntMsb(d.fcnt32), conf);
  } else {
    // lora-packet puts ConfFCnt into B0 whatever the ACK bit; the
    // specification wants 0 without ACK, which the C side must apply itself.
    lora.recalculateMIC(p, bytes(16), sKey, fcntMsb(d.fcnt32), le16(ack ? confFCnt : 0));
  }
  const c = { kind: "data_1_1", id, mtype: d.mtype, dev_addr: hex(d.devAddr), fctrl: d.fctrl,
    fcnt32: d.fcnt32, fopts: hex(d.fopts), fport: d.fport, payload: hex(d.payload),
    app_s_key: hex(appSKey), s_nwk_s_int_key: hex(sKey), conf_fcnt: confFCnt,
    phy: hex(p.getPHYPayload()) };
  if (d.uplink) Object.assign(c, { f_nwk_s_int_key: hex(fKey), tx_dr: txDr, tx_ch: txCh });
  return c;
}

// 1.1 FOpts encryption with NwkSEncKey (errata A block).
function fopts11(id) {
  const d = dataFields("1.1");
  if (d.fopts.length === 0) d.fopts = bytes(1 + uint(15));
  const key = bytes(16);
  const p = lora.fromFields(userFields(d), undefined, undefined, undefined, fcntMsb(d.fcnt32));
  const enc = p.encryptFOpts(key, undefined, fcntMsb(d.fcnt32));
  return { kind: "fopts_1_1", id, mtype: d.mtype, dev_addr: hex(d.devAddr), fcnt32: d.fcnt32,
    fport: d.fport, nwk_s_enc_key: hex(key), fopts: hex(d.fopts), fopts_enc: hex(enc) };
}

const generators = [sessionKeys10, sessionKeys11, joinRequest, rejoinRequest, joinAccept10,
  joinAccept11, data10, data11, data10, data11, fopts11];
const lines = [];
for (let i = 0; i < count; i++)
  lines.push(JSON.stringify(generators[i % generators.length](i)));
const text = lines.join("\n") + "\n";
if (outPath) writeFileSync(outPath, text, { mode: 0o600 });
else process.stdout.write(text);
process.stderr.write(`lorawan oracle: ${count} cases, lora-packet ${
  JSON.parse((await import("node:fs")).readFileSync(new URL("../node_modules/lora-packet/package.json",
    import.meta.url))).version}, seed ${seed}\n`);
