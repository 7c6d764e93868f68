// Fuzz target: compressed input files (common/decompress.h), untrusted bytes from a user's
// disk. The first byte picks the format (gzip, zstd, bzip2), the rest is the file. Any error is
// fine; a crash, a hang or reading past the file is not. Output is read up to 8 MiB per input
// (a small file may expand enormously, which is the format's right, not a bug).
//
// Linked with mutation_driver.cc (g++ has no libFuzzer), which starts from FuzzSeeds().
#include <bzlib.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/decompress.h"

namespace {

class MemoryFile final : public sawmill::ReadableFile {
 public:
  explicit MemoryFile(std::string data) : data_(std::move(data)) {}
  sawmill::Status ReadAt(uint64_t offset, size_t n, char* dst) override {
    if (offset > data_.size() || n > data_.size() - offset) std::abort();  // the reader read past the end
    std::memcpy(dst, data_.data() + offset, n);
    return sawmill::Status::Ok();
  }
  uint64_t size() const override { return data_.size(); }
  const std::string& path() const override { return path_; }

 private:
  std::string data_;
  std::string path_ = "fuzz-input";
};

constexpr sawmill::Compression kFormats[] = {sawmill::Compression::kGzip, sawmill::Compression::kZstd,
                                             sawmill::Compression::kBzip2};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const sawmill::Compression c = kFormats[data[0] % 3];
  auto reader = sawmill::DecompressingReader::Open(
      std::make_unique<MemoryFile>(std::string(reinterpret_cast<const char*>(data) + 1, size - 1)), c);
  if (!reader.ok()) std::abort();
  std::vector<char> buf(4096 + data[0]);  // odd sizes too
  size_t total = 0;
  while (total < (8u << 20)) {
    auto n = (*reader)->Read(buf.data(), buf.size());
    if (!n.ok() || *n == 0) break;
    if (*n > buf.size()) std::abort();
    total += *n;
  }
  return 0;
}

std::vector<std::string> FuzzSeeds() {
  const std::string text = "GET /index.html 200 user42\nPOST /login 302 -\nGET /a 404 user7\n";
  std::vector<std::string> seeds;
  std::string gz(256, '\0');
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(gz.data());
  z.avail_out = static_cast<uInt>(gz.size());
  deflate(&z, Z_FINISH);
  gz.resize(z.total_out);
  deflateEnd(&z);
  seeds.push_back(std::string(1, '\0') + gz + gz);
  std::string zs(ZSTD_compressBound(text.size()), '\0');
  zs.resize(ZSTD_compress(zs.data(), zs.size(), text.data(), text.size(), 3));
  seeds.push_back(std::string(1, '\1') + zs);
  unsigned n = 1024;
  std::string bz(n, '\0');
  BZ2_bzBuffToBuffCompress(bz.data(), &n, const_cast<char*>(text.data()), static_cast<unsigned>(text.size()), 9, 0, 0);
  bz.resize(n);
  seeds.push_back(std::string(1, '\2') + bz);
  return seeds;
}
