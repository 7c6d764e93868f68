// A temporary directory for a test, removed with everything in it when the test ends.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace sawmill::testing {

class TempDir {
 public:
  TempDir() : TempDir(std::filesystem::temp_directory_path().string()) {}
  // Under `base` (e.g. /dev/shm, where a test that syncs thousands of files runs in memory).
  explicit TempDir(const std::string& base) {
    std::string tmpl = base + "/sawmill-test-XXXXXX";
    const char* made = ::mkdtemp(tmpl.data());
    path_ = made ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }
  std::string Write(const std::string& name, const std::string& content) const {
    std::string p = Sub(name);
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

 private:
  std::string path_;
};

// Ends a death test's child process: std::_Exit skips destructors, and the child made its own
// TempDir in SetUp, which would otherwise stay behind in /tmp.
[[noreturn]] inline void ExitChild(const TempDir& dir, int code) {
  std::error_code ec;
  std::filesystem::remove_all(dir.path(), ec);
  std::_Exit(code);
}

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace sawmill::testing
