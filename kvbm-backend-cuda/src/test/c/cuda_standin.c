// TEST DOUBLE — a host-memory stand-in for the CUDA driver functions kvbm-backend-cuda binds. It is NOT a GPU and
// proves nothing about one: it lets CI exercise the Java side (argument marshalling, error mapping, completion,
// accounting, staging) on machines without a GPU. Built by the tests with gcc (CudaStandIn.java) and loaded through
// -Dkvbm.cuda.library or CudaDriver.load(path).
//
// Model: "device" memory and "pinned" memory are host allocations tracked in a table; every stream is a worker
// thread that runs its queued copies, kernel launches and event records in order, each op optionally delayed, so
// completion really is asynchronous; an event completes when its stream reaches it. Memory ops need a current
// context on the calling thread (CUDA's rule), and freeing memory that a queued op still touches is counted as a
// violation. Control functions (standin_*) inject failures and read counters.
//
// Variants: -DSTANDIN_CUDA12 exports CUDA 12.8's cuMemcpyBatchAsync (with failIdx); -DSTANDIN_NO_BATCH exports none.

#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

enum {
    OK = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, NOT_INITIALIZED = 3, INVALID_CONTEXT = 201,
    INVALID_IMAGE = 200, INVALID_HANDLE = 400, NOT_FOUND = 500, NOT_READY = 600, ILLEGAL_ADDRESS = 700,
    NO_DEVICE = 100, INVALID_DEVICE = 101
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int initialized;
static int version = 13000;
static int device_count = 1;
static int op_delay_us = 50;
static long pageable_copies, violations, kernel_launches, batch_calls, live_allocations, events_created;
static int last_host_alloc_flags = -1;
static __thread void *current_ctx;
static char contexts[64];

// --- failure injection ------------------------------------------------------------------------------------------
static char fail_name[64];
static int fail_result, fail_after;

static CUresult injected(const char *name) {
    CUresult r = OK;
    pthread_mutex_lock(&mu);
    if (fail_name[0] && strcmp(fail_name, name) == 0) {
        if (fail_after-- == 0) {
            r = fail_result;
            fail_name[0] = 0;
        }
    }
    pthread_mutex_unlock(&mu);
    return r;
}

void standin_fail(const char *name, int result, int after) {
    pthread_mutex_lock(&mu);
    snprintf(fail_name, sizeof fail_name, "%s", name);
    fail_result = result;
    fail_after = after;
    pthread_mutex_unlock(&mu);
}

void standin_set_version(int v) { version = v; }
void standin_set_device_count(int n) { device_count = n; }
void standin_set_op_delay_us(int us) { op_delay_us = us; }
long standin_pageable_copies(void) { return pageable_copies; }
long standin_violations(void) { return violations; }
long standin_kernel_launches(void) { return kernel_launches; }
long standin_batch_calls(void) { return batch_calls; }
long standin_live_allocations(void) { return live_allocations; }
long standin_events_created(void) { return events_created; }
int standin_last_host_alloc_flags(void) { return last_host_alloc_flags; }

// --- memory table -----------------------------------------------------------------------------------------------
enum { DEVICE = 1, PINNED = 2, REGISTERED = 3 };
typedef struct { uint64_t base, size; int kind; int busy; } range_t;
static range_t ranges[65536];
static int nranges;

static range_t *find_range(uint64_t address) { // caller holds mu
    for (int i = 0; i < nranges; i++) {
        if (address >= ranges[i].base && address < ranges[i].base + ranges[i].size) return &ranges[i];
    }
    return NULL;
}

static int add_range(uint64_t base, uint64_t size, int kind) {
    pthread_mutex_lock(&mu);
    if (nranges == (int) (sizeof ranges / sizeof ranges[0])) {
        pthread_mutex_unlock(&mu);
        return OUT_OF_MEMORY;
    }
    ranges[nranges++] = (range_t) {base, size, kind, 0};
    live_allocations++;
    pthread_mutex_unlock(&mu);
    return OK;
}

static CUresult remove_range(uint64_t base, int kind) {
    pthread_mutex_lock(&mu);
    for (int i = 0; i < nranges; i++) {
        if (ranges[i].base == base && ranges[i].kind == kind) {
            if (ranges[i].busy) {
                violations++;
                fprintf(stderr, "cuda stand-in: memory 0x%llx freed while %d queued op(s) still touch it\n",
                        (unsigned long long) base, ranges[i].busy);
            }
            ranges[i] = ranges[--nranges];
            live_allocations--;
            pthread_mutex_unlock(&mu);
            return OK;
        }
    }
    pthread_mutex_unlock(&mu);
    return INVALID_VALUE;
}

// Marks the ranges an op touches as busy (delta +1) or no longer (-1); counts pageable (untracked) host memory.
// Returns ILLEGAL_ADDRESS when a tracked range does not contain the whole extent.
static CUresult touch(uint64_t address, uint64_t size, int delta, int device_only) {
    CUresult r = OK;
    pthread_mutex_lock(&mu);
    range_t *range = find_range(address);
    if (range == NULL) {
        if (device_only) r = ILLEGAL_ADDRESS;
        else if (delta > 0) pageable_copies++;
    } else if (address + size > range->base + range->size) {
        r = ILLEGAL_ADDRESS;
    } else {
        range->busy += delta;
    }
    pthread_mutex_unlock(&mu);
    return r;
}

// --- streams: a worker thread each ------------------------------------------------------------------------------
typedef struct event event_t;
struct event { pthread_mutex_t mu; pthread_cond_t cv; long recorded, done; };

enum { OP_COPY, OP_KERNEL, OP_EVENT };
typedef struct op { int kind; uint64_t dst, src, size; event_t *event; long generation; struct op *next; } op_t;

typedef struct {
    pthread_t thread; pthread_mutex_t mu; pthread_cond_t cv, idle_cv;
    op_t *head, *tail; int running, stop;
} stream_t;

static void run_op(op_t *op) {
    if (op_delay_us > 0) usleep(op_delay_us);
    if (op->kind == OP_COPY) {
        memcpy((void *) op->dst, (const void *) op->src, op->size);
        touch(op->dst, op->size, -1, 0);
        touch(op->src, op->size, -1, 0);
    } else if (op->kind == OP_KERNEL) {
        // The kernel reads its region list when it runs, as a GPU does: (src, dst, size) triples.
        const uint64_t *regions = (const uint64_t *) op->src;
        for (uint64_t i = 0; i < op->size; i++) {
            memcpy((void *) regions[3 * i + 1], (const void *) regions[3 * i], regions[3 * i + 2]);
        }
        touch(op->src, op->size * 24, -1, 0);
    } else {
        pthread_mutex_lock(&op->event->mu);
        if (op->generation > op->event->done) op->event->done = op->generation;
        pthread_cond_broadcast(&op->event->cv);
        pthread_mutex_unlock(&op->event->mu);
    }
}

static void *stream_main(void *arg) {
    stream_t *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->head == NULL && !s->stop) pthread_cond_wait(&s->cv, &s->mu);
        if (s->head == NULL && s->stop) break;
        op_t *op = s->head;
        s->running = 1;
        pthread_mutex_unlock(&s->mu);
        run_op(op);
        pthread_mutex_lock(&s->mu);
        s->head = op->next;
        if (s->head == NULL) s->tail = NULL;
        s->running = 0;
        free(op);
        if (s->head == NULL) pthread_cond_broadcast(&s->idle_cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void push(stream_t *s, op_t *op) {
    pthread_mutex_lock(&s->mu);
    op->next = NULL;
    if (s->tail) s->tail->next = op; else s->head = op;
    s->tail = op;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void drain(stream_t *s) {
    pthread_mutex_lock(&s->mu);
    while (s->head != NULL) pthread_cond_wait(&s->idle_cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

#define NEED_CONTEXT() do { if (!initialized) return NOT_INITIALIZED; if (current_ctx == NULL) return INVALID_CONTEXT; } while (0)
#define INJECT(name) do { CUresult r_ = injected(name); if (r_ != OK) return r_; } while (0)

// --- the driver API ---------------------------------------------------------------------------------------------
CUresult cuGetErrorName(CUresult error, const char **out) {
    switch (error) {
        case OK: *out = "CUDA_SUCCESS"; return OK;
        case INVALID_VALUE: *out = "CUDA_ERROR_INVALID_VALUE"; return OK;
        case OUT_OF_MEMORY: *out = "CUDA_ERROR_OUT_OF_MEMORY"; return OK;
        case NOT_INITIALIZED: *out = "CUDA_ERROR_NOT_INITIALIZED"; return OK;
        case NO_DEVICE: *out = "CUDA_ERROR_NO_DEVICE"; return OK;
        case INVALID_DEVICE: *out = "CUDA_ERROR_INVALID_DEVICE"; return OK;
        case INVALID_IMAGE: *out = "CUDA_ERROR_INVALID_IMAGE"; return OK;
        case INVALID_CONTEXT: *out = "CUDA_ERROR_INVALID_CONTEXT"; return OK;
        case INVALID_HANDLE: *out = "CUDA_ERROR_INVALID_HANDLE"; return OK;
        case NOT_FOUND: *out = "CUDA_ERROR_NOT_FOUND"; return OK;
        case NOT_READY: *out = "CUDA_ERROR_NOT_READY"; return OK;
        case ILLEGAL_ADDRESS: *out = "CUDA_ERROR_ILLEGAL_ADDRESS"; return OK;
        default: *out = NULL; return INVALID_VALUE;
    }
}

CUresult cuGetErrorString(CUresult error, const char **out) {
    switch (error) {
        case OUT_OF_MEMORY: *out = "out of memory"; return OK;
        case ILLEGAL_ADDRESS: *out = "an illegal memory access was encountered"; return OK;
        case INVALID_CONTEXT: *out = "invalid device context"; return OK;
        case NO_DEVICE: *out = "no CUDA-capable device is detected"; return OK;
        default: {
            const char *name;
            if (cuGetErrorName(error, &name) != OK) { *out = NULL; return INVALID_VALUE; }
            *out = "stand-in error";
            return OK;
        }
    }
}

CUresult cuInit(unsigned int flags) {
    INJECT("cuInit");
    if (flags != 0) return INVALID_VALUE;
    initialized = 1;
    return OK;
}

CUresult cuDriverGetVersion(int *out) { *out = version; return OK; }

CUresult cuDeviceGetCount(int *out) {
    if (!initialized) return NOT_INITIALIZED;
    *out = device_count;
    return OK;
}

CUresult cuDeviceGet(int *device, int ordinal) {
    if (!initialized) return NOT_INITIALIZED;
    if (ordinal < 0 || ordinal >= device_count) return INVALID_DEVICE;
    *device = ordinal;
    return OK;
}

CUresult cuDeviceGetName(char *name, int length, int device) {
    if (device < 0 || device >= device_count) return INVALID_DEVICE;
    snprintf(name, length, "kvbm CUDA stand-in %d (host memory, not a GPU)", device);
    return OK;
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, int device) {
    if (device < 0 || device >= device_count) return INVALID_DEVICE;
    *bytes = (size_t) 8 << 30;
    return OK;
}

CUresult cuDevicePrimaryCtxRetain(void **context, int device) {
    if (!initialized) return NOT_INITIALIZED;
    if (device < 0 || device >= device_count || device >= 64) return INVALID_DEVICE;
    *context = &contexts[device];
    return OK;
}

CUresult cuCtxSetCurrent(void *context) {
    if (!initialized) return NOT_INITIALIZED;
    current_ctx = context;
    return OK;
}

CUresult cuMemAlloc_v2(CUdeviceptr *out, size_t bytes) {
    NEED_CONTEXT();
    INJECT("cuMemAlloc_v2");
    if (bytes == 0) return INVALID_VALUE;
    void *p = aligned_alloc(256, (bytes + 255) / 256 * 256);
    if (p == NULL) return OUT_OF_MEMORY;
    if (add_range((uint64_t) p, bytes, DEVICE) != OK) { free(p); return OUT_OF_MEMORY; }
    *out = (CUdeviceptr) p;
    return OK;
}

CUresult cuMemFree_v2(CUdeviceptr pointer) {
    NEED_CONTEXT();
    CUresult r = remove_range(pointer, DEVICE);
    if (r == OK) free((void *) pointer);
    return r;
}

CUresult cuMemHostAlloc(void **out, size_t bytes, unsigned int flags) {
    NEED_CONTEXT();
    INJECT("cuMemHostAlloc");
    if (bytes == 0 || (flags & ~7u) != 0) return INVALID_VALUE;
    last_host_alloc_flags = (int) flags;
    void *p = aligned_alloc(4096, (bytes + 4095) / 4096 * 4096);
    if (p == NULL) return OUT_OF_MEMORY;
    if (add_range((uint64_t) p, bytes, PINNED) != OK) { free(p); return OUT_OF_MEMORY; }
    *out = p;
    return OK;
}

CUresult cuMemFreeHost(void *pointer) {
    NEED_CONTEXT();
    CUresult r = remove_range((uint64_t) pointer, PINNED);
    if (r == OK) free(pointer);
    return r;
}

CUresult cuMemHostRegister_v2(void *pointer, size_t bytes, unsigned int flags) {
    NEED_CONTEXT();
    INJECT("cuMemHostRegister_v2");
    if (pointer == NULL || bytes == 0 || (flags & ~15u) != 0) return INVALID_VALUE;
    return add_range((uint64_t) pointer, bytes, REGISTERED);
}

CUresult cuMemHostUnregister(void *pointer) {
    NEED_CONTEXT();
    return remove_range((uint64_t) pointer, REGISTERED);
}

CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
    NEED_CONTEXT();
    INJECT("cuMemcpy");
    pthread_mutex_lock(&mu);
    range_t *d = find_range(dst), *s = find_range(src);
    int bad = (d && dst + bytes > d->base + d->size) || (s && src + bytes > s->base + s->size);
    pthread_mutex_unlock(&mu);
    if (bad) return ILLEGAL_ADDRESS;
    memcpy((void *) dst, (const void *) src, bytes);
    return OK;
}

static CUresult enqueue_copy(uint64_t dst, uint64_t src, uint64_t bytes, stream_t *stream) {
    if (stream == NULL) return INVALID_HANDLE;
    if (touch(dst, bytes, +1, 0) != OK) return ILLEGAL_ADDRESS;
    if (touch(src, bytes, +1, 0) != OK) { touch(dst, bytes, -1, 0); return ILLEGAL_ADDRESS; }
    op_t *op = calloc(1, sizeof *op);
    *op = (op_t) {OP_COPY, dst, src, bytes, NULL, 0, NULL};
    push(stream, op);
    return OK;
}

CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes, void *stream) {
    NEED_CONTEXT();
    INJECT("cuMemcpyAsync");
    return enqueue_copy(dst, src, bytes, stream);
}

__attribute__((unused)) static CUresult batch(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count, const int *attrs,
                      size_t *attr_indices, size_t num_attrs, size_t *fail_index, void *stream) {
    NEED_CONTEXT();
    INJECT("cuMemcpyBatchAsync");
    if (count == 0 || num_attrs == 0 || attrs == NULL || attr_indices == NULL || attr_indices[0] != 0) return INVALID_VALUE;
    if (attrs[0] != 1) return INVALID_VALUE; // CU_MEMCPY_SRC_ACCESS_ORDER_STREAM expected
    for (size_t i = 0; i < count; i++) {
        CUresult r = enqueue_copy(dsts[i], srcs[i], sizes[i], stream);
        if (r != OK) { if (fail_index) *fail_index = i; return r; }
    }
    __atomic_add_fetch(&batch_calls, 1, __ATOMIC_RELAXED);
    return OK;
}

#if defined(STANDIN_CUDA12)
CUresult cuMemcpyBatchAsync(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count, const int *attrs,
                            size_t *attr_indices, size_t num_attrs, size_t *fail_index, void *stream) {
    return batch(dsts, srcs, sizes, count, attrs, attr_indices, num_attrs, fail_index, stream);
}
#elif !defined(STANDIN_NO_BATCH)
CUresult cuMemcpyBatchAsync_v2(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count, const int *attrs,
                               size_t *attr_indices, size_t num_attrs, void *stream) {
    return batch(dsts, srcs, sizes, count, attrs, attr_indices, num_attrs, NULL, stream);
}
#endif

CUresult cuStreamCreate(void **out, unsigned int flags) {
    NEED_CONTEXT();
    INJECT("cuStreamCreate");
    if (flags > 1) return INVALID_VALUE;
    stream_t *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->idle_cv, NULL);
    pthread_create(&s->thread, NULL, stream_main, s);
    *out = s;
    return OK;
}

CUresult cuStreamSynchronize(void *stream) {
    NEED_CONTEXT();
    if (stream == NULL) return INVALID_HANDLE;
    drain(stream);
    return OK;
}

CUresult cuStreamDestroy_v2(void *stream) {
    NEED_CONTEXT();
    stream_t *s = stream;
    if (s == NULL) return INVALID_HANDLE;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL); // like CUDA, work already queued finishes first
    free(s);
    return OK;
}

CUresult cuEventCreate(void **out, unsigned int flags) {
    NEED_CONTEXT();
    INJECT("cuEventCreate");
    (void) flags;
    event_t *e = calloc(1, sizeof *e);
    __atomic_add_fetch(&events_created, 1, __ATOMIC_RELAXED);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    *out = e;
    return OK;
}

CUresult cuEventRecord(void *event, void *stream) {
    NEED_CONTEXT();
    INJECT("cuEventRecord");
    event_t *e = event;
    if (e == NULL || stream == NULL) return INVALID_HANDLE;
    pthread_mutex_lock(&e->mu);
    long generation = ++e->recorded;
    pthread_mutex_unlock(&e->mu);
    op_t *op = calloc(1, sizeof *op);
    *op = (op_t) {OP_EVENT, 0, 0, 0, e, generation, NULL};
    push(stream, op);
    return OK;
}

CUresult cuEventQuery(void *event) {
    NEED_CONTEXT();
    INJECT("cuEventQuery");
    event_t *e = event;
    pthread_mutex_lock(&e->mu);
    int done = e->done >= e->recorded;
    pthread_mutex_unlock(&e->mu);
    return done ? OK : NOT_READY;
}

CUresult cuEventSynchronize(void *event) {
    NEED_CONTEXT();
    event_t *e = event;
    pthread_mutex_lock(&e->mu);
    while (e->done < e->recorded) pthread_cond_wait(&e->cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
    return OK;
}

CUresult cuEventDestroy_v2(void *event) {
    NEED_CONTEXT();
    event_t *e = event;
    pthread_mutex_lock(&e->mu);
    while (e->done < e->recorded) pthread_cond_wait(&e->cv, &e->mu); // never free an event a stream will signal
    pthread_mutex_unlock(&e->mu);
    free(e);
    return OK;
}

// A module is the PTX text; a function exists when the PTX declares ".visible .entry <name>(".
CUresult cuModuleLoadData(void **module, const void *image) {
    NEED_CONTEXT();
    INJECT("cuModuleLoadData");
    const char *ptx = image;
    if (strstr(ptx, ".version ") == NULL || strstr(ptx, ".entry ") == NULL) return INVALID_IMAGE;
    *module = strdup(ptx);
    return OK;
}

CUresult cuModuleGetFunction(void **function, void *module, const char *name) {
    NEED_CONTEXT();
    char pattern[128];
    snprintf(pattern, sizeof pattern, ".visible .entry %s(", name);
    if (strstr(module, pattern) == NULL) return NOT_FOUND;
    *function = module;
    return OK;
}

CUresult cuModuleUnload(void *module) {
    NEED_CONTEXT();
    free(module);
    return OK;
}

// kvbm_copy_regions(const KvbmCopy* regions, uint32_t count): params[0] points at the regions pointer, params[1] at
// the count. Every region must lie in device or pinned memory (the kernel cannot reach pageable memory).
CUresult cuLaunchKernel(void *function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void *stream, void **params, void **extra) {
    NEED_CONTEXT();
    INJECT("cuLaunchKernel");
    if (function == NULL || stream == NULL || params == NULL || extra != NULL) return INVALID_VALUE;
    if (gx == 0 || gy != 1 || gz != 1 || bx == 0 || bx > 1024 || by != 1 || bz != 1 || shared != 0) return INVALID_VALUE;
    uint64_t regions = *(uint64_t *) params[0];
    uint32_t count = *(uint32_t *) params[1];
    if (touch(regions, (uint64_t) count * 24, +1, 1) != OK) return ILLEGAL_ADDRESS;
    const uint64_t *r = (const uint64_t *) regions;
    for (uint32_t i = 0; i < count; i++) {
        pthread_mutex_lock(&mu);
        range_t *s = find_range(r[3 * i]), *d = find_range(r[3 * i + 1]);
        int ok = s && d && r[3 * i] + r[3 * i + 2] <= s->base + s->size && r[3 * i + 1] + r[3 * i + 2] <= d->base + d->size;
        pthread_mutex_unlock(&mu);
        if (!ok) { touch(regions, (uint64_t) count * 24, -1, 1); return ILLEGAL_ADDRESS; }
    }
    op_t *op = calloc(1, sizeof *op);
    *op = (op_t) {OP_KERNEL, 0, regions, count, NULL, 0, NULL};
    push(stream, op);
    __atomic_add_fetch(&kernel_launches, 1, __ATOMIC_RELAXED);
    return OK;
}
