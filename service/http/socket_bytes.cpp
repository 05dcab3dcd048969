#include "service/http/socket_bytes.h"

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstddef>

namespace dlx::http {

std::optional<uint64_t> bytes_read_from(int tcp_fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  int queued = 0;
  if (getsockopt(tcp_fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
      len < offsetof(tcp_info, tcpi_bytes_received) + sizeof(info.tcpi_bytes_received) ||
      ioctl(tcp_fd, SIOCINQ, &queued) != 0 || queued < 0) {
    return std::nullopt;
  }
  return info.tcpi_bytes_received - static_cast<uint64_t>(queued);
}

}  // namespace dlx::http
