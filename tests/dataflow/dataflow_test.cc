// Each dataflow operator run locally (RunDataflow) against a direct computation in the test, with
// empty inputs and duplicate keys; the planner's stage cuts (golden explain); loops.
#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "api/dataflow.h"
#include "api/mapreduce.h"
#include "dataflow/lower.h"
#include "tests/common/temp_dir.h"

namespace sawmill::df {
namespace {

using KV = std::pair<std::string, int64_t>;

class DataflowTest : public ::testing::Test {
 protected:
  // "key<TAB>number" lines from seeded random data: `n` rows over `keys` distinct keys.
  std::string Lines(const std::string& name, int n, int keys, uint64_t seed, std::vector<KV>* rows) {
    std::mt19937_64 rng(seed);
    std::string text;
    for (int i = 0; i < n; ++i) {
      KV kv{"k" + std::to_string(rng() % keys), static_cast<int64_t>(rng() % 1000) - 500};
      rows->push_back(kv);
      text += kv.first + "\t" + std::to_string(kv.second) + "\n";
    }
    return dir_.Write(name, text);
  }
  static Dataset<KV> Parse(Flow& f, const std::string& path) {
    return f.ReadText({path}).Map([](std::string_view line) {
      size_t tab = line.find('\t');
      return KV(std::string(line.substr(0, tab)), std::stoll(std::string(line.substr(tab + 1))));
    });
  }
  RunReport Run(const Program& p, int partitions = 3) {
    RunOptions o;
    o.partitions = partitions;
    o.threads = 2;
    o.memory_mb = 64;
    o.tmp_dir = dir_.Sub("tmp");
    RunReport r = RunDataflow(p, o);
    EXPECT_TRUE(r.ok) << r.error;
    return r;
  }
  // The output's records decoded as (K, V), parts in order.
  template <class K, class V>
  std::vector<std::pair<K, V>> Read(const std::string& out) {
    std::vector<std::pair<K, V>> rows;
    for (const auto& [k, v] : ReadRecords(out)) {
      std::pair<K, V> row;
      EXPECT_TRUE(DecodeFromString(k, &row.first) && DecodeFromString(v, &row.second));
      rows.push_back(row);
    }
    return rows;
  }
  std::string Out(const std::string& name) { return dir_.Sub(name); }

  testing::TempDir dir_;
};

// The stage bindings a task gets (--df_bind) come back as they were sent; anything else is
// refused naming the entry, never read as node 0 (what atoi made of it).
TEST(DataflowBindings, RoundTripAndMalformedEntries) {
  using internal::Bindings;
  const Bindings b = {{0, "dfs:/in/a.txt"}, {7, "dfs:/tmp/df/n7"}, {12, "/local/x=y"}};
  auto back = internal::DecodeBindings(internal::EncodeBindings(b));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, b);
  EXPECT_TRUE(internal::DecodeBindings("").ok());
  for (const char* bad : {"x=dfs:/a", "=dfs:/a", "3", "3=", "-1=dfs:/a", "3a=dfs:/a", "1=a,1=b", "1=a,,2=b",
                          "99999999999=dfs:/a"}) {
    auto r = internal::DecodeBindings(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("--df_bind"), std::string::npos) << bad;
  }
}

TEST_F(DataflowTest, MapFilterFlatMapMatchDirect) {
  std::vector<KV> rows;
  std::string in = Lines("in.txt", 2000, 50, 1, &rows);
  Run([&](Flow& f) {
    Parse(f, in)
        .Filter([](const KV& kv) { return kv.second % 3 != 0; })
        .FlatMap<KV>([](const KV& kv, const Emitter<KV>& emit) {
          for (int i = 0; i < 2; ++i) emit(KV(kv.first + "/" + std::to_string(i), kv.second * 10 + i));
        })
        .Map([](const KV& kv) { return std::pair<int64_t, std::string>(kv.second, kv.first); })
        .Write(Out("out"));
  });
  std::multiset<std::pair<int64_t, std::string>> want, got;
  for (const auto& kv : rows) {
    if (kv.second % 3 == 0) continue;
    for (int i = 0; i < 2; ++i) want.insert({kv.second * 10 + i, kv.first + "/" + std::to_string(i)});
  }
  for (const auto& r : Read<int64_t, std::string>(Out("out"))) got.insert(r);
  EXPECT_EQ(got, want);
}

TEST_F(DataflowTest, ReduceByKeyWithDuplicateKeys) {
  std::vector<KV> rows;
  std::string in = Lines("in.txt", 5000, 37, 2, &rows);
  RunReport r = Run([&](Flow& f) { Parse(f, in).ReduceByKey([](int64_t a, int64_t b) { return a + b; }).Write(Out("out")); });
  std::map<std::string, int64_t> want;
  for (const auto& kv : rows) want[kv.first] += kv.second;
  auto got = Read<std::string, int64_t>(Out("out"));
  EXPECT_EQ((std::map<std::string, int64_t>(got.begin(), got.end())), want);
  EXPECT_EQ(got.size(), want.size());  // one record per key
  EXPECT_EQ(r.shuffle_stages_run, 1);
}

TEST_F(DataflowTest, EmptyInputsGiveEmptyOutputs) {
  std::string in = dir_.Write("empty.txt", "");
  Run([&](Flow& f) {
    auto d = Parse(f, in);
    d.ReduceByKey([](int64_t a, int64_t b) { return a + b; }).Write(Out("reduce"));
    d.GroupByKey().Write(Out("group"));
    d.Distinct().Write(Out("distinct"));
    d.SortBy([](const KV& kv) { return kv.second; }).Write(Out("sort"));
    d.Join(d).Write(Out("join"));
    d.Union(d).Write(Out("union"));
  });
  for (const char* name : {"reduce", "group", "distinct", "sort", "join", "union"}) {
    EXPECT_TRUE(ReadRecords(Out(name)).empty()) << name;
  }
}

TEST_F(DataflowTest, GroupByKeyKeepsInputOrder) {
  std::vector<KV> rows;
  std::string in = Lines("in.txt", 3000, 20, 3, &rows);
  Run([&](Flow& f) { Parse(f, in).GroupByKey().Write(Out("out")); });
  std::map<std::string, std::vector<int64_t>> want;
  for (const auto& kv : rows) want[kv.first].push_back(kv.second);
  auto got = Read<std::string, std::vector<int64_t>>(Out("out"));
  EXPECT_EQ((std::map<std::string, std::vector<int64_t>>(got.begin(), got.end())), want);
}

TEST_F(DataflowTest, DistinctAndUnion) {
  std::vector<KV> a, b;
  std::string ina = Lines("a.txt", 1000, 10, 4, &a), inb = Lines("b.txt", 500, 10, 5, &b);
  Run([&](Flow& f) {
    auto da = Parse(f, ina), db = Parse(f, inb);
    da.Union(db).Distinct().Write(Out("distinct"));
    da.Union(db).Write(Out("union"));
  });
  std::set<KV> want(a.begin(), a.end());
  want.insert(b.begin(), b.end());
  auto got = Read<std::string, int64_t>(Out("distinct"));
  EXPECT_EQ(std::set<KV>(got.begin(), got.end()), want);
  EXPECT_EQ(got.size(), want.size());
  std::multiset<KV> all(a.begin(), a.end()), got_all;
  all.insert(b.begin(), b.end());
  for (const auto& r : Read<std::string, int64_t>(Out("union"))) got_all.insert(r);
  EXPECT_EQ(got_all, all);
}

TEST_F(DataflowTest, SortByIsGlobalAndStable) {
  std::vector<KV> rows;
  std::string in = Lines("in.txt", 4000, 100, 6, &rows);
  Run(
      [&](Flow& f) {
        auto d = Parse(f, in);
        d.SortBy([](const KV& kv) { return kv.second; }).Write(Out("asc"));
        d.SortBy([](const KV& kv) { return kv.first; }, Order::kDescending).Write(Out("desc"));
      },
      4);
  auto want = rows;
  std::stable_sort(want.begin(), want.end(), [](const KV& x, const KV& y) { return x.second < y.second; });
  EXPECT_EQ((Read<std::string, int64_t>(Out("asc"))), want);
  want = rows;
  std::stable_sort(want.begin(), want.end(), [](const KV& x, const KV& y) { return x.first > y.first; });
  EXPECT_EQ((Read<std::string, int64_t>(Out("desc"))), want);
}

// Every strategy (reduce-side for sources, co-partitioned for shuffle outputs, broadcast on
// request) against nested loops, with duplicate keys on both sides and keys on one side only.
TEST_F(DataflowTest, JoinsMatchNestedLoops) {
  std::vector<KV> a, b;
  std::string ina = Lines("a.txt", 600, 40, 7, &a), inb = Lines("b.txt", 300, 60, 8, &b);
  using Row = std::pair<std::string, std::pair<int64_t, int64_t>>;
  using LeftRow = std::pair<std::string, std::pair<int64_t, std::optional<int64_t>>>;
  std::string explain;
  Program p = [&](Flow& f) {
    auto da = Parse(f, ina), db = Parse(f, inb);
    da.Join(db).Write(Out("reduce"));
    da.LeftJoin(db).Write(Out("reduce_left"));
    da.Join(db, JoinHint::kBroadcast).Write(Out("broadcast"));
    da.LeftJoin(db, JoinHint::kBroadcast).Write(Out("broadcast_left"));
    // Grouped sides are partitioned alike: merged part by part.
    auto ga = da.ReduceByKey([](int64_t x, int64_t y) { return x + y; });
    auto gb = db.ReduceByKey([](int64_t x, int64_t y) { return std::max(x, y); });
    ga.Join(gb).Write(Out("copart"));
    ga.LeftJoin(gb).Write(Out("copart_left"));
  };
  RunOptions o;
  o.partitions = 3;
  auto text = ExplainDataflow(p, o);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("Join#15[co-partitioned merge]"), std::string::npos) << *text;
  EXPECT_NE(text->find("Join#9[broadcast]"), std::string::npos) << *text;
  EXPECT_NE(text->find("shuffle Join#5 [reduce-side]"), std::string::npos) << *text;
  Run(p);

  std::multiset<Row> inner;
  std::multiset<LeftRow> left;
  for (const auto& x : a) {
    bool matched = false;
    for (const auto& y : b) {
      if (x.first != y.first) continue;
      matched = true;
      inner.insert({x.first, {x.second, y.second}});
      left.insert({x.first, {x.second, y.second}});
    }
    if (!matched) left.insert({x.first, {x.second, std::nullopt}});
  }
  auto as_set = [](const auto& rows) { return std::multiset<typename std::decay_t<decltype(rows)>::value_type>(rows.begin(), rows.end()); };
  EXPECT_EQ(as_set(Read<std::string, std::pair<int64_t, int64_t>>(Out("reduce"))), inner);
  EXPECT_EQ(as_set(Read<std::string, std::pair<int64_t, int64_t>>(Out("broadcast"))), inner);
  EXPECT_EQ(as_set(Read<std::string, std::pair<int64_t, std::optional<int64_t>>>(Out("reduce_left"))), left);
  EXPECT_EQ(as_set(Read<std::string, std::pair<int64_t, std::optional<int64_t>>>(Out("broadcast_left"))), left);

  std::map<std::string, int64_t> sa, mb;
  for (const auto& x : a) sa[x.first] += x.second;
  for (const auto& y : b) mb[y.first] = mb.count(y.first) ? std::max(mb[y.first], y.second) : y.second;
  std::multiset<Row> cinner;
  std::multiset<LeftRow> cleft;
  for (const auto& [k, v] : sa) {
    auto it = mb.find(k);
    if (it != mb.end()) cinner.insert({k, {v, it->second}});
    cleft.insert({k, {v, it == mb.end() ? std::nullopt : std::optional<int64_t>(it->second)}});
  }
  EXPECT_EQ(as_set(Read<std::string, std::pair<int64_t, int64_t>>(Out("copart"))), cinner);
  EXPECT_EQ(as_set(Read<std::string, std::pair<int64_t, std::optional<int64_t>>>(Out("copart_left"))), cleft);
}

// A co-partitioned merge whose right values are views (string_view): they are kept as
// bytes, so they stay valid past the right reader's block (parts of many blocks here); other
// right values are decoded once and lent to each output element.
TEST_F(DataflowTest, CoPartitionedJoinOfViewsAcrossBlocks) {
  std::vector<KV> rows;
  std::string in = Lines("views.txt", 60000, 20000, 5, &rows);
  RunOptions o;
  o.partitions = 3;
  o.threads = 2;
  o.block_kb = 1;  // many blocks a part: a group often ends one
  o.tmp_dir = dir_.Sub("tmp");
  RunReport r = RunDataflow([&](Flow& f) {
    auto sums = Parse(f, in).ReduceByKey([](int64_t a, int64_t b) { return a + b; });
    // A view per key (of static text), decoded from the right part's blocks as views.
    auto least = sums.MapValues([](int64_t v) { return std::string_view(v % 2 ? "odd" : "even"); });
    sums.Join(least)
        .Map([](const std::pair<std::string, std::pair<int64_t, std::string_view>>& p) {
          return std::pair<std::string, std::string>(p.first, std::to_string(p.second.first) + "|" + std::string(p.second.second));
        })
        .Write(Out("views"));
    sums.LeftJoin(sums).Write(Out("decoded"));
  }, o);
  ASSERT_TRUE(r.ok) << r.error;
  std::map<std::string, int64_t> sum;
  for (const auto& [k, v] : rows) sum[k] += v;
  std::map<std::string, std::string> got;
  for (const auto& [k, v] : Read<std::string, std::string>(Out("views"))) got[k] = v;
  ASSERT_EQ(got.size(), sum.size());
  for (const auto& [k, v] : sum) EXPECT_EQ(got[k], std::to_string(v) + "|" + (v % 2 ? "odd" : "even")) << k;
  auto self = Read<std::string, std::pair<int64_t, std::optional<int64_t>>>(Out("decoded"));
  ASSERT_EQ(self.size(), sum.size());
  for (const auto& [k, v] : self) EXPECT_EQ(v, (std::pair<int64_t, std::optional<int64_t>>(sum[k], sum[k]))) << k;
}

// MapValuesWith with a look-ahead hint: f sees every element once, in the same order, so the
// output is byte-identical to the call without it; the hint runs once per element, tasks with
// fewer elements than the queue holds included (3 partitions of 25 keys, and 2000 keys); values
// that change size and lists that are absent keep no stale contents from a reused queue slot.
TEST_F(DataflowTest, MapValuesWithLookAheadMatchesWithout) {
  for (int keys : {25, 2000}) {
    SCOPED_TRACE(keys);
    std::vector<KV> rows;
    const std::string tag = std::to_string(keys);
    std::string in = Lines("ahead" + std::to_string(keys) + ".txt", 4 * keys, keys, 11, &rows);
    using Lists = std::pair<std::string, std::optional<std::vector<int64_t>>>;
    // Sums of each key's values weighted by the side's value of the key they name.
    auto index = [](const std::vector<KV>& side) {
      std::map<std::string, int64_t> m;
      for (const auto& [k, v] : side) m[k] += v;
      return m;
    };
    auto f = [](const std::optional<std::vector<int64_t>>& list, const std::map<std::string, int64_t>& m) {
      int64_t sum = 0;
      if (list) {
        for (int64_t v : *list) {
          auto it = m.find("k" + std::to_string(std::abs(v) % 50));
          sum += v * (it == m.end() ? 1 : it->second);
        }
      }
      return std::pair<int64_t, size_t>(sum, list ? list->size() : 0);
    };
    Run([&](Flow& fl) {
      auto data = Parse(fl, in);
      auto lists = data.GroupByKey().Map([](const std::pair<std::string, std::vector<int64_t>>& g) {
        // Every third key without a list, so slots go from engaged to not and back.
        return Lists(g.first, g.first.back() % 3 == 0 ? std::nullopt : std::optional<std::vector<int64_t>>(g.second));
      });
      lists.MapValuesWith(data, index, f).Write(Out("plain" + tag));
      lists
          .MapValuesWith(data, index, f,
                         [](const std::optional<std::vector<int64_t>>& list, const std::map<std::string, int64_t>&) {
                           Increment("ahead");
                         })
          .Write(Out("ahead" + tag));
    });
    RunReport r = Run([&](Flow& fl) {
      auto data = Parse(fl, in);
      data.GroupByKey()
          .Map([](const std::pair<std::string, std::vector<int64_t>>& g) {
            return Lists(g.first, g.first.back() % 3 == 0 ? std::nullopt : std::optional<std::vector<int64_t>>(g.second));
          })
          .MapValuesWith(data, index, f, [](const std::optional<std::vector<int64_t>>&, const std::map<std::string, int64_t>&) {
            Increment("ahead");
          })
          .Write(Out("ahead2" + tag));
    });
    std::set<std::string> distinct;
    for (const auto& [k, v] : rows) distinct.insert(k);
    EXPECT_EQ(r.counters["ahead"], static_cast<int64_t>(distinct.size()));
    auto plain = ReadRecords(Out("plain" + tag));
    EXPECT_EQ(plain.size(), distinct.size());
    EXPECT_EQ(ReadRecords(Out("ahead" + tag)), plain);
    EXPECT_EQ(ReadRecords(Out("ahead2" + tag)), plain);
    // Against the direct computation.
    std::map<std::string, std::vector<int64_t>> groups;
    for (const auto& [k, v] : rows) groups[k].push_back(v);
    auto m = index(rows);
    std::map<std::string, std::pair<int64_t, size_t>> want;
    for (const auto& [k, vs] : groups) {
      want[k] = f(k.back() % 3 == 0 ? std::nullopt : std::optional<std::vector<int64_t>>(vs), m);
    }
    std::map<std::string, std::pair<int64_t, size_t>> got;
    for (const auto& [k, v] : Read<std::string, std::pair<int64_t, size_t>>(Out("ahead" + tag))) got[k] = v;
    EXPECT_EQ(got, want);
  }
}

// The acceptance pipeline: Map -> Filter -> ReduceByKey -> Map -> SortBy is two shuffle stages,
// the narrow operators fused into them, one dataset materialized between them.
TEST_F(DataflowTest, FusedPipelineIsTwoShuffleStages) {
  std::vector<KV> rows;
  std::string in = Lines("in.txt", 3000, 80, 9, &rows);
  Program p = [&](Flow& f) {
    f.ReadText({in})
        .Map([](std::string_view line) {
          size_t tab = line.find('\t');
          return KV(std::string(line.substr(0, tab)), std::stoll(std::string(line.substr(tab + 1))));
        })
        .Filter([](const KV& kv) { return kv.second >= 0; })
        .ReduceByKey([](int64_t a, int64_t b) { return a + b; })
        .Map([](const KV& kv) { return std::pair<int64_t, std::string>(kv.second, kv.first); })
        .SortBy([](const std::pair<int64_t, std::string>& x) { return x; })
        .Write(Out("out"));
  };
  RunOptions o;
  o.partitions = 2;
  auto text = ExplainDataflow(p, o);
  ASSERT_TRUE(text.ok());
  const std::string golden =
      "plan: 2 shuffle stages in all\n"
      "stage 0.0  shuffle ReduceByKey#4 (2 partitions, map-side combining), materializes Map#5\n"
      "  map     ReadText#1(" + in + ") -> Map#2 -> Filter#3 => ReduceByKey#4\n"
      "  reduce  ReduceByKey#4 -> Map#5\n"
      "stage 0.1  shuffle SortBy#6 (2 partitions, total order), materializes Write#7(" + Out("out") + ")\n"
      "  map     Map#5 => SortBy#6\n"
      "  reduce  SortBy#6 -> Write#7(" + Out("out") + ")\n";
  EXPECT_EQ(*text, golden);
  RunReport r = Run(p, 2);
  EXPECT_EQ(r.stages_run, 2);
  EXPECT_EQ(r.shuffle_stages_run, 2);
  EXPECT_EQ(r.intermediates, 1);  // only stage 0.0's output; Map, Filter and Map wrote nothing
  std::map<std::string, int64_t> sums;
  for (const auto& kv : rows) {
    if (kv.second >= 0) sums[kv.first] += kv.second;
  }
  std::vector<std::pair<int64_t, std::string>> want;
  for (const auto& [k, v] : sums) want.emplace_back(v, k);
  std::sort(want.begin(), want.end());
  EXPECT_EQ((Read<int64_t, std::string>(Out("out"))), want);
}

// Collatz-like steps until every value is 1, stopping on a counter; and a fixed count.
TEST_F(DataflowTest, IterateFixedAndUntilConverged) {
  std::string in = dir_.Write("in.txt", "6\n7\n27\n1\n");
  int iterations = 0;
  RunReport r = Run([&](Flow& f) {
    auto start = f.ReadText({in}).Map([](std::string_view s) {
      int64_t v = std::stoll(std::string(s));
      return std::pair<int64_t, int64_t>(v, v);
    });
    auto step = [](Dataset<std::pair<int64_t, int64_t>> d) {
      return d.MapValues([](int64_t v) {
        if (v == 1) return v;
        Increment("not_one");
        return v % 2 ? 3 * v + 1 : v / 2;
      });
    };
    IterateOptions until;
    until.until = [&](int i, const Counters& c) {
      iterations = i + 1;
      auto it = c.find("not_one");
      return it == c.end() || it->second == 0;
    };
    f.Iterate(start, 1000, step, until).Write(Out("converged"));
    f.Iterate(start, 3, step).Write(Out("three"));
  });
  auto converged = Read<int64_t, int64_t>(Out("converged"));
  ASSERT_EQ(converged.size(), 4u);
  for (const auto& [k, v] : converged) EXPECT_EQ(v, 1) << k;
  EXPECT_EQ(iterations, 112);  // 27 takes 111 steps to reach 1; one more sees no change
  std::map<int64_t, int64_t> three;
  for (const auto& [k, v] : Read<int64_t, int64_t>(Out("three"))) three[k] = v;
  EXPECT_EQ(three, (std::map<int64_t, int64_t>{{1, 1}, {6, 5}, {7, 34}, {27, 124}}));
}

// The side input is built by the tasks that need it together (each decodes parts); a failure
// while building (here, in prepare) fails every task that waits for it, and the run, with the
// error's text; the next run builds again.
TEST_F(DataflowTest, SideBuildFailureFailsTheRun) {
  std::vector<KV> rows;
  std::string in = Lines("side.txt", 3000, 500, 9, &rows);
  auto program = [&](bool fail, const std::string& out) {
    return [&, fail, out](Flow& f) {
      auto data = Parse(f, in).ReduceByKey([](int64_t a, int64_t b) { return a + b; });
      data.MapValuesWith(
              data,
              [fail](const std::vector<KV>& side) {
                if (fail) throw std::runtime_error("prepare refused the side");
                return static_cast<int64_t>(side.size());
              },
              [](int64_t v, const int64_t& n) { return v * n; })
          .Write(out);
    };
  };
  RunOptions o;
  o.partitions = 4;
  o.threads = 2;
  o.tmp_dir = dir_.Sub("tmp");
  RunReport bad = RunDataflow(program(true, Out("bad")), o);
  EXPECT_FALSE(bad.ok);
  EXPECT_NE(bad.error.find("prepare refused the side"), std::string::npos) << bad.error;
  RunReport good = RunDataflow(program(false, Out("good")), o);
  ASSERT_TRUE(good.ok) << good.error;
  std::map<std::string, int64_t> sum;
  for (const auto& [k, v] : rows) sum[k] += v;
  std::map<std::string, int64_t> got;
  for (const auto& [k, v] : Read<std::string, int64_t>(Out("good"))) got[k] = v;
  std::map<std::string, int64_t> want;
  for (const auto& [k, v] : sum) want[k] = v * static_cast<int64_t>(sum.size());
  EXPECT_EQ(got, want);
}

TEST_F(DataflowTest, RefusesWhatItCannotPlan) {
  std::string in = dir_.Write("in.txt", "a\t1\n");
  RunOptions o;
  auto no_write = ExplainDataflow([&](Flow& f) { Parse(f, in); }, o);
  EXPECT_FALSE(no_write.ok());
  auto broadcast_full = ExplainDataflow(
      [&](Flow& f) {
        auto d = Parse(f, in);
        f.Iterate(d, 2, [&](Dataset<KV> x) {
           x.Write(Out("inside"));
           return x.Filter([](const KV&) { return true; });
         }).Write(Out("out"));
      },
      o);
  EXPECT_FALSE(broadcast_full.ok());
}

}  // namespace
}  // namespace sawmill::df
