// A persistent compute thread pool: threads are created once (on first need) and reused by every
// call. Between jobs a worker spins briefly (decode issues kernels microseconds apart), then
// sleeps on a condition variable.
//
// Work is a set of items claimed dynamically by whichever threads are running: the caller works
// too, and never waits for a worker that has not started (a descheduled or sleeping worker simply
// does no items), only for items already claimed. So a stalled vCPU costs at most one item.
#pragma once
#include <stdint.h>

namespace fennec {

// fn(arg, item, tid): tid in [0, nth) identifies the thread (for per-thread scratch); the caller
// is tid 0. Items must be independent.
typedef void (*PoolItemFn)(void* arg, int64_t item, int tid);

constexpr int kMaxThreads = 256;

// Runs fn for every item in [0, numItems) on up to nth threads (clamped to [1, kMaxThreads]) and
// returns when all are done. Calls from different threads are serialized; fn must not call
// pool_for itself.
void pool_for(int nth, int64_t numItems, PoolItemFn fn, void* arg);

// Hardware threads available to this process.
int pool_hw_threads();

}  // namespace fennec
