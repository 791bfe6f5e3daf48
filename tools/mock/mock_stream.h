// The SSE stream of every streaming API of the mock, fault shapes included.
//
// The events come from a StreamDialect (stream_dialect.h): its opening events, one
// event per content delta, then its closing events. Faults that act on the stream
// replace its tail after N content deltas (the opening events are sent only when
// N >= 1, so `cut:0` is "headers, then nothing" and `error-event:0` sends the error as
// the first event).
//
// MakeSseProvider returns an httplib content provider that owns its state; it writes
// the whole stream in one call on the worker thread, pacing chunks and watching for
// the client leaving (a failed write, or a peer FIN seen while it waits).
#pragma once

#include <httplib.h>

#include <atomic>
#include <memory>

#include "mock/connection.h"
#include "mock/fault.h"
#include "mock/mock_stats.h"
#include "mock/stream_dialect.h"

namespace signalbox::mock {

struct StreamSpec {
  std::unique_ptr<StreamDialect> dialect;
  Fault fault;  // kNone or one of the stream-shaping kinds
  int token_interval_ms = 0;
};

// What a stream borrows from the server, which outlives every stream.
struct StreamEnv {
  MockStats* stats;
  const std::atomic<bool>* stopping;
};

httplib::ContentProviderWithoutLength MakeSseProvider(StreamSpec spec, StreamEnv env,
                                                      std::shared_ptr<Connection> connection,
                                                      std::shared_ptr<InFlightToken> in_flight);

}  // namespace signalbox::mock
