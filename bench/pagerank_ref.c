/* pagerank_ref: the baseline and oracle of bench/dataflow.sh's PageRank section. A straightforward
 * single-threaded in-memory PageRank over a TSV edge list, in plain C.
 *
 *   pagerank_ref --input EDGES.tsv --output RANKS.tsv [--iterations 10] [--damping 0.85]
 *
 * Input: lines `src<TAB>dst`, one edge per line (duplicates count twice); page names are decimal
 * integers (0 .. 2^64-1, no sign, no leading zeros, as bench/graph_gen.c writes them) and are
 * mapped by their value; anything else is an error. Empty lines are skipped.
 * Pages: the N distinct names in the edge list. Ranks start at 1/N; each iteration
 *   rank'(p) = (1-d)/N + d * (sum over edges q->p of rank(q)/outdeg(q) + dangling/N)
 * where dangling is the sum of the ranks of the pages without out-edges (so the ranks keep
 * summing to 1). Output (--output, "-" for stdout): `page<TAB>rank` lines sorted by the page name's
 * bytes (strcmp order), the rank as %.17g. Prints its phases' seconds on stderr:
 *   pagerank_ref: pages=N edges=E dangling=D iterations=I read_s=.. iterate_s=.. write_s=.. total_s=..
 * Works in 32-bit page ids (N < 2^32) and holds the edges twice (about 16 bytes per edge). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
static void die(const char* what) {
  fprintf(stderr, "pagerank_ref: %s\n", what);
  exit(1);
}
static void* xrealloc(void* p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) die("out of memory");
  return p;
}

/* page value -> dense id: open addressing (linear probing) over a power-of-two table. */
typedef struct {
  uint64_t* keys;
  uint32_t* ids; /* UINT32_MAX: empty */
  size_t cap, size;
} Map;
static size_t hash64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return (size_t)x;
}
static void map_init(Map* m, size_t cap) {
  m->cap = cap;
  m->size = 0;
  m->keys = xrealloc(NULL, cap * sizeof *m->keys);
  m->ids = xrealloc(NULL, cap * sizeof *m->ids);
  memset(m->ids, 0xff, cap * sizeof *m->ids);
}
static void map_grow(Map* m) {
  Map n;
  map_init(&n, m->cap * 2);
  size_t mask = n.cap - 1;
  for (size_t i = 0; i < m->cap; i++) {
    if (m->ids[i] == UINT32_MAX) continue;
    size_t j = hash64(m->keys[i]) & mask;
    while (n.ids[j] != UINT32_MAX) j = (j + 1) & mask;
    n.keys[j] = m->keys[i];
    n.ids[j] = m->ids[i];
  }
  n.size = m->size;
  free(m->keys);
  free(m->ids);
  *m = n;
}

/* Growable arrays of the edges' dense ids, in input order. */
static uint32_t *src_ids, *dst_ids;
static size_t n_edges, cap_edges;
/* dense id -> page value */
static uint64_t* values;
static size_t values_cap;
static Map map;

/* The dense id of page value v, a new one the first time. */
static uint32_t page_id(uint64_t v) {
  if (map.size + 1 > values_cap) {
    values_cap = values_cap ? values_cap * 2 : 1 << 16;
    values = xrealloc(values, values_cap * sizeof *values);
  }
  size_t mask = map.cap - 1, i = hash64(v) & mask;
  while (map.ids[i] != UINT32_MAX) {
    if (map.keys[i] == v) return map.ids[i];
    i = (i + 1) & mask;
  }
  if (map.size >= UINT32_MAX - 1) die("more than 2^32 - 2 pages");
  uint32_t id = (uint32_t)map.size++;
  map.keys[i] = v;
  map.ids[i] = id;
  values[id] = v;
  if (map.size * 2 > map.cap) map_grow(&map);
  return id;
}

static uint64_t line_no;
static void bad_line(void) {
  fprintf(stderr, "pagerank_ref: line %llu: want `src<TAB>dst` with decimal page names\n",
          (unsigned long long)line_no);
  exit(1);
}
/* Parses a canonical decimal at *p up to `end` char; advances *p past it. */
static uint64_t parse_name(const char** p, char end) {
  const char* s = *p;
  uint64_t v = 0;
  if (*s < '0' || *s > '9') bad_line();
  if (*s == '0' && s[1] >= '0' && s[1] <= '9') bad_line(); /* leading zero: "07" would alias "7" */
  for (; *s >= '0' && *s <= '9'; s++) {
    uint64_t d = (uint64_t)(*s - '0');
    if (v > (UINT64_MAX - d) / 10) bad_line();
    v = v * 10 + d;
  }
  if (*s != end) bad_line();
  *p = s + 1;
  return v;
}
static void add_edge(uint64_t s, uint64_t d) {
  if (n_edges == cap_edges) {
    cap_edges = cap_edges ? cap_edges * 2 : 1 << 20;
    src_ids = xrealloc(src_ids, cap_edges * sizeof *src_ids);
    dst_ids = xrealloc(dst_ids, cap_edges * sizeof *dst_ids);
  }
  src_ids[n_edges] = page_id(s);
  dst_ids[n_edges] = page_id(d);
  n_edges++;
}
static void read_edges(const char* path) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(1);
  }
  size_t cap = 16 << 20, have = 0;
  char* buf = xrealloc(NULL, cap + 1);
  for (;;) {
    size_t got = fread(buf + have, 1, cap - have, f);
    have += got;
    int eof = got == 0;
    if (eof && ferror(f)) die("read error");
    if (eof && have > 0 && buf[have - 1] != '\n') buf[have++] = '\n'; /* last line without \n */
    buf[have] = 0;
    /* parse the complete lines in buf[0..have) */
    const char* p = buf;
    const char* limit = buf + have;
    for (;;) {
      const char* nl = memchr(p, '\n', (size_t)(limit - p));
      if (!nl) break;
      line_no++;
      if (nl != p) {
        uint64_t s = parse_name(&p, '\t');
        uint64_t d = parse_name(&p, '\n');
        add_edge(s, d);
      } else {
        p++;
      }
    }
    have = (size_t)(limit - p);
    memmove(buf, p, have);
    if (eof) break;
    if (have == cap) { /* one line longer than the buffer: not ours */
      line_no++;
      bad_line();
    }
  }
  free(buf);
  fclose(f);
}

/* Output order: the page names' text in strcmp order ("0" < "1" < "10" < "100" < "2"). */
static char* name_buf; /* 21 bytes per page: NUL-terminated decimal */
static int cmp_names(const void* a, const void* b) {
  return strcmp(name_buf + (size_t)*(const uint32_t*)a * 21, name_buf + (size_t)*(const uint32_t*)b * 21);
}

int main(int argc, char** argv) {
  const char *input = NULL, *output = NULL;
  long iterations = 10;
  double damping = 0.85;
  for (int i = 1; i < argc; i++) {
    const char* f = argv[i];
    if (i + 1 >= argc) goto usage;
    const char* v = argv[++i];
    char* end = "";
    if (!strcmp(f, "--input")) input = v;
    else if (!strcmp(f, "--output")) output = v;
    else if (!strcmp(f, "--iterations")) iterations = strtol(v, &end, 10);
    else if (!strcmp(f, "--damping")) damping = strtod(v, &end);
    else goto usage;
    if (*end) goto usage;
  }
  if (!input || !output || iterations < 0 || damping < 0 || damping > 1) goto usage;

  double t0 = now_s();
  map_init(&map, 1 << 16);
  read_edges(input);
  size_t n = map.size;
  if (n == 0) die("no edges");

  /* CSR of the in-edges (by destination) for a pull-style iteration; out-degrees. */
  uint32_t* outdeg = xrealloc(NULL, n * sizeof *outdeg);
  size_t* in_start = xrealloc(NULL, (n + 1) * sizeof *in_start);
  memset(outdeg, 0, n * sizeof *outdeg);
  memset(in_start, 0, (n + 1) * sizeof *in_start);
  for (size_t e = 0; e < n_edges; e++) {
    outdeg[src_ids[e]]++;
    in_start[dst_ids[e] + 1]++;
  }
  for (size_t p = 0; p < n; p++) in_start[p + 1] += in_start[p];
  uint32_t* in_src = xrealloc(NULL, n_edges * sizeof *in_src);
  {
    size_t* fill = xrealloc(NULL, n * sizeof *fill);
    memcpy(fill, in_start, n * sizeof *fill);
    for (size_t e = 0; e < n_edges; e++) in_src[fill[dst_ids[e]]++] = src_ids[e];
    free(fill);
  }
  free(src_ids);
  free(dst_ids);
  size_t dangling_pages = 0;
  for (size_t p = 0; p < n; p++) dangling_pages += outdeg[p] == 0;
  double t1 = now_s();

  double* rank = xrealloc(NULL, n * sizeof *rank);
  double* contrib = xrealloc(NULL, n * sizeof *contrib);
  for (size_t p = 0; p < n; p++) rank[p] = 1.0 / (double)n;
  for (long it = 0; it < iterations; it++) {
    double dangling = 0;
    for (size_t p = 0; p < n; p++) {
      if (outdeg[p]) contrib[p] = rank[p] / outdeg[p];
      else dangling += rank[p];
    }
    const double base = (1 - damping) / (double)n + damping * dangling / (double)n;
    for (size_t p = 0; p < n; p++) {
      double s = 0;
      for (size_t e = in_start[p]; e < in_start[p + 1]; e++) s += contrib[in_src[e]];
      rank[p] = base + damping * s;
    }
  }
  double t2 = now_s();

  name_buf = xrealloc(NULL, n * 21);
  uint32_t* order = xrealloc(NULL, n * sizeof *order);
  for (size_t p = 0; p < n; p++) {
    snprintf(name_buf + p * 21, 21, "%llu", (unsigned long long)values[p]);
    order[p] = (uint32_t)p;
  }
  qsort(order, n, sizeof *order, cmp_names);
  FILE* out = strcmp(output, "-") ? fopen(output, "w") : stdout;
  if (!out) {
    perror(output);
    return 1;
  }
  static char obuf[1 << 20];
  setvbuf(out, obuf, _IOFBF, sizeof obuf);
  for (size_t i = 0; i < n; i++) {
    uint32_t p = order[i];
    fprintf(out, "%s\t%.17g\n", name_buf + (size_t)p * 21, rank[p]);
  }
  if (fflush(out) != 0 || ferror(out) || (out != stdout && fclose(out) != 0)) die("write error");
  double t3 = now_s();
  fprintf(stderr,
          "pagerank_ref: pages=%zu edges=%zu dangling=%zu iterations=%ld read_s=%.3f iterate_s=%.3f write_s=%.3f "
          "total_s=%.3f\n",
          n, n_edges, dangling_pages, iterations, t1 - t0, t2 - t1, t3 - t2, t3 - t0);
  return 0;

usage:
  fprintf(stderr, "usage: pagerank_ref --input EDGES.tsv --output RANKS.tsv [--iterations 10] [--damping 0.85]\n");
  return 2;
}
