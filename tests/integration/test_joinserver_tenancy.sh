#!/usr/bin/env bash
# The join-server gaps of issue 5 end to end (tests/node/joinserver/
# tenancy.test.mjs): tenant peers answered only for their tenant's devices,
# client certificates authenticated by a peer's CA (openssl-made CAs), the
# ReceiverID check with the per-peer receiver-unknown code, and the peers,
# join-settings and reset-nonces API calls, every JoinAns checked with
# lora-packet. Missing node, lora-packet, openssl or sqlite3 is a failure.
exec bash "$(dirname "${BASH_SOURCE[0]}")/node_suite.sh" test_joinserver_tenancy joinserver/tenancy.test.mjs
