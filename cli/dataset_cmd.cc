// `sawmill dataset list|show|promote|rollback|gc|diff|get`: versioned datasets in a local store
// directory or a cluster's store (datasets/dataset_catalog.h, docs/datasets.md).
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/store_args.h"
#include "cli/verb_usage.h"
#include "common/file.h"
#include "common/local_fs.h"
#include "datasets/dataset_catalog.h"
#include "records/manifest.h"

namespace sawmill {
namespace {

// A function-local static, as dfs_cmd.cc's CommandHelp: never destroyed.
const CommandUsage& Usage() {
  static const auto* usage = new CommandUsage{
      "dataset",
      "sawmill dataset: versioned datasets (docs/datasets.md).\n\n",
      {
          {"list",
           "  sawmill dataset list (--store DIR | --cluster D)\n"
           "      Datasets, each with its current version and its number of versions.\n",
           {}},
          {"show",
           "  sawmill dataset show (--store DIR | --cluster D) NAME [VERSION]\n"
           "      Versions (complete or not, records, bytes, which is current) and the promotion history;\n"
           "      with VERSION its lineage: job, inputs, partitioning, parts with content hashes, and what\n"
           "      its fingerprint hashed (binary SHA-256, arguments, input content hashes).\n",
           {}},
          {"promote",
           "  sawmill dataset promote (--store DIR | --cluster D) NAME VERSION\n"
           "      Makes VERSION current (atomically: readers of dataset:NAME see the old or the new one).\n"
           "      Refused for a version that does not exist or has no _MANIFEST.\n",
           {}},
          {"rollback",
           "  sawmill dataset rollback (--store DIR | --cluster D) NAME\n"
           "      Makes current again the version that was current before the latest change.\n",
           {}},
          {"gc",
           "  sawmill dataset gc (--store DIR | --cluster D) NAME [--keep K]\n"
           "      Deletes all versions but current and the K (default 3) newest complete ones.\n",
           {"keep"}},
          {"diff",
           "  sawmill dataset diff (--store DIR | --cluster D) NAME FROM TO [--show N]\n"
           "      Keys added, removed and changed from version FROM to version TO (partitioned and sorted\n"
           "      alike), with up to N (default 10) of each.\n",
           {"show"}},
          {"get",
           "  sawmill dataset get (--store DIR | --cluster D) NAME KEY [--version V] [--hex]\n"
           "      The values of KEY in a sorted dataset (current version by default), read through the\n"
           "      partitioner and the part's block index; --hex: KEY is hex (e.g. binary ids).\n",
           {"version", "hex"}},
      },
      "  Jobs write a new version with --output dataset:NAME and read one with --input dataset:NAME[@VERSION].\n",
      {"store", "cluster"},
  };
  return *usage;
}

std::string Escaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else if (c == '\\') out += "\\\\";
    else out += c;
  }
  return out;
}

// Version numbers have at most 8 digits (datasets::VersionName); `what` names the argument.
Result<uint64_t> ParseVersion(const std::string& s, const char* what) {
  return ParseNumber<uint64_t>(s, what, 1, 99'999'999);
}

bool FromHex(const std::string& hex, std::string* out) {
  if (hex.size() % 2) return false;
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    uint8_t byte = 0;
    auto [ptr, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, byte, 16);
    if (ec != std::errc() || ptr != hex.data() + i + 2) return false;
    out->push_back(static_cast<char>(byte));
  }
  return true;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  return s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kNotFound ? 2 : 1;
}

}  // namespace

int DatasetCommand(int argc, char** argv) {
  MoveVerbFirst(argc, argv, 2, {"hex"});
  const VerbUsage* verb = nullptr;
  if (int code = Usage().Answer(argc, argv, &verb); code != kRunVerb) return code;
  const std::string sub = verb->verb;
  Args args;
  if (!Args::Parse(argc, argv, 3, &args, {"hex"}) || !Usage().FlagsOk(args, *verb)) return 2;
  auto opened = OpenStore(args);
  if (!opened.ok()) {
    std::fprintf(stderr, "error: %s\n\n%s", opened.status().message().c_str(), Usage().Of(*verb).c_str());
    return 2;
  }
  const std::string root = opened->root;
  const auto& pos = args.positional;
  if (sub == "list") {
    auto names = datasets::ListDatasets(root);
    if (!names.ok()) return Fail(names.status());
    for (const auto& n : *names) {
      auto versions = datasets::ListVersions(root, n);
      auto current = datasets::Current(root, n);
      if (!versions.ok()) return Fail(versions.status());
      if (!current.ok()) return Fail(current.status());
      std::printf("%s current %s versions %zu\n", n.c_str(), *current ? datasets::VersionName(*current).c_str() : "-",
                  versions->size());
    }
    return 0;
  }
  if (pos.empty()) {
    std::fprintf(stderr, "error: dataset %s needs a NAME\n", sub.c_str());
    return 2;
  }
  const std::string& name = pos[0];
  if (sub == "show" && pos.size() == 2) {
    auto dir = datasets::ResolveForRead(root, "dataset:" + name + "@" + pos[1]);
    if (!dir.ok()) return Fail(dir.status());
    auto m = ReadManifest(JoinPath(*dir, kManifestName));
    if (!m.ok()) return Fail(m.status());
    std::printf("version %s\njob %s\npartitioner %s partitions %d sorted %s\n", dir->c_str(), m->job_name.c_str(),
                m->partitioner.c_str(), m->num_partitions, m->sorted ? "yes" : "no");
    for (const auto& in : m->inputs) std::printf("input %s\n", in.c_str());
    for (const auto& p : m->parts) {
      std::printf("part %s records %llu bytes %llu hash %s\n", p.name.c_str(),
                  static_cast<unsigned long long>(p.records), static_cast<unsigned long long>(p.bytes),
                  p.content_hash.c_str());
    }
    std::string text;
    if (FsReadFile(JoinPath(*dir, "_FINGERPRINT"), &text).ok()) std::printf("fingerprint %s", text.c_str());
    if (FsReadFile(JoinPath(*dir, "_LINEAGE"), &text).ok()) {
      std::printf("lineage (what the fingerprint hashed):\n%s", text.c_str());
    }
    return 0;
  }
  if (sub == "show") {
    auto versions = datasets::ListVersions(root, name);
    if (!versions.ok()) return Fail(versions.status());
    auto history = datasets::Promotions(root, name);
    if (!history.ok()) return Fail(history.status());
    uint64_t current = history->empty() ? 0 : history->back();
    for (const auto& v : *versions) {
      std::string detail = "incomplete";
      if (v.complete) {
        auto m = ReadManifest(JoinPath(v.path, kManifestName));
        detail = m.ok() ? "records " + std::to_string(m->records()) + " bytes " + std::to_string(m->bytes()) +
                              " parts " + std::to_string(m->parts.size()) + " job " + m->job_name
                        : "unreadable manifest: " + m.status().message();
      }
      std::printf("%s %s%s %s\n", datasets::VersionName(v.version).c_str(), v.path.c_str(),
                  v.version == current ? " (current)" : "", detail.c_str());
    }
    std::string h;
    for (uint64_t p : *history) h += " " + datasets::VersionName(p);
    std::printf("promotions:%s\n", h.empty() ? " none" : h.c_str());
    return 0;
  }
  if (sub == "promote") {
    if (pos.size() != 2) {
      std::fprintf(stderr, "error: dataset promote needs NAME VERSION (a number)\n");
      return 2;
    }
    auto version = ParseVersion(pos[1], "VERSION");
    if (!version.ok()) return Fail(version.status());
    Status s = datasets::Promote(root, name, *version);
    if (!s.ok()) return Fail(s);
    std::printf("%s: current is now %s\n", name.c_str(), datasets::VersionName(*version).c_str());
    return 0;
  }
  if (sub == "rollback") {
    auto v = datasets::Rollback(root, name);
    if (!v.ok()) return Fail(v.status());
    std::printf("%s: current is now %s\n", name.c_str(), datasets::VersionName(*v).c_str());
    return 0;
  }
  if (sub == "gc") {
    uint64_t keep = 3;
    if (!args.GetU64("keep", 3, &keep)) return 2;
    auto deleted = datasets::Gc(root, name, keep);
    if (!deleted.ok()) return Fail(deleted.status());
    std::string list;
    for (uint64_t v : *deleted) list += " " + datasets::VersionName(v);
    std::printf("%s: deleted %zu version(s)%s\n", name.c_str(), deleted->size(), list.c_str());
    return 0;
  }
  if (sub == "diff") {
    if (pos.size() != 3) {
      std::fprintf(stderr, "error: dataset diff needs NAME FROM TO (version numbers)\n");
      return 2;
    }
    auto from = ParseVersion(pos[1], "FROM");
    if (!from.ok()) return Fail(from.status());
    auto to = ParseVersion(pos[2], "TO");
    if (!to.ok()) return Fail(to.status());
    uint64_t show = 10;
    if (!args.GetU64("show", 10, &show)) return 2;
    auto a = datasets::ResolveForRead(root, "dataset:" + name + "@" + std::to_string(*from));
    auto b = datasets::ResolveForRead(root, "dataset:" + name + "@" + std::to_string(*to));
    if (!a.ok()) return Fail(a.status());
    if (!b.ok()) return Fail(b.status());
    auto d = datasets::DiffVersions(*a, *b, show);
    if (!d.ok()) return Fail(d.status());
    std::printf("added %llu removed %llu changed %llu unchanged %llu\n", static_cast<unsigned long long>(d->added),
                static_cast<unsigned long long>(d->removed), static_cast<unsigned long long>(d->changed),
                static_cast<unsigned long long>(d->unchanged));
    for (const auto& k : d->added_keys) std::printf("+ %s\n", Escaped(k).c_str());
    for (const auto& k : d->removed_keys) std::printf("- %s\n", Escaped(k).c_str());
    for (const auto& k : d->changed_keys) std::printf("~ %s\n", Escaped(k).c_str());
    return 0;
  }
  if (sub == "get") {
    if (pos.size() != 2) {
      std::fprintf(stderr, "error: dataset get needs NAME KEY\n");
      return 2;
    }
    std::string key = pos[1];
    if (args.Has("hex") && !FromHex(pos[1], &key)) {
      std::fprintf(stderr, "error: --hex: '%s' is not hex\n", pos[1].c_str());
      return 2;
    }
    std::string spec = "dataset:" + name + (args.Has("version") ? "@" + args.Get("version", "") : "");
    auto dir = datasets::ResolveForRead(root, spec);
    if (!dir.ok()) return Fail(dir.status());
    auto t0 = std::chrono::steady_clock::now();
    auto r = datasets::Get(*dir, key);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!r.ok()) return Fail(r.status());
    for (const auto& v : r->values) std::printf("%s\t%s\n", Escaped(key).c_str(), Escaped(v).c_str());
    std::fprintf(stderr, "get: %zu value(s) in %s, blocks_read=%llu, %.2f ms\n", r->values.size(),
                 r->part.empty() ? "-" : r->part.c_str(), static_cast<unsigned long long>(r->blocks_read), ms);
    return r->values.empty() ? 1 : 0;
  }
  std::fprintf(stderr, "error: no code for dataset %s\n", sub.c_str());
  return 2;
}

}  // namespace sawmill
