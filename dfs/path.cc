// Path normalization for the file store.
#include "dfs/path.h"

namespace sawmill::dfs {

namespace {

// Printable form of a client path for error messages: NUL bytes shown as \0 and long paths cut.
std::string Quote(std::string_view path) {
  std::string out = "\"";
  for (size_t i = 0; i < path.size() && i < 512; ++i) {
    if (path[i] == '\0') out += "\\0"; else out += path[i];
  }
  if (path.size() > 512) out += "...";
  return out + "\"";
}

}  // namespace

Result<std::string> NormalizePath(std::string_view path) {
  if (path.empty() || path[0] != '/') return InvalidArgument("path " + Quote(path) + " is not absolute");
  if (path.find('\0') != std::string_view::npos) return InvalidArgument("path " + Quote(path) + " contains a NUL byte");
  std::string out;
  out.reserve(path.size());
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t end = path.find('/', i);
    if (end == std::string_view::npos) end = path.size();
    std::string_view comp = path.substr(i, end - i);
    i = end;
    if (comp.empty()) continue;
    if (comp == "." || comp == "..") {
      return InvalidArgument("path " + Quote(path) + " has a '" + std::string(comp) + "' component");
    }
    if (comp.size() > kMaxComponentBytes) {
      return InvalidArgument("path " + Quote(path) + " has a component longer than 255 bytes");
    }
    out += '/';
    out += comp;
  }
  if (out.empty()) out = "/";
  if (out.size() > kMaxPathBytes) return InvalidArgument("path " + Quote(path) + " is longer than 4096 bytes");
  return out;
}

std::string ParentOf(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == 0 || slash == std::string_view::npos) return "/";
  return std::string(path.substr(0, slash));
}

std::string BaseName(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

bool IsAncestor(std::string_view ancestor, std::string_view path) {
  if (ancestor == "/") return true;
  if (path.size() < ancestor.size() || path.substr(0, ancestor.size()) != ancestor) return false;
  return path.size() == ancestor.size() || path[ancestor.size()] == '/';
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t i = 1;
  while (i < path.size()) {
    size_t end = path.find('/', i);
    if (end == std::string_view::npos) end = path.size();
    parts.emplace_back(path.substr(i, end - i));
    i = end + 1;
  }
  return parts;
}

std::string JoinChild(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (out != "/") out += '/';
  out += name;
  return out;
}

}  // namespace sawmill::dfs
