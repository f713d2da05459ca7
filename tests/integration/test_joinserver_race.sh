#!/usr/bin/env bash
# Two `iotvault serve` processes share one data directory's database and
# receive the same JoinRequest at once, ~20 rounds with fresh DevNonces:
# exactly one Success and one FrameReplayed per round, one session row per
# round (tests/node/joinserver/race.test.mjs starts both servers). Prints
# node's summary; exits non-zero on any failure.
exec bash "$(dirname "${BASH_SOURCE[0]}")/node_suite.sh" test_joinserver_race joinserver/race.test.mjs
