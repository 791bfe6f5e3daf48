// Which client headers travel upstream, and the forwarding headers the gateway adds.
// Pure functions of the request's headers and the server config.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "server/exchange.h"

namespace signalbox {

// The client's headers that may travel upstream: everything but
//  - credentials (Authorization, api-key, x-api-key, cookies),
//  - hop-by-hop and framing headers, and every header the client's Connection header
//    names (RFC 9110 7.6.1: such headers are for the gateway, never for the next hop),
//  - OpenAI-Organization and OpenAI-Project: which organisation the gateway's upstream
//    key bills is the gateway's choice (a backend's `headers:`), never a tenant's,
//  - the client's X-Forwarded-*, Forwarded and X-Real-IP, replaced per `forwarded_for`
//    by the gateway's own (X-Forwarded-For: <peer>, X-Forwarded-Proto: http),
//  - the gateway's own x-signalbox-* controls, x-request-id (set by the gateway), and
//    names that are not tokens or values with control characters.
// `peer` is the client's address as the socket saw it.
std::vector<std::pair<std::string, std::string>> ForwardableHeaders(const Exchange& ex,
                                                                    ForwardedFor policy);

// The same, for headers given as a list (tests, and the pure core of the function above).
std::vector<std::pair<std::string, std::string>> ForwardableHeaders(
    const std::vector<std::pair<std::string, std::string>>& client, std::string_view peer,
    ForwardedFor policy);

}  // namespace signalbox
