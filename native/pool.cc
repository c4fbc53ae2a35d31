// Thread pool: one job at a time, published through a generation word.
//
// `gen` packs (generation << 16 | nth). A worker that sees a new generation joins it only if it
// is a participant (tid < nth): it increments `active`, then checks that the caller has not
// already `closed` that generation. The caller, once no items are left to claim, stores `closed`
// and waits for `active` to drain. With seq_cst on both sides (store closed / load active versus
// increment active / load closed) either the caller sees the worker and waits for it, or the
// worker sees the job closed and leaves without touching it: the job's memory (on the caller's
// stack) is never used after pool_for returns.
//
// Sleeping: a worker increments `sleepers` under the mutex and re-checks `gen` before waiting;
// the publisher bumps `gen` then checks `sleepers` (both seq_cst), so no wake-up is lost. All
// state is POD and never freed, so process exit cannot race with parked workers.
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
#elif defined(__aarch64__)
static inline void cpu_relax() { __asm__ __volatile__("yield"); }
#else
static inline void cpu_relax() {}
#endif

namespace fennec {
namespace {

// How long an idle worker spins before sleeping.
constexpr int64_t kSpinNs = 200 * 1000;

struct Pool {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
  pthread_mutex_t run_mu = PTHREAD_MUTEX_INITIALIZER;  // one job at a time
  std::atomic<uint64_t> gen{0};       // generation << 16 | nth
  std::atomic<uint64_t> closed{0};    // last generation whose items are all claimed
  std::atomic<int> active{0};         // workers inside the current job
  std::atomic<int> sleepers{0};
  std::atomic<int64_t> next{0};       // next unclaimed item
  // The current job (written before gen is bumped, read only by joined workers).
  PoolItemFn fn = nullptr;
  void* arg = nullptr;
  int64_t numItems = 0;
  int numWorkers = 0;  // threads 1..numWorkers exist
};

Pool* g_pool = new Pool();  // intentionally leaked

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void run_items(Pool* pool, int tid) {
  const int64_t n = pool->numItems;
  for (;;) {
    const int64_t i = pool->next.fetch_add(1, std::memory_order_relaxed);
    if (i >= n) return;
    pool->fn(pool->arg, i, tid);
  }
}

struct WorkerStart { int tid; uint64_t gen; };

void* worker_main(void* p) {
  WorkerStart* start = (WorkerStart*)p;
  const int tid = start->tid;
  uint64_t seen = start->gen;
  delete start;
  Pool* pool = g_pool;
  for (;;) {
    uint64_t g = pool->gen.load(std::memory_order_acquire);
    if (g == seen) {
      const int64_t until = now_ns() + kSpinNs;
      for (int i = 1;; i++) {
        cpu_relax();
        g = pool->gen.load(std::memory_order_acquire);
        if (g != seen) break;
        if ((i & 255) == 0 && now_ns() > until) break;
      }
    }
    if (g == seen) {
      pthread_mutex_lock(&pool->mu);
      pool->sleepers.fetch_add(1, std::memory_order_seq_cst);
      while ((g = pool->gen.load(std::memory_order_seq_cst)) == seen) pthread_cond_wait(&pool->cv, &pool->mu);
      pool->sleepers.fetch_sub(1, std::memory_order_relaxed);
      pthread_mutex_unlock(&pool->mu);
    }
    seen = g;
    if (tid >= (int)(g & 0xFFFF)) continue;  // not a participant
    pool->active.fetch_add(1, std::memory_order_seq_cst);
    if (pool->closed.load(std::memory_order_seq_cst) < (g >> 16)) run_items(pool, tid);
    pool->active.fetch_sub(1, std::memory_order_release);
  }
  return nullptr;
}

// Called with run_mu held: make sure threads 1..nth-1 exist. Returns how many workers exist.
int ensure_workers(Pool* pool, int nth) {
  while (pool->numWorkers < nth - 1) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 1 << 20);
    pthread_t th;
    WorkerStart* start = new WorkerStart{pool->numWorkers + 1, pool->gen.load()};
    const int rc = pthread_create(&th, &attr, worker_main, start);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      delete start;
      break;
    }
    pool->numWorkers++;
  }
  return pool->numWorkers;
}

}  // namespace

int pool_hw_threads() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

void pool_for(int nth, int64_t numItems, PoolItemFn fn, void* arg) {
  if (numItems <= 0) return;
  if (nth > kMaxThreads) nth = kMaxThreads;
  if (nth > numItems) nth = (int)numItems;
  if (nth <= 1) {
    for (int64_t i = 0; i < numItems; i++) fn(arg, i, 0);
    return;
  }
  Pool* pool = g_pool;
  pthread_mutex_lock(&pool->run_mu);
  const int workers = ensure_workers(pool, nth);
  if (nth > workers + 1) nth = workers + 1;
  pool->fn = fn;
  pool->arg = arg;
  pool->numItems = numItems;
  pool->next.store(0, std::memory_order_relaxed);
  const uint64_t generation = (pool->gen.load(std::memory_order_relaxed) >> 16) + 1;
  pool->gen.store(generation << 16 | (uint64_t)nth, std::memory_order_seq_cst);
  if (pool->sleepers.load(std::memory_order_seq_cst) > 0) {
    pthread_mutex_lock(&pool->mu);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
  }
  run_items(pool, 0);
  pool->closed.store(generation, std::memory_order_seq_cst);
  for (int i = 1; pool->active.load(std::memory_order_seq_cst) != 0; i++) {
    if (i < 4096) cpu_relax();
    else sched_yield();  // the worker holding the last item may be waiting for this CPU
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  pthread_mutex_unlock(&pool->run_mu);
}

}  // namespace fennec
