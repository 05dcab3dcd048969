// How many bytes the application has read from a TCP socket so far (received in order minus
// those still queued). Its own file: <linux/tcp.h>, which has the field, clashes with the
// <netinet/tcp.h> that httplib includes.
#pragma once

#include <cstdint>
#include <optional>

namespace dlx::http {

std::optional<uint64_t> bytes_read_from(int tcp_fd);

}  // namespace dlx::http
