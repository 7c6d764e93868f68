/* join_gen: the seeded, deterministic tables of bench/join.sh (events with Zipf user ids, users),
 * in C because 20M rows must take seconds, not minutes (no numpy here; awk is ~10x slower).
 *
 *   join_gen events --rows N --users U [--seed S] [--zipf 1.1] [--hot F]   > events.tsv
 *       user_id<TAB>ts<TAB>page. user ids: Zipf(exponent --zipf) over ranks 0..U-1, mapped to ids
 *       by a fixed permutation so the hot ids are spread over the range; --zipf 0: uniform.
 *       --hot F: a share F of the rows (drawn per row) has the single hottest id instead.
 *   join_gen users --users U [--seed S] [--drop_pct P]                      > users.tsv
 *       user_id<TAB>country<TAB>name for ids 0..U-1, less about P% of them (default 5) chosen by a
 *       hash, so that a left join differs from an inner one; the hottest id is always kept.
 * Same arguments, same bytes: a splitmix64 stream, no libc rand, no floating point in the output. */
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

static uint64_t gcd(uint64_t a, uint64_t b) {
  while (b) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* rank -> user id: a bijection on 0..U-1 (multiplier coprime with U). */
typedef struct {
  uint64_t users, mult, offset;
} Perm;
static Perm make_perm(uint64_t users) {
  Perm p = {users, (uint64_t)((double)users * 0.6180339887) | 1, users / 3};
  while (gcd(p.mult % users, users) != 1) p.mult += 2;
  p.mult %= users;
  if (p.mult == 0) p.mult = 1;
  return p;
}
static uint64_t perm_id(const Perm* p, uint64_t rank) {
  return (uint64_t)(((unsigned __int128)rank * p->mult + p->offset) % p->users);
}

/* Buffered stdout with hand-rolled integer formatting: printf would dominate the run time. */
static char out_buf[1 << 20];
static size_t out_len;
static void flush_out(void) {
  if (out_len && fwrite(out_buf, 1, out_len, stdout) != out_len) {
    perror("join_gen: write");
    exit(1);
  }
  out_len = 0;
}
static void put_str(const char* s, size_t n) {
  if (out_len + n > sizeof out_buf) flush_out();
  memcpy(out_buf + out_len, s, n);
  out_len += n;
}
static void put_u64(uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  put_str(tmp + sizeof tmp - n, (size_t)n);
}
static void put_char(char c) {
  if (out_len + 1 > sizeof out_buf) flush_out();
  out_buf[out_len++] = c;
}

static void usage(void) {
  fprintf(stderr,
          "usage: join_gen events --rows N --users U [--seed S] [--zipf X] [--hot F]\n"
          "       join_gen users --users U [--seed S] [--drop_pct P]\n");
  exit(2);
}

int main(int argc, char** argv) {
  if (argc < 2) usage();
  const char* what = argv[1];
  uint64_t rows = 0, users = 0, seed = 1;
  double zipf = 1.1, hot = 0, drop_pct = 5;
  for (int i = 2; i < argc; i += 2) {
    if (i + 1 >= argc) usage();
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--rows")) rows = strtoull(v, NULL, 10);
    else if (!strcmp(k, "--users")) users = strtoull(v, NULL, 10);
    else if (!strcmp(k, "--seed")) seed = strtoull(v, NULL, 10);
    else if (!strcmp(k, "--zipf")) zipf = strtod(v, NULL);
    else if (!strcmp(k, "--hot")) hot = strtod(v, NULL);
    else if (!strcmp(k, "--drop_pct")) drop_pct = strtod(v, NULL);
    else usage();
  }
  if (users == 0) usage();
  Perm perm = make_perm(users);
  uint64_t hot_id = perm_id(&perm, 0);

  if (!strcmp(what, "users")) {
    static const char* kCountries[] = {"us", "de", "fr", "jp", "br", "in", "gb", "ca", "cn", "es", "it", "mx"};
    uint64_t threshold = (uint64_t)(drop_pct / 100.0 * 18446744073709551615.0);
    for (uint64_t id = 0; id < users; ++id) {
      uint64_t h = seed * 0x100000001b3ULL + id;
      uint64_t r = splitmix64(&h);
      if (id != hot_id && drop_pct > 0 && r < threshold) continue;
      put_u64(id);
      put_char('\t');
      put_str(kCountries[(r >> 8) % 12], 2);
      put_str("\tuser", 5);
      put_u64((r >> 16) % 100000);
      put_char('\n');
    }
  } else if (!strcmp(what, "events")) {
    if (rows == 0) usage();
    /* Zipf by inverse CDF: cumulative weights rank^-zipf, binary search per row. */
    double* cdf = NULL;
    if (zipf > 0) {
      cdf = malloc(users * sizeof *cdf);
      if (!cdf) {
        perror("join_gen: malloc");
        return 1;
      }
      double total = 0;
      for (uint64_t k = 0; k < users; ++k) cdf[k] = (total += pow((double)(k + 1), -zipf));
    }
    uint64_t s = seed;
    for (uint64_t i = 0; i < rows; ++i) {
      uint64_t rank;
      if (hot > 0 && uniform01(&s) < hot) {
        rank = 0;
      } else if (cdf) {
        double u = uniform01(&s) * cdf[users - 1];
        uint64_t lo = 0, hi = users - 1;
        while (lo < hi) {
          uint64_t mid = (lo + hi) / 2;
          if (cdf[mid] < u) lo = mid + 1;
          else hi = mid;
        }
        rank = lo;
      } else {
        rank = splitmix64(&s) % users;
      }
      uint64_t r = splitmix64(&s);
      put_u64(perm_id(&perm, rank));
      put_char('\t');
      put_u64(r % 1000000);  /* ts: seconds into the period */
      put_str("\tp", 2);
      put_u64((r >> 32) % 50);  /* page */
      put_char('\n');
    }
    free(cdf);
  } else {
    usage();
  }
  flush_out();
  if (fflush(stdout) != 0) {
    perror("join_gen: write");
    return 1;
  }
  return 0;
}
