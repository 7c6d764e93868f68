// The worker's binary cache (worker/binary_cache.h): one copy per binary, checked against its
// SHA-256; a slow download holds up only attempts of that binary; a failed chmod fails the get.
#include "worker/binary_cache.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/file.h"
#include "common/sha256.h"
#include "tests/common/temp_dir.h"
#include "tests/common/wait_for.h"

namespace sawmill::worker {
namespace {

// The store's /sawmill/binaries/<sha256> in memory. Reads of a held binary block until it is
// released, so a test can keep a download in flight.
class BinaryStore : public FileSystem {
 public:
  void Put(const std::string& sha, std::string bytes) {
    std::lock_guard<std::mutex> l(mu_);
    files_["/sawmill/binaries/" + sha] = std::move(bytes);
  }
  void Hold(const std::string& sha) {
    std::lock_guard<std::mutex> l(mu_);
    held_ = "/sawmill/binaries/" + sha;
  }
  void Release() {
    std::lock_guard<std::mutex> l(mu_);
    held_.clear();
    cv_.notify_all();
  }
  // Whether a read of the held binary is waiting for Release().
  bool HeldReadWaiting() {
    std::lock_guard<std::mutex> l(mu_);
    return held_waiting_ > 0;
  }
  int opens(const std::string& sha) {
    std::lock_guard<std::mutex> l(mu_);
    return opens_["/sawmill/binaries/" + sha];
  }

  Result<std::unique_ptr<ReadableFile>> OpenRead(const std::string& path) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = files_.find(path);
    if (it == files_.end()) return NotFound(path);
    ++opens_[path];
    return std::unique_ptr<ReadableFile>(new File(this, path, it->second));
  }
  Result<std::unique_ptr<AppendableFile>> Create(const std::string&) override { return Unsupported(); }
  Status Rename(const std::string&, const std::string&) override { return Unsupported(); }
  Status Delete(const std::string&, bool) override { return Unsupported(); }
  Status Mkdirs(const std::string&) override { return Unsupported(); }
  Result<FileInfo> Stat(const std::string&) override { return Unsupported(); }
  Result<std::vector<FileInfo>> List(const std::string&) override { return Unsupported(); }
  Result<std::vector<BlockLocation>> GetBlockLocations(const std::string&) override { return Unsupported(); }

 private:
  static Status Unsupported() { return Internal("not used by the binary cache"); }

  class File : public ReadableFile {
   public:
    File(BinaryStore* store, std::string path, std::string bytes)
        : store_(store), path_(std::move(path)), bytes_(std::move(bytes)) {}
    Status ReadAt(uint64_t offset, size_t n, char* dst) override {
      store_->WaitIfHeld(path_);
      if (offset + n > bytes_.size()) return Corruption("read past the end of " + path_);
      bytes_.copy(dst, n, offset);
      return Status::Ok();
    }
    uint64_t size() const override { return bytes_.size(); }
    const std::string& path() const override { return path_; }

   private:
    BinaryStore* store_;
    std::string path_, bytes_;
  };

  void WaitIfHeld(const std::string& path) {
    std::unique_lock<std::mutex> l(mu_);
    ++held_waiting_;
    cv_.wait(l, [&] { return held_ != path; });
    --held_waiting_;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::string> files_;
  std::map<std::string, int> opens_;
  std::string held_;
  int held_waiting_ = 0;
};

class BinaryCacheTest : public ::testing::Test {
 protected:
  // Adds a "binary" with these bytes to the store; returns its SHA-256.
  std::string AddBinary(const std::string& bytes) {
    auto sha = Sha256FileHex(tmp_.Write("content", bytes));
    EXPECT_TRUE(sha.ok()) << sha.status().ToString();
    store_.Put(*sha, bytes);
    return *sha;
  }
  BinaryCacheOptions Options() { return BinaryCacheOptions{tmp_.Sub("binaries"), &store_}; }

  sawmill::testing::TempDir tmp_;
  BinaryStore store_;
};

TEST_F(BinaryCacheTest, CopiesOnceAsAnExecutableNamedByItsHash) {
  BinaryCache cache(Options());
  std::string sha = AddBinary("#!/bin/sh\necho hi\n");
  auto path = cache.Get(sha);
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, JoinPath(tmp_.Sub("binaries"), sha));
  EXPECT_EQ(sawmill::testing::ReadAll(*path), "#!/bin/sh\necho hi\n");
  struct stat st;
  ASSERT_EQ(::stat(path->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0555u);
  ASSERT_TRUE(cache.Get(sha).ok());
  EXPECT_EQ(store_.opens(sha), 1);
}

TEST_F(BinaryCacheTest, BytesThatDoNotHashToTheNameAreRefused) {
  BinaryCache cache(Options());
  std::string sha = AddBinary("the submitted binary");
  store_.Put(sha, "someone else's binary");
  auto path = cache.Get(sha);
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), StatusCode::kCorruption);
  EXPECT_NE(path.status().message().find("refusing to run"), std::string::npos) << path.status().ToString();
  EXPECT_FALSE(PathExists(JoinPath(tmp_.Sub("binaries"), sha)));
}

TEST_F(BinaryCacheTest, BadHashIsRefused) {
  BinaryCache cache(Options());
  EXPECT_EQ(cache.Get("../../etc/passwd").status().code(), StatusCode::kInvalidArgument);
}

// An attempt of a cached binary starts while another binary is still being downloaded.
TEST_F(BinaryCacheTest, SlowDownloadOfOneBinaryDoesNotHoldUpAnother) {
  BinaryCache cache(Options());
  std::string a = AddBinary("binary A"), b = AddBinary("binary B");
  ASSERT_TRUE(cache.Get(b).ok());
  store_.Hold(a);
  auto get_a = std::async(std::launch::async, [&] { return cache.Get(a); });
  ASSERT_TRUE(sawmill::testing::WaitFor([&] { return store_.HeldReadWaiting(); }));
  auto get_b = std::async(std::launch::async, [&] { return cache.Get(b); });
  bool b_done = get_b.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  store_.Release();
  EXPECT_TRUE(b_done) << "getting cached binary B waited for the download of binary A";
  EXPECT_TRUE(get_b.get().ok());
  EXPECT_TRUE(get_a.get().ok());
}

// Two attempts of one binary share its one download.
TEST_F(BinaryCacheTest, ConcurrentGetsOfOneBinaryDownloadItOnce) {
  BinaryCache cache(Options());
  std::string a = AddBinary("binary A");
  store_.Hold(a);
  auto first = std::async(std::launch::async, [&] { return cache.Get(a); });
  ASSERT_TRUE(sawmill::testing::WaitFor([&] { return store_.HeldReadWaiting(); }));
  auto second = std::async(std::launch::async, [&] { return cache.Get(a); });
  // The second must not finish (nor start a download of its own) while the first is held.
  EXPECT_EQ(second.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  store_.Release();
  auto p1 = first.get(), p2 = second.get();
  ASSERT_TRUE(p1.ok() && p2.ok()) << p1.status().ToString() << " / " << p2.status().ToString();
  EXPECT_EQ(*p1, *p2);
  EXPECT_EQ(store_.opens(a), 1);
}

int FailingChmod(const char*, mode_t) {
  errno = EROFS;
  return -1;
}

TEST_F(BinaryCacheTest, ChmodFailureFailsTheGetNamingTheFile) {
  BinaryCacheOptions o = Options();
  o.chmod = FailingChmod;
  BinaryCache cache(o);
  std::string sha = AddBinary("binary A");
  auto path = cache.Get(sha);
  ASSERT_FALSE(path.ok()) << "a binary that could not be made executable was handed out: " << *path;
  EXPECT_NE(path.status().message().find("chmod"), std::string::npos) << path.status().ToString();
  EXPECT_NE(path.status().message().find(sha), std::string::npos) << path.status().ToString();
  EXPECT_NE(path.status().message().find("Read-only file system"), std::string::npos) << path.status().ToString();
  // Nothing is left that a later get would take for the binary.
  EXPECT_FALSE(PathExists(JoinPath(tmp_.Sub("binaries"), sha)));
  BinaryCache fixed(Options());
  EXPECT_TRUE(fixed.Get(sha).ok());
}

}  // namespace
}  // namespace sawmill::worker
