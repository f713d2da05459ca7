#!/usr/bin/env bash
# The join server end to end, against an independent oracle (issue 5): node's
# test runner (tests/node/joinserver/joinserver.test.mjs) makes a throwaway
# data directory with network-server peers (client certificate from openssl,
# bearer token) and application-server peers, ~20 LoRaWAN 1.0.3/1.0.4/1.1
# devices with random keys, starts the real `iotvault serve` with its backend
# listener, and checks every JoinAns with lora-packet and node:crypto (RFC 3394
# unwrap), then every refusal with its ResultCode and an unchanged database.
# Prints node's summary; exits non-zero on any failure. Missing node,
# lora-packet, openssl or sqlite3 is a failure, not a skip.
exec bash "$(dirname "${BASH_SOURCE[0]}")/node_suite.sh" test_joinserver joinserver/joinserver.test.mjs
