// country_stats: a per-country view of web log records (input logs:STREAM[@FROM,TO], payloads
// USER<TAB>PAGE<TAB>LATENCY_MS) joined with a users table (--users: TSV USER<TAB>COUNTRY), as a
// dataflow program. Output records: (COUNTRY<TAB>YYYY-MM-DD, HITS<TAB>USERS<TAB>P50<TAB>P95<TAB>P99);
// users missing from the table count under "unknown".
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <gflags/gflags.h>

#include "api/codec.h"
#include "api/dataflow.h"
#include "jobs/web_log.h"

DEFINE_string(users, "", "Users table: TSV lines USER<TAB>COUNTRY (a user listed twice: the first line wins).");
DEFINE_string(strategy, "auto", "How hits meet users: auto (reduce-side: hits and users shuffled by user) or "
              "broadcast (the users table loaded into every map task).");

namespace {

using namespace sawmill;

using Hit = std::pair<std::string, std::pair<std::string, int64_t>>;  // user, (day, latency)
using User = std::pair<std::string, std::string>;                      // user, country

void CountryStats(df::Flow& flow) {
  if (FLAGS_users.empty()) throw std::invalid_argument("give --users TSV (USER<TAB>COUNTRY)");
  if (FLAGS_strategy != "auto" && FLAGS_strategy != "broadcast") throw std::invalid_argument("--strategy: auto or broadcast");
  auto hits = flow.ReadRecords<uint64_t, std::pair<int64_t, std::string>>().FlatMap<Hit>(
      [](const std::pair<uint64_t, std::pair<int64_t, std::string>>& r, const df::Emitter<Hit>& emit) {
        weblog::Hit hit;
        if (!weblog::ParseHit(r.second.second, &hit)) {
          df::Increment("country_stats.malformed_records");
          return;
        }
        emit(Hit(std::string(hit.user), {weblog::UtcDay(r.second.first), hit.latency_ms}));
      });
  auto users = flow.ReadText({FLAGS_users})
                   .FlatMap<User>([](std::string_view line, const df::Emitter<User>& emit) {
                     size_t tab = line.find('\t');
                     if (tab == std::string_view::npos || tab == 0) {
                       df::Increment("country_stats.malformed_users");
                       return;
                     }
                     emit(User(std::string(line.substr(0, tab)), std::string(line.substr(tab + 1))));
                   })
                   .ReduceByKey([](const std::string& first, const std::string&) { return first; });
  auto joined = hits.LeftJoin(users, FLAGS_strategy == "broadcast" ? df::JoinHint::kBroadcast : df::JoinHint::kAuto);
  using Visit = std::pair<std::string, std::pair<std::string, int64_t>>;  // country<TAB>day, (user, latency)
  joined
      .Map([](const std::pair<std::string, std::pair<std::pair<std::string, int64_t>, std::optional<std::string>>>& j) {
        const auto& [visit, country] = j.second;
        return Visit((country ? *country : std::string("unknown")) + "\t" + visit.first, {j.first, visit.second});
      })
      .GroupByKey()
      .MapValues([](const std::vector<std::pair<std::string, int64_t>>& visits) {
        std::vector<int64_t> latencies;
        std::set<std::string> people;
        for (const auto& [user, latency] : visits) {
          latencies.push_back(latency);
          people.insert(user);
        }
        std::sort(latencies.begin(), latencies.end());
        auto rank = [&](int p) { return weblog::NearestRank(latencies, p); };
        return DecimalString(static_cast<int64_t>(latencies.size())) + "\t" +
               DecimalString(static_cast<int64_t>(people.size())) + "\t" + DecimalString(rank(50)) + "\t" +
               DecimalString(rank(95)) + "\t" + DecimalString(rank(99));
      })
      .Write(flow.output());
}

}  // namespace

SAWMILL_DATAFLOW_MAIN("country_stats: hits, unique users and latency percentiles per country and UTC day of web "
                      "log records joined with a users table (--users); output records are "
                      "(COUNTRY<TAB>DAY, HITS<TAB>USERS<TAB>P50<TAB>P95<TAB>P99).",
                      CountryStats)
