/* graph_gen: the seeded, deterministic web-like graph of bench/dataflow.sh's PageRank section,
 * in C because 10M edges must take seconds (no numpy here; awk is ~10x slower).
 *
 *   graph_gen --pages N --edges E [--seed S] [--zipf 0.9] [--dangling_pct 7]   > edges.tsv
 *
 * Writes E lines `src<TAB>dst`, pages named by the decimal integers 0..N-1 (no leading zeros).
 *   - Exactly floor(N * dangling_pct / 100) pages are dangling (no out-edges), chosen by a fixed
 *     permutation of 0..N-1; every other page has at least one out-edge.
 *   - Every page appears in at least one edge: each non-dangling page gets one edge page -> d, each
 *     dangling page one edge s -> page (s a uniform non-dangling page); so the edge list names
 *     exactly N distinct pages. Needs E >= N.
 *   - The other E - N edges: sources uniform over the non-dangling pages, destinations power-law:
 *     rank ~ continuous Zipf(--zipf) over 1..N (--zipf 0: uniform), mapped to page ids by a
 *     second permutation so the popular pages are spread over the id range. With --zipf 0.9 and
 *     N = 1M the most linked page has ~3% of the edges.
 *   - No self-loops (a destination equal to its source is drawn again); duplicate edges happen
 *     (each line is one edge, as PageRank's out-degree counts them).
 *   - Line order: page 0's guaranteed edge, then about (E-N)/N random edges, then page 1's, ...
 * Same arguments, same bytes: a splitmix64 stream, no libc rand, integer-only output. Prints
 * `graph_gen: pages=N dangling=D edges=E` on stderr. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t splitmix64(uint64_t* s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static double uniform01(uint64_t* s) { return (double)(splitmix64(s) >> 11) * (1.0 / 9007199254740992.0); }
/* Uniform in 0..n-1 (n > 0), by a 64x64->128 multiply. */
static uint64_t below(uint64_t* s, uint64_t n) { return (uint64_t)(((unsigned __int128)splitmix64(s) * n) >> 64); }

static uint64_t gcd(uint64_t a, uint64_t b) {
  while (b) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}
/* A bijection on 0..n-1: x -> (x * mult + offset) mod n, mult coprime with n. */
typedef struct {
  uint64_t n, mult, offset;
} Perm;
static Perm make_perm(uint64_t n, double golden, uint64_t offset) {
  Perm p = {n, ((uint64_t)((double)n * golden) | 1) % n, offset % n};
  if (p.mult == 0) p.mult = 1;
  while (gcd(p.mult, n) != 1) p.mult = (p.mult + 2) % n;
  return p;
}
static uint64_t perm_apply(const Perm* p, uint64_t x) {
  return (uint64_t)(((unsigned __int128)x * p->mult + p->offset) % p->n);
}

/* Buffered stdout with hand-rolled integer formatting: printf would dominate the run time. */
static char out_buf[1 << 20];
static size_t out_len;
static void flush_out(void) {
  if (out_len && fwrite(out_buf, 1, out_len, stdout) != out_len) {
    perror("graph_gen: write");
    exit(1);
  }
  out_len = 0;
}
static void put_u64(uint64_t v, char end) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  if (out_len + 48 > sizeof out_buf) flush_out();
  while (n) out_buf[out_len++] = tmp[--n];
  out_buf[out_len++] = end;
}
static void put_edge(uint64_t src, uint64_t dst) {
  put_u64(src, '\t');
  put_u64(dst, '\n');
}

static void usage(void) {
  fprintf(stderr, "usage: graph_gen --pages N --edges E [--seed S] [--zipf 0.9] [--dangling_pct 7] > edges.tsv\n");
  exit(2);
}

int main(int argc, char** argv) {
  uint64_t pages = 0, edges = 0, seed = 1;
  double zipf = 0.9, dangling_pct = 7;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    const char* v = argv[++i];
    char* end;
    if (!strcmp(argv[i - 1], "--pages")) pages = strtoull(v, &end, 10);
    else if (!strcmp(argv[i - 1], "--edges")) edges = strtoull(v, &end, 10);
    else if (!strcmp(argv[i - 1], "--seed")) seed = strtoull(v, &end, 10);
    else if (!strcmp(argv[i - 1], "--zipf")) zipf = strtod(v, &end);
    else if (!strcmp(argv[i - 1], "--dangling_pct")) dangling_pct = strtod(v, &end);
    else usage();
    if (*end) usage();
  }
  if (pages < 2 || edges < pages || zipf < 0 || dangling_pct < 0 || dangling_pct > 50) {
    fprintf(stderr, "graph_gen: wants --pages >= 2, --edges >= --pages, --zipf >= 0, 0 <= --dangling_pct <= 50\n");
    return 2;
  }

  /* page p is dangling iff dangle_perm(p) < dangling. */
  uint64_t dangling = (uint64_t)((double)pages * dangling_pct / 100.0);
  Perm dangle_perm = make_perm(pages, 0.7548776662, pages / 5);
  Perm dst_perm = make_perm(pages, 0.6180339887, pages / 3);
  uint64_t live = pages - dangling;
  uint32_t* sources = malloc(live * sizeof *sources); /* the non-dangling pages */
  char* is_dangling = calloc(pages, 1);
  if (!sources || !is_dangling || pages > UINT32_MAX) {
    fprintf(stderr, "graph_gen: out of memory or --pages over 2^32\n");
    return 1;
  }
  uint64_t k = 0;
  for (uint64_t p = 0; p < pages; p++) {
    if (perm_apply(&dangle_perm, p) < dangling) is_dangling[p] = 1;
    else sources[k++] = (uint32_t)p;
  }

  /* Continuous Zipf(s) on [1, N+1) by inversion: x = ((N+1)^(1-s) - 1) u + 1)^(1/(1-s)) for s != 1,
   * x = (N+1)^u for s = 1; rank = floor(x) - 1 in 0..N-1. */
  uint64_t rng = seed * 0x2545f4914f6cdd1dULL + 12345;
  const double top = (double)pages + 1;
  const int log_form = fabs(zipf - 1) < 1e-9;
  const double a = 1 - zipf, span = log_form ? log(top) : pow(top, a) - 1, inv_a = log_form ? 0 : 1 / a;
#define DRAW_DST(out)                                                              \
  do {                                                                             \
    uint64_t rank_;                                                                \
    if (zipf == 0) {                                                               \
      rank_ = below(&rng, pages);                                                  \
    } else {                                                                       \
      double u_ = uniform01(&rng);                                                 \
      double x_ = log_form ? exp(u_ * span) : pow(span * u_ + 1, inv_a);           \
      rank_ = (uint64_t)x_ - 1;                                                    \
      if (rank_ >= pages) rank_ = pages - 1;                                       \
    }                                                                              \
    (out) = perm_apply(&dst_perm, rank_);                                          \
  } while (0)

  uint64_t extra = edges - pages, written = 0;
  for (uint64_t p = 0; p < pages; p++) {
    uint64_t src, dst;
    if (is_dangling[p]) {
      src = sources[below(&rng, live)];
      dst = p;
    } else {
      src = p;
      do DRAW_DST(dst); while (dst == src);
    }
    put_edge(src, dst);
    /* spread the extra edges evenly: after page p, extra*(p+1)/N of them in all */
    uint64_t until = (uint64_t)(((unsigned __int128)extra * (p + 1)) / pages);
    for (; written < until; written++) {
      src = sources[below(&rng, live)];
      do DRAW_DST(dst); while (dst == src);
      put_edge(src, dst);
    }
  }
  flush_out();
  if (fflush(stdout) != 0) {
    perror("graph_gen: write");
    return 1;
  }
  fprintf(stderr, "graph_gen: pages=%llu dangling=%llu edges=%llu\n", (unsigned long long)pages,
          (unsigned long long)dangling, (unsigned long long)edges);
  free(sources);
  free(is_dangling);
  return 0;
}
