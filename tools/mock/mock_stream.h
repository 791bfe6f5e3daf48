// The SSE stream of a streaming chat or legacy completion, fault shapes included.
//
// A normal chat stream is: a role chunk, one chunk per token (the last one carries
// finish_reason), the usage chunk when the client asked for it, then `data: [DONE]`.
// Faults that act on the stream replace its tail after N content chunks (the role
// chunk is sent only when N >= 1, so `cut:0` is "headers, then nothing").
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
#include "mock/openai_shapes.h"

namespace signalbox::mock {

struct StreamSpec {
  Generation gen;
  Fault fault;  // kNone or one of the stream-shaping kinds
  int token_interval_ms = 0;
  bool include_usage = false;  // the client set stream_options.include_usage
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
