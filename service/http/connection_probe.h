// ConnectionProbe: tells a request handler whether its client has disconnected. cpp-httplib
// 0.11.4 (Debian 12) gives a plain handler no access to its socket (req.is_connection_closed()
// arrived in 0.18.5), so the probe finds the socket by its addresses among the process's file
// descriptors once, then peeks at it. Streaming responses use DataSink::is_writable instead.
#pragma once

#include <string>

namespace dlx::http {

class ConnectionProbe {
 public:
  // remote_addr / remote_port / local_port as httplib::Request reports them.
  ConnectionProbe(const std::string& remote_addr, int remote_port, int local_port);
  bool found() const { return fd_ >= 0; }
  // True once the peer has closed (or reset) the connection. Never true when not found().
  bool client_gone() const;

 private:
  int fd_ = -1;  // borrowed: httplib owns and closes it after the handler returns
};

}  // namespace dlx::http
