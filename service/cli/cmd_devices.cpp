// `diffulex devices`: the backends this machine offers (CPU, every OpenCL platform/device)
// and what --device auto would pick.
#include <iostream>
#include <nlohmann/json.hpp>

#include "engine/backend/backend_factory.h"
#include "service/cli/args.h"
#include "service/cli/commands.h"

namespace dlx::cli {

int cmd_devices(int argc, char** argv, int first) {
  Args a(argc, argv, first, {}, {"help", "json"});
  if (a.flag("help")) {
    std::cout << "usage: diffulex devices [--json]\n"
                 "Lists the CPU backend and every OpenCL device (index N for --device opencl:N)\n"
                 "with type, compute units, global/local memory and fp16 support, and the\n"
                 "device --device auto picks.\n";
    return 0;
  }
  if (!a.flag("json")) {
    std::cout << describe_devices();
    return 0;
  }
  const DeviceReport r = list_backend_devices();
  nlohmann::json devs = nlohmann::json::array();
  for (const auto& d : r.devices) {
    devs.push_back({{"device", "opencl:" + std::to_string(d.index)},
                    {"platform", d.platform},
                    {"name", d.name},
                    {"vendor", d.vendor},
                    {"type", d.type},
                    {"driver_version", d.driver_version},
                    {"device_version", d.device_version},
                    {"compute_units", d.compute_units},
                    {"global_mem_bytes", d.global_mem},
                    {"local_mem_bytes", d.local_mem},
                    {"fp16", d.fp16}});
  }
  nlohmann::json out = {
      {"opencl_built", r.opencl_built}, {"opencl_devices", devs}, {"auto", r.auto_choice}};
  if (!r.opencl_error.empty()) out["opencl_error"] = r.opencl_error;
  std::cout << out.dump() << "\n";
  return 0;
}

}  // namespace dlx::cli
