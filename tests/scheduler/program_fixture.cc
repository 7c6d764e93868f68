// The program fixtures of tests/scheduler/program_fixture.h.
#include "tests/scheduler/program_fixture.h"

#include <string>
#include <utility>
#include <vector>

namespace sawmill::sched::testing {
namespace {

struct Stage {
  std::string key;
  std::vector<std::string> operators;
  std::vector<std::pair<std::string, std::string>> inputs;  // from, kind
};

// A stage's attempts from `start` (ms since the program's submission): `maps` map tasks, then
// `reduces` reduce tasks once the maps are done; the first `done` succeeded, the rest run. With
// `retried`, map 1's first attempt failed and its second succeeded.
void FillAttempts(proto::StageStatus::Builder st, int maps, int reduces, int done, int64_t start, bool retried) {
  struct Attempt {
    bool reduce;
    int task, number;
    const char* state;
    int64_t begin, end;
    const char* error;
  };
  std::vector<Attempt> list;
  if (retried) list.push_back({false, 1, 0, "failed", start + 10, start + 70, "exit 1: out of memory"});
  for (int i = 0; i < maps + reduces; ++i) {
    const bool reduce = i >= maps, ok = i < done;
    const int task = reduce ? i - maps : i, number = retried && !reduce && task == 1 ? 1 : 0;
    const int64_t begin = reduce ? start + 240 : start + 10 + 12 * (task % 2) + 70 * number;
    list.push_back({reduce, task, number, ok ? "succeeded" : "running", begin, ok ? begin + 120 + 9 * i : 0, ""});
  }
  auto out = st.initAttempts(static_cast<unsigned>(list.size()));
  for (size_t k = 0; k < list.size(); ++k) {
    const Attempt& a = list[k];
    auto o = out[static_cast<unsigned>(k)];
    o.setAttemptId(std::string(st.getJobId().cStr()) + (a.reduce ? "_r_" : "_m_") + std::to_string(a.task) + "_" +
                   std::to_string(a.number));
    o.setReduce(a.reduce);
    o.setTask(a.task);
    o.setAttempt(a.number);
    o.setWorker("w" + std::to_string(a.task % 2 + 1));
    o.setHost("host" + std::to_string(a.task % 2 + 1));
    o.setState(a.state);
    o.setStartMs(a.begin);
    o.setEndMs(a.end);
    o.setLocal(a.task % 3 != 0);
    o.setError(a.error);
  }
}

}  // namespace

const char kHostileKey[] = "<script>alert(\"k\")</script>&'\x01\xff";
const char kHostileOperator[] = "</text><svg onload=alert(1)>";

void FillPageRankProgram(proto::JobStatus::Builder s, int iterations) {
  std::vector<Stage> stages = {{"s0", {"ReadText", "FlatMap"}, {{"", "read"}}},
                               {"s1", {"ReduceByKey"}, {{"s0", "shuffle"}}},
                               {"r0", {"Map", "ReduceByKey"}, {{"s1", "shuffle"}}}};
  for (int n = 0; n < iterations; ++n) {
    const std::string prev = n == 0 ? "r0" : "s3-i" + std::to_string(n - 1), i = "-i" + std::to_string(n);
    stages.push_back({"s2" + i, {"Join", "Map"}, {{prev, "shuffle"}, {"s1", n % 2 == 0 ? "broadcast" : "shuffle"}}});
    stages.push_back({"s3" + i, {"ReduceByKey"}, {{"s2" + i, "shuffle"}}});
  }
  stages.push_back({"s4", {"Map", "TopK"}, {{stages.back().key, "shuffle"}}});
  stages.push_back({"s5", {"WriteText"}, {{"s4", "read"}}});

  s.setJobId("job-7");
  s.setName("pagerank");
  s.setState("running");
  s.setOutput("dfs:/out/ranks");
  s.setSubmitUnixMs(1'700'000'000'000);
  s.setElapsedMs(7'400);
  s.setProgram(true);
  auto master = s.initAttempts(1);
  master[0].setAttemptId("job-7_m_0_0");
  master[0].setHost("host1");
  master[0].setWorker("w1");
  master[0].setState("running");
  master[0].setStartMs(20);

  auto list = s.initStages(static_cast<unsigned>(stages.size()));
  int64_t t = 100;
  bool running_seen = false;
  for (size_t k = 0; k < stages.size(); ++k) {
    const Stage& st = stages[k];
    auto out = list[static_cast<unsigned>(k)];
    out.setKey(st.key);
    out.setJobId("job-" + std::to_string(8 + k));
    auto ops = out.initOperators(static_cast<unsigned>(st.operators.size()));
    for (size_t o = 0; o < st.operators.size(); ++o) ops.set(static_cast<unsigned>(o), st.operators[o]);
    auto in = out.initInputs(static_cast<unsigned>(st.inputs.size()));
    for (size_t e = 0; e < st.inputs.size(); ++e) {
      in[static_cast<unsigned>(e)].setFrom(st.inputs[e].first);
      in[static_cast<unsigned>(e)].setKind(st.inputs[e].second);
    }
    const int reduces = st.key == "s5" ? 0 : 2;
    out.setMaps(4);
    out.setReduces(reduces);
    out.setSubmissions(st.key == "s1" ? 2 : 1);
    const bool running = st.key == "s3-i6";
    const bool done = !running && !running_seen;
    running_seen = running_seen || running;
    if (done) {
      const bool retried = st.key == "s0";
      out.setState("succeeded");
      out.setMapsDone(4);
      out.setReducesDone(reduces);
      out.setStartMs(t);
      out.setEndMs(t + 420);
      out.setRecordsOut(100'000 + 1'000 * k);
      out.setBytesOut(2'000'000 + 10'000 * k);
      FillAttempts(out, 4, reduces, 4 + reduces, t, retried);
      t += 440;
    } else if (running) {
      out.setState("running");
      out.setMapsDone(2);
      out.setMapsRunning(1);
      out.setStartMs(t);
      out.setEndMs(0);
      FillAttempts(out, 3, 0, 2, t, false);
    } else {
      out.setState("waiting");
      out.initAttempts(0);
    }
  }
}

void FillHostileProgram(proto::JobStatus::Builder s) {
  s.setJobId("job-9");
  s.setName("hostile");
  s.setState("failed");
  s.setProgram(true);
  s.setElapsedMs(1'000);
  auto list = s.initStages(2);
  list[0].setKey(kHostileKey);
  list[0].setJobId("job-<10>");
  list[0].setState("failed");
  auto ops = list[0].initOperators(2);
  ops.set(0, kHostileOperator);
  ops.set(1, "Map\n\"quoted\"");
  auto in0 = list[0].initInputs(1);
  in0[0].setFrom("");
  in0[0].setKind("<b>read</b>");
  list[0].setMaps(1);
  list[1].setKey("after");
  list[1].setJobId("job-11");
  list[1].setState("<i>odd</i>");
  list[1].initOperators(1).set(0, "Reduce");
  auto in1 = list[1].initInputs(1);
  in1[0].setFrom(kHostileKey);
  in1[0].setKind("shuffle");
  auto attempts = list[0].initAttempts(1);
  attempts[0].setAttemptId("<a>");
  attempts[0].setHost("h&<>");
  attempts[0].setState("failed");
  attempts[0].setStartMs(10);
  attempts[0].setEndMs(500);
  attempts[0].setError("</title><script>x</script>");
}

}  // namespace sawmill::sched::testing
