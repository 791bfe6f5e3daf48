// The Lua scripts that make every cluster step one atomic Redis round trip. Key layout
// and algorithms: cluster/README.md.
#pragma once

#include "cluster/redis_client.h"

namespace signalbox::cluster {

// Admission: reaps the reservations of replicas whose lease ran out, renews this one's,
// then checks max_parallel, rpm, tpm and the day/month budget of the key against what
// every replica holds, and takes all of them, or none.
const RedisScript& AdmitScript();
// Settle: frees the request's slot and reservation, replaces its token estimate by the
// actual count, and adds its actual cost to the key's and the backends' windows.
const RedisScript& SettleScript();
// Sync: creates the generation when Redis is empty and adds this replica's ledger totals
// once per generation (the rebuild after a total loss of Redis's data).
const RedisScript& SyncScript();
// Push: adds spend settled while Redis was unreachable and frees the slots of requests
// whose settle did not reach Redis, if the generation is still the same.
const RedisScript& PushScript();
// Heartbeat: renews this replica's lease; returns the generation (nil: Redis lost it).
const RedisScript& HeartbeatScript();

}  // namespace signalbox::cluster
