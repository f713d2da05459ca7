#!/usr/bin/env bash
# Signed HTTPS webhooks end to end: a real HTTPS receiver (python3
# http.server + ssl, certificate from a test CA that [webhooks] ca_file
# trusts) and the real `iotvault serve`. Checks that
#  - POST /api/v1/webhooks takes https URLs only, shows the secret once,
#    needs a signed-in admin; GET never shows the secret; DELETE works;
#  - every request carries X-Iotvault-Timestamp and a v1 signature that the
#    receiver verifies with the secret, within the 5-minute window;
#  - events are filtered per endpoint; messages arrive in order;
#  - a receiver answering 500 gets the same message again after 1 s, 2 s,
#    4 s (back-off, capped by retry_max_s) and later messages wait behind it;
#  - a tampered body, a wrong secret or a stale timestamp fail verification;
#  - no secret or body reaches the log.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/outbox_lib.sh"

make_pki "$T/pki"
mkdir -p "$T/rx"
RPORT="$(free_port)" || fail "no free port for the receiver"

# The receiver: verifies each request against the secret of its path
# ($T/rx/<path>.secret), answers 500 while $T/rx/<path>.fail holds a
# positive count, and records one JSON line per request in $T/rx/log.jsonl.
cat >"$T/rx/verify.py" <<'PY'
import hashlib, hmac, time

WINDOW_S = 300

def verify(secret, ts_header, sig_header, body, now=None):
    """The receiver's check from docs/integrations.md."""
    now = time.time() if now is None else now
    try:
        ts = int(ts_header)
    except (TypeError, ValueError):
        return False, False
    if not sig_header or not sig_header.startswith("v1="):
        return False, False
    mac = hmac.new(secret.encode(), str(ts).encode() + b"." + body, hashlib.sha256).hexdigest()
    valid = hmac.compare_digest(mac, sig_header[3:])
    fresh = abs(now - ts) <= WINDOW_S
    return valid, fresh
PY
cat >"$T/rx/receiver.py" <<'PY'
import http.server, json, os, ssl, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from verify import verify

DIR = os.path.dirname(os.path.abspath(__file__))

class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        name = self.path.strip("/")
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            with open(os.path.join(DIR, name + ".secret")) as f:
                secret = f.read().strip()
        except OSError:
            secret = ""
        ts, sig = self.headers.get("X-Iotvault-Timestamp"), self.headers.get("X-Iotvault-Signature")
        valid, fresh = verify(secret, ts, sig, body) if secret else (False, False)
        status = 200
        fail_path = os.path.join(DIR, name + ".fail")
        if os.path.exists(fail_path):
            with open(fail_path) as f:
                left = int(f.read().strip() or "0")
            if left > 0:
                status = 500
                with open(fail_path, "w") as f:
                    f.write(str(left - 1))
        rec = {"path": name, "status": status, "valid": valid, "fresh": fresh, "ts": ts,
               "sig": sig, "event": self.headers.get("X-Iotvault-Event"),
               "delivery": self.headers.get("X-Iotvault-Delivery"),
               "ctype": self.headers.get("Content-Type"), "body": body.decode(), "t": time.time()}
        with open(os.path.join(DIR, "log.jsonl"), "a") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
python3 "$T/rx/receiver.py" "$RPORT" "$T/pki/server.pem" "$T/pki/server.key" 2>"$T/rx/stderr" &
EXTRA_PIDS+=("$!")
wait_port "$RPORT" 10 || fail "the receiver did not start"

D="$T/data"
init_data "$D"
cat >>"$D/iotvault.conf" <<CONF

[webhooks]
ca_file = $T/pki/ca.pem
retry_max_s = 4
CONF
start_server "$D"
API="https://127.0.0.1:$PORT"

# api METHOD PATH [JSON-FILE] -> $T/api.out (body), prints the status
api() {
	local args=(-sS -o "$T/api.out" -w '%{http_code}' -k -b "$T/cookies" -c "$T/cookies"
		-H "Origin: $API" -X "$1")
	[[ -n "${3:-}" ]] && args+=(-H "Content-Type: application/json" --data-binary "@$3")
	curl "${args[@]}" "$API$2"
}

# log in as the initial admin; the password goes from its file into a
# request file, never through the command line or the output
python3 - "$D/initial-admin-password" "$T/login.json" <<'PY'
import json, sys
pw = open(sys.argv[1]).read().strip()
json.dump({"tenant": "default", "username": "admin", "password": pw}, open(sys.argv[2], "w"))
PY
assert_eq "$(api POST /api/v1/session "$T/login.json")" 200 "login"
rm -f "$T/login.json"

# ---- the URL rule and the role rule ----
jsonfile() { printf '%s' "$2" >"$T/$1.json"; printf '%s' "$T/$1.json"; }
assert_eq "$(api POST /api/v1/webhooks "$(jsonfile h "{\"url\": \"http://127.0.0.1:$RPORT/hook1\"}")")" 400 "http URL"
assert_eq "$(api POST /api/v1/webhooks "$(jsonfile h "{\"url\": \"https://u:p@127.0.0.1:$RPORT/hook1\"}")")" 400 "URL with credentials"
assert_eq "$(api POST /api/v1/webhooks "$(jsonfile h "{\"url\": \"https://127.0.0.1/x\", \"extra\": 1}")")" 400 "unknown field"
assert_eq "$(api POST /api/v1/apikeys "$(jsonfile k '{"name": "ci", "role": "admin"}')")" 201 "API key"
APIKEY="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' "$T/api.out")"
code="$(curl -sS -o /dev/null -w '%{http_code}' -k -H "Authorization: Bearer $APIKEY" \
	-H 'Content-Type: application/json' --data-binary "{\"url\": \"https://127.0.0.1:$RPORT/x\"}" \
	"$API/api/v1/webhooks")"
assert_eq "$code" 403 "webhook creation with an API key"

# ---- two endpoints; secrets are kept in the receiver's files only ----
create_hook() { # NAME EVENTS-JSON
	local code
	code="$(api POST /api/v1/webhooks "$(jsonfile h "{\"url\": \"https://127.0.0.1:$RPORT/$1\", \"events\": $2}")")"
	assert_eq "$code" 201 "webhook $1 creation"
	python3 - "$T/api.out" "$T/rx/$1.secret" "$T/rx/$1.id" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["secret"]) == 64 and all(c in "0123456789ABCDEF" for c in d["secret"])
open(sys.argv[2], "w").write(d["secret"])
open(sys.argv[3], "w").write(str(d["id"]))
PY
	: >"$T/api.out"
}
create_hook hook1 '["up"]'
create_hook hook2 '["join"]'
SECRET1="$(cat "$T/rx/hook1.secret")"
SECRET2="$(cat "$T/rx/hook2.secret")"
assert_eq "$(api GET /api/v1/webhooks)" 200 "webhook list"
assert_eq "$(json_count "$T/api.out" id url events)" 2 "webhooks listed"
listing="$(cat "$T/api.out")"
assert_not_contains "$listing" "$SECRET1" "webhook list"
assert_not_contains "$listing" '"secret"' "webhook list"
code="$(curl -sS -o /dev/null -w '%{http_code}' -k -H "Authorization: Bearer $APIKEY" "$API/api/v1/webhooks")"
assert_eq "$code" 200 "webhook list with an admin API key"
assert_eq "$(db_query "$D" "select count(*) from audit_log where action = 'webhook.create'")" 2 "audit records"
assert_eq "$(db_query "$D" "select count(*) from secrets where owner_kind = 'webhook'")" 2 "sealed secrets"

# ---- delivery with failures, back-off and order ----
echo 3 >"$T/rx/hook1.fail"
enqueue "$D" default app1 70B3D57ED0000001 up 5 0
enqueue "$D" default app1 70B3D57ED0000001 join 1 0
outbox_empty() { [[ "$(outbox_rows "$D")" == 0 ]]; }
wait_for 40 outbox_empty || fail "the outbox did not drain: $(outbox_rows "$D") left"

python3 - "$T/rx/log.jsonl" "$(cat "$T/rx/hook1.id")" <<'PY' || fail "deliveries do not match"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
def body(dev, ev, seq):
    return ('{"device":"%s","event":"%s","seq":%d,"decoded":{"temperature":%d.5,'
            '"note":"caf\\u00e9 \\"quoted\\""}}') % (dev, ev, seq, seq % 40)
h1 = [r for r in recs if r["path"] == "hook1"]
h2 = [r for r in recs if r["path"] == "hook2"]
errors = []
for r in recs:
    if not (r["valid"] and r["fresh"]):
        errors.append("request %s to %s: signature valid=%s fresh=%s" % (r["delivery"], r["path"], r["valid"], r["fresh"]))
    if r["ctype"] != "application/json":
        errors.append("content type %s" % r["ctype"])
fails = [r for r in h1 if r["status"] == 500]
oks = [r for r in h1 if r["status"] == 200]
if len(fails) != 3 or len({r["delivery"] for r in fails}) != 1 or fails[0]["body"] != body("70B3D57ED0000001", "up", 0):
    errors.append("the first message was not the one retried three times")
gaps = [fails[1]["t"] - fails[0]["t"], fails[2]["t"] - fails[1]["t"], oks[0]["t"] - fails[2]["t"]] if len(fails) == 3 and oks else []
want = [1, 2, 4]
for g, w in zip(gaps, want):
    if not (w - 0.2 <= g <= w + 2.5):
        errors.append("retry gaps %s, expected about %s" % (["%.2f" % x for x in gaps], want))
        break
if [r["body"] for r in oks] != [body("70B3D57ED0000001", "up", i) for i in range(5)]:
    errors.append("hook1 did not get up 0..4 exactly once in order")
if [r["event"] for r in oks] != ["up"] * 5:
    errors.append("X-Iotvault-Event")
ids = [int(r["delivery"]) for r in oks]
if ids != sorted(ids) or len(set(ids)) != 5:
    errors.append("delivery ids not increasing")
if len(h2) != 1 or h2[0]["body"] != body("70B3D57ED0000001", "join", 0) or h2[0]["event"] != "join":
    errors.append("hook2 did not get exactly the one join message")
for e in errors:
    print("  " + e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY
note "3 failures retried after about 1, 2, 4 s; 5 ups in order to hook1, 1 join to hook2; all signed and fresh"

# ---- a forgery is detectable ----
python3 - "$T/rx/log.jsonl" "$T/rx/hook1.secret" "$T/rx/hook2.secret" "$T/rx" <<'PY' || fail "verification accepted a forgery"
import hashlib, hmac, json, sys, time
sys.path.insert(0, sys.argv[4])
from verify import verify
rec = [json.loads(l) for l in open(sys.argv[1]) if '"hook1"' in l and '"status": 200' in l][0]
s1, s2 = open(sys.argv[2]).read().strip(), open(sys.argv[3]).read().strip()
b = rec["body"].encode()
assert verify(s1, rec["ts"], rec["sig"], b, now=int(rec["ts"])) == (True, True)
assert verify(s1, rec["ts"], rec["sig"], b.replace(b'"seq":', b'"seq":1'), now=int(rec["ts"]))[0] is False
assert verify(s2, rec["ts"], rec["sig"], b, now=int(rec["ts"]))[0] is False
assert verify(s1, str(int(rec["ts"]) + 1), rec["sig"], b, now=int(rec["ts"]))[0] is False
assert verify(s1, rec["ts"], "v1=" + "0" * 64, b)[0] is False
# a captured request replayed ten minutes later: signature fine, too old
assert verify(s1, rec["ts"], rec["sig"], b, now=int(rec["ts"]) + 600) == (True, False)
PY
note "tampered body, wrong secret, shifted timestamp and stale replay are all rejected"

# ---- delete ----
H2="$(cat "$T/rx/hook2.id")"
assert_eq "$(api DELETE "/api/v1/webhooks/$H2")" 204 "webhook delete"
assert_eq "$(api DELETE "/api/v1/webhooks/$H2")" 404 "webhook delete again"
assert_eq "$(api GET /api/v1/webhooks)" 200 "webhook list"
assert_eq "$(json_count "$T/api.out" id url)" 1 "webhooks listed after delete"
assert_eq "$(db_query "$D" "select count(*) from secrets where owner_kind = 'webhook'")" 1 "sealed secrets after delete"

stop_server
log="$(server_log "$D")"
assert_contains "$log" "answered 500" "server log"
assert_not_contains "$log" "$SECRET1" "server log"
assert_not_contains "$log" "$SECRET2" "server log"
assert_not_contains "$log" "quoted" "server log (message bodies)"
pass
