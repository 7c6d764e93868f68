#include "common/cluster_config.h"

#include <algorithm>
#include <limits>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/file.h"

namespace sawmill {
namespace {

using Json = nlohmann::json;

// Typed field reads that never throw; `where` names the object ("processes[2]") in errors.
class Fields {
 public:
  Fields(const std::string& file, const Json& obj, std::string where)
      : file_(file), obj_(obj), where_(std::move(where)) {}

  Status String(const char* key, std::string* out) const {
    const Json* v = Find(key);
    if (v == nullptr || !v->is_string()) return Bad(key, "a string");
    *out = v->get<std::string>();
    return Status::Ok();
  }
  template <typename T>
  Status Number(const char* key, T* out) const {
    const Json* v = Find(key);
    if (v == nullptr || !v->is_number_integer()) return Bad(key, "an integer");
    // get<T>() would wrap (-1 as a uint32_t replication) or truncate.
    if (v->is_number_unsigned() ? !std::in_range<T>(v->get<uint64_t>()) : !std::in_range<T>(v->get<int64_t>())) {
      return InvalidArgument(file_ + ": field \"" + Name(key) + "\" is " + v->dump() + ", not in " +
                             std::to_string(std::numeric_limits<T>::min()) + ".." +
                             std::to_string(std::numeric_limits<T>::max()));
    }
    *out = v->get<T>();
    return Status::Ok();
  }
  // Optional fields keep *out when missing; present, they must have the right type.
  Status OptionalString(const char* key, std::string* out) const {
    return Find(key) == nullptr ? Status::Ok() : String(key, out);
  }
  template <typename T>
  Status OptionalNumber(const char* key, T* out) const {
    return Find(key) == nullptr ? Status::Ok() : Number(key, out);
  }
  const Json* Find(const char* key) const {
    if (!obj_.is_object()) return nullptr;
    auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }
  Status Bad(const char* key, const char* want) const {
    return InvalidArgument(file_ + ": field \"" + Name(key) + "\" is missing or not " + want);
  }
  std::string Name(const char* key) const { return where_.empty() ? key : where_ + "." + key; }

 private:
  const std::string& file_;
  const Json& obj_;
  std::string where_;
};

}  // namespace

std::string ClusterConfig::SecretPath() const { return Resolve(secret_file); }

std::string ClusterConfig::Resolve(const std::string& path) const {
  if (path.empty() || path[0] == '/') return path;
  return JoinPath(dir, path);
}

const ClusterConfig::Host* ClusterConfig::FindHost(const std::string& name) const {
  for (const Host& h : hosts) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

std::string ClusterConfigPath(const std::string& cluster_dir) { return JoinPath(cluster_dir, "cluster.json"); }

Result<ClusterConfig> LoadClusterConfig(const std::string& cluster_dir) {
  ASSIGN_OR_RETURN(ClusterConfig c, LoadClusterConfigFile(ClusterConfigPath(cluster_dir)));
  c.dir = cluster_dir;
  return c;
}

Result<ClusterConfig> LoadClusterConfigFile(const std::string& file) {
  std::string text;
  Status read = ReadFileToString(file, &text);
  if (!read.ok()) {
    if (!PathExists(file)) return NotFound(file + ": no cluster description (is the cluster up?)");
    return read;
  }
  Json root = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) return InvalidArgument(file + ": not a JSON object");
  ClusterConfig c;
  c.dir = Dirname(file);
  Fields top(file, root, "");
  RETURN_IF_ERROR(top.String("secret_file", &c.secret_file));
  RETURN_IF_ERROR(top.Number("replication", &c.replication));
  RETURN_IF_ERROR(top.Number("block_size", &c.block_size));
  const Json* procs = top.Find("processes");
  if (procs == nullptr || !procs->is_array()) return top.Bad("processes", "an array");
  bool have_namenode = false;
  for (size_t i = 0; i < procs->size(); ++i) {
    Fields p(file, (*procs)[i], "processes[" + std::to_string(i) + "]");
    std::string role;
    RETURN_IF_ERROR(p.String("role", &role));
    if (role == "namenode") {
      if (have_namenode) return InvalidArgument(file + ": more than one namenode in \"processes\"");
      have_namenode = true;
      RETURN_IF_ERROR(p.String("address", &c.namenode_address));
      RETURN_IF_ERROR(p.String("http", &c.namenode_http));
      RETURN_IF_ERROR(p.String("dir", &c.namenode_dir));
      RETURN_IF_ERROR(p.OptionalNumber("pid", &c.namenode_pid));
    } else if (role == "datanode") {
      ClusterConfig::Host h;
      RETURN_IF_ERROR(p.String("host", &h.name));
      RETURN_IF_ERROR(p.OptionalString("id", &h.datanode_id));
      RETURN_IF_ERROR(p.String("address", &h.datanode_address));
      RETURN_IF_ERROR(p.String("dir", &h.dir));
      RETURN_IF_ERROR(p.OptionalNumber("pid", &h.datanode_pid));
      auto old = std::find_if(c.hosts.begin(), c.hosts.end(),
                              [&](const ClusterConfig::Host& x) { return x.name == h.name; });
      if (old != c.hosts.end() && !old->datanode_address.empty()) {
        return InvalidArgument(file + ": processes[" + std::to_string(i) +
                               "]: a second datanode on host \"" + h.name + "\"");
      }
      if (old != c.hosts.end()) {  // its worker came first
        h.worker_address = old->worker_address;
        h.worker_pid = old->worker_pid;
        h.worker_dir = old->worker_dir;
        *old = std::move(h);
      } else {
        c.hosts.push_back(std::move(h));
      }
    } else if (role == "coordinator") {
      if (!c.coordinator_address.empty()) {
        return InvalidArgument(file + ": more than one coordinator in \"processes\"");
      }
      RETURN_IF_ERROR(p.String("address", &c.coordinator_address));
      RETURN_IF_ERROR(p.String("http", &c.coordinator_http));
      RETURN_IF_ERROR(p.String("dir", &c.coordinator_dir));
      RETURN_IF_ERROR(p.OptionalNumber("pid", &c.coordinator_pid));
    } else if (role == "worker") {
      std::string host, address, dir;
      int pid = 0;
      RETURN_IF_ERROR(p.String("host", &host));
      RETURN_IF_ERROR(p.String("address", &address));
      RETURN_IF_ERROR(p.String("dir", &dir));
      RETURN_IF_ERROR(p.OptionalNumber("pid", &pid));
      auto h = std::find_if(c.hosts.begin(), c.hosts.end(), [&](const ClusterConfig::Host& x) { return x.name == host; });
      if (h == c.hosts.end()) {
        c.hosts.push_back({});
        h = c.hosts.end() - 1;
        h->name = host;
        h->dir = Dirname(dir);
      }
      if (!h->worker_address.empty()) {
        return InvalidArgument(file + ": processes[" + std::to_string(i) +
                               "]: a second worker on host \"" + host + "\"");
      }
      h->worker_address = address;
      h->worker_pid = pid;
      h->worker_dir = dir;
    } else {
      return InvalidArgument(file + ": processes[" + std::to_string(i) + "].role \"" + role +
                             "\" is not namenode, datanode, coordinator or worker");
    }
  }
  if (!have_namenode) return InvalidArgument(file + ": field \"processes\" has no namenode");
  return c;
}

Status WriteClusterConfig(const ClusterConfig& config) {
  Json procs = Json::array();
  procs.push_back({{"role", "namenode"},
                   {"host", "127.0.0.1"},
                   {"address", config.namenode_address},
                   {"http", config.namenode_http},
                   {"dir", config.namenode_dir},
                   {"pid", config.namenode_pid}});
  for (const auto& h : config.hosts) {
    procs.push_back({{"role", "datanode"},
                     {"host", h.name},
                     {"id", h.datanode_id},
                     {"address", h.datanode_address},
                     {"dir", h.dir},
                     {"pid", h.datanode_pid}});
  }
  if (!config.coordinator_address.empty()) {
    procs.push_back({{"role", "coordinator"},
                     {"host", "127.0.0.1"},
                     {"address", config.coordinator_address},
                     {"http", config.coordinator_http},
                     {"dir", config.coordinator_dir},
                     {"pid", config.coordinator_pid}});
  }
  for (const auto& h : config.hosts) {
    if (h.worker_address.empty()) continue;
    procs.push_back({{"role", "worker"},
                     {"host", h.name},
                     {"address", h.worker_address},
                     {"dir", h.worker_dir.empty() ? JoinPath(h.dir, "worker") : h.worker_dir},
                     {"pid", h.worker_pid}});
  }
  Json root = {{"secret_file", config.secret_file},
               {"replication", config.replication},
               {"block_size", config.block_size},
               {"processes", procs}};
  // dump() throws only on invalid UTF-8 in a string; replace such bytes instead.
  std::string text = root.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
  return WriteStringToFile(ClusterConfigPath(config.dir), text);
}

}  // namespace sawmill
