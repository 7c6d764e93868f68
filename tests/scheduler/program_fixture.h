// Program job statuses for the tests of the web UI and of `sawmill job status`: a PageRank-like
// program mid-run, and one whose stage keys, operators and edge kinds are hostile text.
#pragma once

#include "scheduler/coordinator.capnp.h"

namespace sawmill::sched::testing {

// Job "job-7", pagerank, running, program = true, one running master attempt, 7.4 s elapsed.
// Stages in submission order (25 with 10 iterations): s0 (ReadText, FlatMap; reads the program's
// input), s1 (ReduceByKey: the links; shuffle from s0), r0 (Map, ReduceByKey: the first ranks;
// shuffle from s1), then per iteration N < `iterations` s2-iN (Join, Map; shuffle from s3-i<N-1>,
// or r0 for N = 0, and s1's links: broadcast in even iterations, shuffle in odd ones) and s3-iN
// (ReduceByKey; shuffle from s2-iN), s4 (Map, TopK; shuffle from the last s3) and s5 (WriteText;
// read from s4). Stages before s3-i6 succeeded, 420 ms each from 0.1 s on (s1 submitted twice,
// s0 with a failed map attempt retried), s3-i6 runs (2 of 4 maps done, 1 running), the rest wait
// with no attempts. Each stage's attempts come with it; a stage has 4 maps and, but for s5, 2
// reduces; stage k is job "job-<8+k>".
void FillPageRankProgram(proto::JobStatus::Builder s, int iterations = 10);

// A two-stage program whose stage key, operator names and an edge kind are markup, quotes,
// control characters and invalid UTF-8.
void FillHostileProgram(proto::JobStatus::Builder s);
extern const char kHostileKey[];
extern const char kHostileOperator[];

}  // namespace sawmill::sched::testing
