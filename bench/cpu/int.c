/*
 * Integer CPU benchmark (bare metal): sorting, CRC-32, a chained hash table built from linked
 * lists, a small bytecode interpreter and integer matrix multiplication. Memory- and
 * branch-heavy on purpose. Every phase checks its own result; main() returns 0 when all agree,
 * otherwise the number of the failing check.
 */
#include <stdint.h>

#ifndef ROUNDS
#define ROUNDS 12
#endif

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* ---- sorting ---- */
#define NSORT 8192
static uint32_t arr[NSORT];

static void quicksort(uint32_t *a, int lo, int hi) {
  while (lo < hi) {
    uint32_t pivot = a[(lo + hi) >> 1];
    int i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        uint32_t t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    /* Recurse into the smaller half, loop on the larger one (bounded stack). */
    if (j - lo < hi - i) {
      quicksort(a, lo, j);
      lo = i;
    } else {
      quicksort(a, i, hi);
      hi = j;
    }
  }
}

static int sort_phase(void) {
  uint64_t sum = 0, sum2 = 0;
  for (int i = 0; i < NSORT; i++) {
    arr[i] = (uint32_t)next_rand();
    sum += arr[i];
  }
  quicksort(arr, 0, NSORT - 1);
  for (int i = 0; i < NSORT; i++) {
    if (i > 0 && arr[i - 1] > arr[i]) return 1;
    sum2 += arr[i];
  }
  return sum == sum2 ? 0 : 2;
}

/* ---- CRC-32 (IEEE, reflected) ---- */
static uint32_t crc_table[256];
static uint8_t buf[65536];

static void crc_init(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[n] = c;
  }
}

static uint32_t crc32(const uint8_t *p, uint32_t n) {
  uint32_t c = 0xffffffffu;
  while (n--) c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

/* Bitwise CRC, to cross-check the table-driven one. */
static uint32_t crc32_slow(const uint8_t *p, uint32_t n) {
  uint32_t c = 0xffffffffu;
  while (n--) {
    c ^= *p++;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & -(c & 1));
  }
  return c ^ 0xffffffffu;
}

static int crc_phase(void) {
  static const uint8_t check[9] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  if (crc32(check, 9) != 0xcbf43926u) return 3;
  for (uint32_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)next_rand();
  uint32_t a = crc32(buf, sizeof buf);
  uint32_t b = crc32_slow(buf, 4096);
  if (b != crc32(buf, 4096)) return 4;
  return a == crc32(buf, sizeof buf) ? 0 : 5;
}

/* ---- hash table of linked lists ---- */
#define NBUCKET 1024
#define NNODE 16384
struct node {
  uint64_t key;
  uint64_t value;
  struct node *next;
};
static struct node pool[NNODE];
static struct node *buckets[NBUCKET];
static struct node *free_list;

static int hash_phase(void) {
  free_list = 0;
  for (int i = 0; i < NNODE; i++) {
    pool[i].next = free_list;
    free_list = &pool[i];
  }
  for (int i = 0; i < NBUCKET; i++) buckets[i] = 0;
  uint64_t seed = rng;
  for (int i = 0; i < NNODE; i++) {
    uint64_t k = next_rand();
    struct node *n = free_list;
    free_list = n->next;
    n->key = k;
    n->value = (uint64_t)i;
    uint32_t h = (uint32_t)((k * 0x9e3779b97f4a7c15ull) >> 54);
    n->next = buckets[h];
    buckets[h] = n;
  }
  /* Look every key up again (same random sequence), then delete every other one. */
  rng = seed;
  uint64_t found = 0;
  for (int i = 0; i < NNODE; i++) {
    uint64_t k = next_rand();
    uint32_t h = (uint32_t)((k * 0x9e3779b97f4a7c15ull) >> 54);
    struct node **pp = &buckets[h];
    while (*pp && (*pp)->key != k) pp = &(*pp)->next;
    if (!*pp || (*pp)->value != (uint64_t)i) return 6;
    found++;
    if (i & 1) {
      struct node *dead = *pp;
      *pp = dead->next;
      dead->next = free_list;
      free_list = dead;
    }
  }
  uint64_t left = 0;
  for (int i = 0; i < NBUCKET; i++)
    for (struct node *n = buckets[i]; n; n = n->next) left++;
  return found == NNODE && left == NNODE / 2 ? 0 : 7;
}

/* ---- bytecode interpreter ---- */
enum { OP_PUSH, OP_LOAD, OP_STORE, OP_ADD, OP_SUB, OP_MUL, OP_MOD, OP_LT, OP_JZ, OP_JMP, OP_HALT };

/* Counts primes below N by trial division, as bytecode. Variables: 0 = n, 1 = d, 2 = count, 3 = N. */
static const int32_t prog[] = {
    OP_PUSH, 2, OP_STORE, 0,                                  /* n = 2 */
    OP_PUSH, 0, OP_STORE, 2,                                  /* count = 0 */
    /* 8: outer */ OP_LOAD, 0, OP_LOAD, 3, OP_LT, OP_JZ, 64,  /* while n < N */
    OP_PUSH, 2, OP_STORE, 1,                                  /* d = 2 */
    /* 19: inner */ OP_LOAD, 1, OP_LOAD, 1, OP_MUL, OP_LOAD, 0, OP_PUSH, 1, OP_ADD, OP_LT, OP_JZ, 48, /* d*d < n+1 */
    OP_LOAD, 0, OP_LOAD, 1, OP_MOD, OP_JZ, 55,                /* n % d == 0 -> composite */
    OP_LOAD, 1, OP_PUSH, 1, OP_ADD, OP_STORE, 1, OP_JMP, 19,  /* d++ */
    /* 48: prime */ OP_LOAD, 2, OP_PUSH, 1, OP_ADD, OP_STORE, 2, /* count++ */
    /* 55: next */ OP_LOAD, 0, OP_PUSH, 1, OP_ADD, OP_STORE, 0, /* n++ */
    OP_JMP, 8,
    /* 64 */ OP_HALT,
};

static int64_t interpret(int64_t limit) {
  int64_t stack[16], vars[4] = {0, 0, 0, limit};
  int sp = 0, pc = 0;
  for (;;) {
    switch (prog[pc]) {
      case OP_PUSH: stack[sp++] = prog[pc + 1]; pc += 2; break;
      case OP_LOAD: stack[sp++] = vars[prog[pc + 1]]; pc += 2; break;
      case OP_STORE: vars[prog[pc + 1]] = stack[--sp]; pc += 2; break;
      case OP_ADD: sp--; stack[sp - 1] += stack[sp]; pc++; break;
      case OP_SUB: sp--; stack[sp - 1] -= stack[sp]; pc++; break;
      case OP_MUL: sp--; stack[sp - 1] *= stack[sp]; pc++; break;
      case OP_MOD: sp--; stack[sp - 1] %= stack[sp]; pc++; break;
      case OP_LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; pc++; break;
      case OP_JZ: pc = stack[--sp] ? pc + 2 : prog[pc + 1]; break;
      case OP_JMP: pc = prog[pc + 1]; break;
      default: return vars[2];
    }
  }
}

static int64_t count_primes(int64_t limit) {
  int64_t count = 0;
  for (int64_t n = 2; n < limit; n++) {
    int64_t d = 2;
    while (d * d < n + 1 && n % d != 0) d++;
    if (d * d >= n + 1) count++;
  }
  return count;
}

static int interp_phase(void) {
  int64_t a = interpret(3000);
  return a == count_primes(3000) && a == 430 ? 0 : 8;
}

/* ---- integer matrix multiply ---- */
#define M 48
static int32_t ma[M][M], mb[M][M], mc[M][M];

static int matrix_phase(void) {
  for (int i = 0; i < M; i++)
    for (int j = 0; j < M; j++) {
      ma[i][j] = (int32_t)(next_rand() % 201) - 100;
      mb[i][j] = (int32_t)(next_rand() % 201) - 100;
    }
  for (int i = 0; i < M; i++)
    for (int j = 0; j < M; j++) {
      int32_t s = 0;
      for (int k = 0; k < M; k++) s += ma[i][k] * mb[k][j];
      mc[i][j] = s;
    }
  /* Check: sum of all entries of A*B = (column sums of A) . (row sums of B). */
  int64_t total = 0, check = 0;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < M; j++) total += mc[i][j];
  for (int k = 0; k < M; k++) {
    int64_t ca = 0, rb = 0;
    for (int i = 0; i < M; i++) ca += ma[i][k];
    for (int j = 0; j < M; j++) rb += mb[k][j];
    check += ca * rb;
  }
  return total == check ? 0 : 9;
}

int main(void) {
  crc_init();
  for (int r = 0; r < ROUNDS; r++) {
    int e;
    if ((e = sort_phase())) return e;
    if ((e = crc_phase())) return e;
    if ((e = hash_phase())) return e;
    if ((e = interp_phase())) return e;
    if ((e = matrix_phase())) return e;
  }
  return 0;
}
