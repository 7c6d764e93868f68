// Fuzz target: raw log lines and ingestion ledgers (logs/log_formats.h, logs/ingest_ledger.h),
// untrusted bytes from servers' log files and from the store. The first byte picks the parser.
// Any refusal is fine; a crash, a hang or reading out of bounds is not.
//
// Linked with mutation_driver.cc (g++ has no libFuzzer), which starts from FuzzSeeds().
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "logs/ingest_ledger.h"
#include "logs/log_formats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const char* why = nullptr;
  int64_t ms = 0;
  switch (data[0] % 5) {
    case 0: {
      sawmill::logs::JsonField f;
      if (sawmill::logs::FindJsonField(in, "time", &f, &why)) (void)sawmill::logs::JsonFieldTime(f, &ms, &why);
      break;
    }
    case 1: {
      sawmill::logs::AccessLogLine l;
      (void)sawmill::logs::ParseAccessLogLine(in, &l, &why);
      (void)sawmill::logs::AccessLogLineTime(in, &ms, &why);
      break;
    }
    case 2:
      (void)sawmill::logs::ParseRfc3339(in, &ms);
      (void)sawmill::logs::ParseAccessLogTime(in, &ms);
      break;
    case 3: {
      auto l = sawmill::logs::DecodeLedger(in, "fuzz");
      if (l.ok()) {
        sawmill::logs::SourceFile f;
        f.head = in;
        (void)sawmill::logs::MatchSource(*l, f);
      }
      break;
    }
    default:
      (void)sawmill::logs::ParseLineFormat(in);
  }
  return 0;
}

std::vector<std::string> FuzzSeeds() {
  sawmill::logs::Ledger ledger;
  ledger.sources.push_back({"/var/log/nginx/access.log", 2049, 131, 5000, 4096, 77, 4800, 40, 1796565780000});
  return {
      std::string("\0", 1) + R"({"time":"2026-12-06T14:03:00.250+01:00","user":"a\u00e9","n":[1,{"x":null}]})",
      std::string("\0", 1) + R"({"time":1796565780000})",
      "\1" + std::string(R"(127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "-" "M" 0.042)"),
      "\1" + std::string(R"(h - - [10/Oct/2000:13:55:36 +0000] "GET /\"q\" HTTP/1.1" 404 -)"),
      "\2" + std::string("2026-12-06T14:03:00Z"),
      "\3" + sawmill::logs::EncodeLedger(ledger),
      "\4combined",
  };
}
