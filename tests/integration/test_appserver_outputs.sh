#!/usr/bin/env bash
# The Application Server's outputs end to end (issue 6, "Shown by"): real
# joins through iotvault's join server, uplinks encrypted by lora-packet with
# the session keys those joins issued, posted in ChirpStack v4 and The Things
# Stack shapes to a CayenneLPP device, and delivered by the real
# `iotvault serve` to
#  - a real mosquitto broker over TLS (test CA, user name and password),
#    read back with mosquitto_sub over TLS on the documented topic, and
#  - a real HTTPS webhook receiver (python3 http.server + ssl) that verifies
#    X-Iotvault-Signature as docs/integrations.md tells receivers to.
# A replay, a regression and a malformed event are refused and produce no
# message. Broker outage: mosquitto stopped, 30 uplinks sent, mosquitto
# started again on the same port; every message arrives exactly once, byte
# for byte as queued, in FCnt order per device.
#
# This script makes the PKI, the broker's configuration and the receiver
# (with outbox_lib.sh's helpers); node's test runner
# (tests/node/appserver/outputs.test.mjs) does the rest, starting and
# stopping mosquitto itself. Missing node, lora-packet, mosquitto, openssl,
# python3 or sqlite3 is a failure, not a skip. Nothing secret is printed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/outbox_lib.sh"

NODE_DIR="$IOTVAULT_SRC/tests/node"
for tool in mosquitto mosquitto_sub mosquitto_passwd node timeout; do
	command -v "$tool" >/dev/null || fail "$tool is required (apt-get install mosquitto mosquitto-clients nodejs)"
done
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 18)) || fail "node $node_major is too old; node:test needs 18 or later"
[[ -f "$NODE_DIR/node_modules/lora-packet/package.json" ]] ||
	fail "lora-packet is not installed (npm install --prefix $NODE_DIR)"

# Processes node starts (server, broker, subscriber) are listed here, so
# that they are ended even when node itself is killed by the time limit.
# A listed id is ended only while its command line is still ours (the
# process may be long gone and its id reused).
CHILD_PIDS="$T/children.pids"
: >"$CHILD_PIDS"
# shellcheck disable=SC2317 # called by the EXIT trap
outputs_cleanup() {
	local rc=$? p cmd
	trap - ERR
	set +e
	while read -r p; do
		[[ "$p" =~ ^[0-9]+$ ]] || continue
		cmd="$({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null)"
		[[ "$cmd" == *"$T"* || "$cmd" == *outputs.test.mjs* ]] && kill -KILL "$p" 2>/dev/null
	done <"$CHILD_PIDS"
	(exit "$rc")
	outbox_cleanup
}
trap outputs_cleanup EXIT

make_pki "$T/pki"

# ---- the broker's configuration (node starts and stops mosquitto) ----
broker_config "$T/broker" "$T/pki"

# ---- the webhook receiver ----
# Verifies every request against the secret in $RX/hook.secret (written by
# node once POST /api/v1/webhooks has shown it) with the check of
# docs/integrations.md, and records one JSON line per request in
# $RX/log.jsonl: the verdicts, the headers and the raw body.
RX="$T/rx"
mkdir -p "$RX"
RPORT="$(free_port)" || fail "no free port for the receiver"
cat >"$RX/receiver.py" <<'PY'
import hashlib, hmac, http.server, json, os, ssl, sys, time

DIR = os.path.dirname(os.path.abspath(__file__))
WINDOW_S = 300

def verify(secret, ts_header, sig_header, body):
    try:
        ts = int(ts_header)
    except (TypeError, ValueError):
        return False, False
    if not sig_header or not sig_header.startswith("v1="):
        return False, False
    mac = hmac.new(secret.encode(), str(ts).encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, sig_header[3:]), abs(time.time() - ts) <= WINDOW_S

class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            with open(os.path.join(DIR, "hook.secret")) as f:
                secret = f.read().strip()
        except OSError:
            secret = ""
        ts, sig = self.headers.get("X-Iotvault-Timestamp"), self.headers.get("X-Iotvault-Signature")
        valid, fresh = verify(secret, ts, sig, body) if secret else (False, False)
        rec = {"path": self.path, "valid": valid, "fresh": fresh, "ts": ts, "sig": sig,
               "event": self.headers.get("X-Iotvault-Event"),
               "delivery": self.headers.get("X-Iotvault-Delivery"),
               "ctype": self.headers.get("Content-Type"), "body": body.decode(), "t": time.time()}
        with open(os.path.join(DIR, "log.jsonl"), "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
python3 "$RX/receiver.py" "$RPORT" "$T/pki/server.pem" "$T/pki/server.key" >"$RX/stdout" 2>"$RX/stderr" &
EXTRA_PIDS+=("$!")
wait_port "$RPORT" 10 || fail "the webhook receiver did not start"

# ---- node: joins, uplinks, checks ----
cd "$NODE_DIR" || fail "cannot enter $NODE_DIR"
rc=0
TMPDIR="$T" OUT_CHILD_PIDS="$CHILD_PIDS" OUT_CA="$T/pki/ca.pem" \
	OUT_BROKER_CONF="$B/mosquitto.conf" OUT_BROKER_LOG="$B/mosquitto.log" OUT_MQTT_PORT="$MPORT" \
	OUT_MQTT_PASSWORD="$MQTT_PW" OUT_READER_PASSWORD="$READER_PW" \
	OUT_RX_PORT="$RPORT" OUT_RX_DIR="$RX" \
	timeout -k 5 110 node --test --test-concurrency=1 "$NODE_DIR/appserver/outputs.test.mjs" 2>&1 || rc=$?
((rc == 0)) || fail "node --test exit status $rc"
[[ ! -s "$RX/stderr" ]] || {
	sed 's/^/    /' "$RX/stderr" >&2
	fail "the webhook receiver reported errors"
}
pass
