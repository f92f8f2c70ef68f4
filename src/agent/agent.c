/* SPDX-License-Identifier: MIT */
/* The in-target agent of `pytrace flow`: a CPython profile hook that
 * writes one fixed-size record per call and return into a shared ring. */

/*
 * Built freestanding (no libc, no relocations, no floating point) into a
 * flat blob that pytrace copies into the target; see docs/flow.md.
 * Every CPython function and struct offset it uses comes from pytrace
 * through `pt_agent_ctx`, so the same blob serves 2.7 and 3.6-3.15.
 *
 * Rules for this file:
 *  - Only position-independent code: every global is reached
 *    RIP-relative; nothing may need a load-time relocation (the build
 *    checks the object file's relocations).
 *  - Python API calls only with the GIL held. Every entry point (profile
 *    callback, monitoring callbacks, pending call, injected call) has it.
 *  - The ring is touched only while ctx.state == INSTALLED and ctx.ring is
 *    set; pytrace may unmap it once the agent is detached or stopped.
 */

#include "agent/agent.h"

typedef unsigned long size_t;
typedef long ssize_t;
typedef struct PyObject PyObject;

#define HIDDEN __attribute__((visibility("hidden")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Linux x86_64 system calls the agent makes. */
enum {
	SYS_mmap = 9, SYS_munmap = 11, SYS_poll = 7, SYS_close = 3, SYS_kill = 62,
	SYS_gettid = 186, SYS_futex = 202, SYS_clock_gettime = 228,
};
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define POLLIN 1
#define POLLERR 8
#define POLLHUP 16
#define POLLNVAL 32
#define ENOSYS 38

/* CPython constants that have never changed. */
enum {
	PyTrace_CALL = 0, PyTrace_RETURN = 3, PyTrace_C_CALL = 4,
	PyTrace_C_EXCEPTION = 5, PyTrace_C_RETURN = 6,
};
#define CO_GENERATOR 0x20
#define CO_COROUTINE 0x80
#define CO_ASYNC_GENERATOR 0x200
#define METH_VARARGS 0x1
#define METH_FASTCALL 0x80

struct PyMethodDef {
	const char *ml_name;
	void *ml_meth;
	int ml_flags;
	const char *ml_doc;
};

struct timespec {
	long tv_sec, tv_nsec;
};

struct pollfd {
	int fd;
	short events, revents;
};

/* ------------------------------------------------------------------ */
/* State                                                               */

HIDDEN struct pt_agent_ctx agent_ctx;
HIDDEN struct pt_agent_call_frame agent_call_frame;
HIDDEN struct PyMethodDef agent_methods[12];
static uint8_t agent_xsave_area[PT_AGENT_XSAVE_SIZE] __attribute__((aligned(64)));

#define ctx agent_ctx

/* The monitoring callbacks, in ctx.callbacks[] order. */
enum {
	CB_START, CB_RESUME, CB_RETURN, CB_YIELD, CB_UNWIND, CB_THROW,
	CB_CALL, CB_C_RETURN, CB_C_RAISE, CB_COUNT,
};
#define M_THREAD_HOOK CB_COUNT

/* ------------------------------------------------------------------ */
/* Freestanding helpers                                                */

/* gcc may emit calls to these for struct copies and zeroing. */
HIDDEN void *memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

HIDDEN void *memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;

	while (n--)
		*d++ = (uint8_t)c;
	return dst;
}

static inline long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define sys1(n, a) sys6((n), (long)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b) sys6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c) sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline uint64_t load_acquire64(const volatile uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void store_release64(volatile uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

#define AT(base, off, type) (*(type *)((char *)(base) + (off)))

#define SYS_sched_yield 24

/* Free-threaded CPython: several threads run events at once. */
static inline int agent_ft(void);

/* Spins politely: pause, then give the CPU away (the thread waited for
 * may be preempted, and there may be more threads than CPUs). */
static inline void spin_wait(unsigned *spin)
{
	if (++*spin < 128)
		cpu_relax();
	else
		sys6(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
}

/* ------------------------------------------------------------------ */
/* CPython calls, through the addresses pytrace resolved               */

#define API(name, ret, ...) ((ret(*)(__VA_ARGS__))(uintptr_t)ctx.api.name)

static void py_incref(PyObject *o)
{
	API(Py_IncRef, void, PyObject *)(o);
}

static void py_decref(PyObject *o)
{
	API(Py_DecRef, void, PyObject *)(o);
}

static PyObject *py_none(void)
{
	return (PyObject *)(uintptr_t)ctx.api.Py_None;
}

static PyObject *py_type(PyObject *o)
{
	return AT(o, ctx.off.object_type, PyObject *);
}

static PyObject *py_long(long v)
{
	return API(PyLong_FromLong, PyObject *, long)(v);
}

/* Calls callable(*args) with up to three arguments; steals nothing.
 * Returns the result (a new reference) or NULL with an exception set. */
static PyObject *py_call(PyObject *callable, int n, PyObject **args)
{
	PyObject *tuple = API(PyTuple_New, PyObject *, ssize_t)(n);
	if (!tuple)
		return 0;
	for (int i = 0; i < n; i++) {
		py_incref(args[i]);
		API(PyTuple_SetItem, int, PyObject *, ssize_t, PyObject *)(tuple, i, args[i]);
	}
	PyObject *r = API(PyObject_CallObject, PyObject *, PyObject *, PyObject *)(callable, tuple);
	py_decref(tuple);
	return r;
}

/* obj.name(*args); returns 0 or -1 (the exception is cleared). */
static int py_call_method(PyObject *obj, const char *name, int n, PyObject **args)
{
	PyObject *m = API(PyObject_GetAttrString, PyObject *, PyObject *, const char *)(obj, name);
	if (!m) {
		API(PyErr_Clear, void, void)();
		return -1;
	}
	PyObject *r = py_call(m, n, args);
	py_decref(m);
	if (!r) {
		API(PyErr_Clear, void, void)();
		return -1;
	}
	py_decref(r);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Threads, time                                                       */

static inline int32_t agent_tid(void)
{
	if (LIKELY(ctx.tid_offset >= 0)) {
		int32_t tid;
		__asm__("movl %%fs:(%1), %0" : "=r"(tid) : "r"((long)ctx.tid_offset));
		return tid;
	}
	return (int32_t)sys1(SYS_gettid, 0);
}

static inline uint64_t agent_now(void)
{
	struct timespec ts;

	if (!(ctx.flags & PT_AGENT_F_TIMESTAMPS) || !ctx.api.clock_gettime)
		return 0;
	API(clock_gettime, int, int, struct timespec *)(1 /* CLOCK_MONOTONIC */, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Whether pytrace has gone away (killed, crashed): its end of the
 * lifeline pipe closed. (Not pidfd_open or kill on its pid: inside a PID
 * namespace, a container's, that number names nothing or someone else.) */
static int agent_consumer_gone(void)
{
	struct pollfd p = { .fd = ctx.lifeline, .events = POLLIN };

	if (ctx.lifeline < 0)
		return 0;
	return sys3(SYS_poll, &p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

/* ------------------------------------------------------------------ */
/* Keeping code objects alive until pytrace has read them              */

/*
 * A record names its code object by address, and pytrace reads the name,
 * file and line table later from outside. So that the address cannot be
 * reused meanwhile, the first record of each code object takes a
 * reference, remembered in an open-addressing set that is dropped when the
 * agent detaches (after the ring has drained).
 */

/* A table: {cap, the older table (kept until detach: free-threaded
 * readers may still be looking at it), keys[cap]}. */
static uint64_t *set_alloc(uint64_t cap)
{
	long p = sys6(SYS_mmap, 0, (long)((cap + 2) * 8), 3 /* RW */, 0x22 /* PRIVATE|ANON */, -1, 0);
	return p < 0 && p > -4096 ? 0 : (uint64_t *)p;
}

static inline uint64_t set_slot(uint64_t code, uint64_t cap)
{
	return ((code >> 4) * 0x9e3779b97f4a7c15ull) >> 20 & (cap - 1);
}

static inline uint64_t *set_table(void)
{
	return (uint64_t *)(uintptr_t)__atomic_load_n(&ctx.set_addr, __ATOMIC_ACQUIRE);
}

/* A code object's key carries the predicates' verdict on it in bits 1-2
 * (objects are at least 8-byte aligned; bit 0 marks a PyMethodDef). */
#define SET_TAG_MASK 6ull

/* Lock-free lookup: keys are only ever added (until detach). Returns the
 * key as stored (with its tag), or 0. */
static inline uint64_t set_get(const uint64_t *t, uint64_t key)
{
	uint64_t cap = t[0], i = set_slot(key, cap);
	const uint64_t *keys = t + 2;

	for (;;) {
		uint64_t v = __atomic_load_n(&keys[i], __ATOMIC_ACQUIRE);
		if ((v & ~SET_TAG_MASK) == key)
			return v;
		if (!v)
			return 0;
		i = (i + 1) & (cap - 1);
	}
}

static inline void set_put(uint64_t *t, uint64_t key)
{
	uint64_t cap = t[0], i = set_slot(key & ~SET_TAG_MASK, cap);

	while (t[2 + i])
		i = (i + 1) & (cap - 1);
	__atomic_store_n(&t[2 + i], key, __ATOMIC_RELEASE);
}

/* A table twice as large with every key, published in one store. */
static int set_grow(void)
{
	uint64_t *old = set_table();
	uint64_t ncap = old ? old[0] * 2 : 16384;
	uint64_t *nset = set_alloc(ncap);

	if (!nset)
		return -1;
	nset[0] = ncap;
	nset[1] = (uint64_t)(uintptr_t)old;
	for (uint64_t i = 0; old && i < old[0]; i++)
		if (old[2 + i])
			set_put(nset, old[2 + i]);
	__atomic_store_n(&ctx.set_addr, (uint64_t)(uintptr_t)nset, __ATOMIC_RELEASE);
	ctx.set_cap = ncap;
	return 0;
}

static uint32_t last_tag;          /* with a GIL: ctx.last_code's tag */

/* In front of the set: the keys last found, as stored (tag included),
 * direct-mapped, small enough to stay in the L1 cache where the set (a
 * 128 KiB table and up) does not. One word per entry, so a thread reads
 * a whole key or none; a key's tag never changes while it is pinned,
 * and the cache is emptied with the set. */
#define PIN_CACHE 512
static uint64_t pin_cache[PIN_CACHE];

static inline uint64_t *pin_cache_slot(uint64_t key)
{
	return &pin_cache[(key >> 4 ^ key >> 13) & (PIN_CACHE - 1)];
}

/*
 * Whether key is new: 1 means the caller describes it and then calls
 * agent_pin_done(key, tag), which adds it to the set; free-threaded, the
 * insert lock is held from here to there, so that no other thread can
 * see the key in the set (and write an event naming it) before its
 * description is in the ring. key is a PyObject (a reference is taken)
 * or, with the low bit set, a PyMethodDef (static data). A known key's
 * tag (SET_TAG_MASK bits) goes to *tag (0 if the set was dropped).
 */
static inline int agent_pin(uint64_t key, uint32_t *tag)
{
	if (LIKELY(key == ctx.last_code)) {
		*tag = last_tag;
		return 0;
	}
	uint64_t *slot = pin_cache_slot(key), v = __atomic_load_n(slot, __ATOMIC_RELAXED);
	if (LIKELY((v & ~SET_TAG_MASK) == key)) {
		*tag = (uint32_t)(v & SET_TAG_MASK);
		if (!agent_ft())
			ctx.last_code = key, last_tag = *tag;
		return 0;
	}
	uint64_t *t = set_table();
	if (LIKELY(t) && (v = set_get(t, key))) {
		*tag = (uint32_t)(v & SET_TAG_MASK);
		__atomic_store_n(slot, v, __ATOMIC_RELAXED);
		if (!agent_ft())
			ctx.last_code = key, last_tag = *tag;
		return 0;
	}
	*tag = 0;
	if (agent_ft()) {
		unsigned spin = 0;
		while (__atomic_exchange_n(&ctx.set_lock, 1, __ATOMIC_ACQUIRE)) {
			/* whoever holds it may be uninstalling: do not wait */
			if (ctx.state != PT_AGENT_INSTALLED)
				return 0;
			spin_wait(&spin);
		}
		t = set_table();
		if (t && (v = set_get(t, key))) {
			*tag = (uint32_t)(v & SET_TAG_MASK);
			__atomic_store_n(&ctx.set_lock, 0, __ATOMIC_RELEASE);
			return 0;
		}
	}
	return 1;
}

static void agent_pin_done(uint64_t key, uint32_t tag)
{
	/* Not after an uninstall that happened meanwhile (it dropped the
	 * set): nothing is pinned any more. */
	if (ctx.state == PT_AGENT_INSTALLED) {
		uint64_t *t = set_table();
		if ((!t || (ctx.pinned + 1) * 2 > t[0]) && set_grow() == 0)
			t = set_table();
		if (t && (ctx.pinned + 1) < t[0]) {
			if (!(key & 1))
				py_incref((PyObject *)(uintptr_t)key);
			set_put(t, key | tag);
			ctx.pinned++;
			if (!agent_ft())
				ctx.last_code = key, last_tag = tag;
		}
	}
	if (agent_ft())
		__atomic_store_n(&ctx.set_lock, 0, __ATOMIC_RELEASE);
}

/* At detach, no other thread in the agent: every reference dropped, every
 * table unmapped. */
static void agent_unpin_all(void)
{
	uint64_t *t = set_table();

	ctx.set_addr = 0;
	ctx.last_code = 0;
	for (unsigned i = 0; i < PIN_CACHE; i++)
		pin_cache[i] = 0;
	if (t)
		for (uint64_t i = 0; i < t[0]; i++)
			if (t[2 + i] && !(t[2 + i] & 1))
				py_decref((PyObject *)(uintptr_t)(t[2 + i] & ~SET_TAG_MASK));
	while (t) {
		uint64_t *older = (uint64_t *)(uintptr_t)t[1];
		sys2(SYS_munmap, t, (t[0] + 2) * 8);
		t = older;
	}
	ctx.set_cap = 0;
	ctx.pinned = 0;
}

/* ------------------------------------------------------------------ */
/* The ring                                                            */

static int agent_forked(void);

/* The ring, or NULL: never in a fork child, whose shared mapping is the
 * parent's ring. */
static struct pt_ring_header *ring(void)
{
	if (UNLIKELY(agent_forked()))
		return 0;
	return (struct pt_ring_header *)(uintptr_t)ctx.ring;
}

/* Waits until the consumer made room for the records up to need_head.
 * Holding the GIL while waiting is the back-pressure: the interpreter
 * pauses rather than drop an event. But a consumer that cannot go on (its
 * output blocked: a pipe nobody reads, a terminal stopped with Ctrl-S)
 * must not freeze the target: after PT_FLOW_RING_WAIT_MS without room the
 * records are dropped, and so are the next ones, without waiting, until
 * the consumer moves the tail again. Returns 0 when there is room, 1 to
 * drop, -1 when pytrace is gone or asks to stop (the caller then
 * uninstalls). */
static uint64_t ring_gave_up_at;   /* 1 + the tail at which waiting gave up, or 0 */
static uint64_t ring_given_up;     /* records dropped since */

static uint64_t ring_now_ms(void)
{
	struct timespec ts = { 0, 0 };

	sys2(SYS_clock_gettime, 1 /* CLOCK_MONOTONIC */, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int ring_wait(struct pt_ring_header *h, uint64_t need_head)
{
	uint64_t cap = h->capacity;

	if (ring_gave_up_at == ctx.tail_seen + 1) {
		/* still stuck: drop at once, and look now and then whether
		 * pytrace is still there */
		if (++ring_given_up % 4096 == 0 && agent_consumer_gone())
			return -1;
		return 1;
	}
	ring_gave_up_at = 0;
	for (int spin = 0; spin < 2000; spin++) {
		cpu_relax();
		ctx.tail_seen = load_acquire64(&h->tail);
		if (need_head - ctx.tail_seen <= cap)
			return 0;
	}
	uint64_t start = ring_now_ms();
	for (;;) {
		uint32_t seq = __atomic_load_n(&h->wake, __ATOMIC_ACQUIRE);
		__atomic_store_n(&h->producer_waiting, 1, __ATOMIC_SEQ_CST);
		ctx.tail_seen = load_acquire64(&h->tail);
		if (need_head - ctx.tail_seen <= cap)
			return 0;
		struct timespec t = { 0, 100 * 1000 * 1000 };
		__atomic_add_fetch(&h->stalls, 1, __ATOMIC_RELAXED);
		sys6(SYS_futex, (long)&h->wake, FUTEX_WAIT, seq, (long)&t, 0, 0);
		ctx.tail_seen = load_acquire64(&h->tail);
		if (need_head - ctx.tail_seen <= cap)
			return 0;
		if (ctx.stop || agent_consumer_gone())
			return -1;
		if (ring_now_ms() - start >= PT_FLOW_RING_WAIT_MS) {
			ring_gave_up_at = ctx.tail_seen + 1;
			ring_given_up = 0;
			return 1;
		}
	}
}

static void agent_uninstall(int inside);

#define barrier() __asm__ volatile("" ::: "memory")

static inline struct pt_ring_record *ring_slot(struct pt_ring_header *h, uint64_t i)
{
	return (struct pt_ring_record *)((char *)h + h->data_offset) + (i & (h->capacity - 1));
}

/*
 * Starts writing n records at *at: returns the ring, or NULL if nothing
 * may be written. With a GIL, busy tells pytrace (which may unmap the
 * ring while every thread is stopped, once ctx.ring is 0) that a thread is
 * between here and ring_commit(); free-threaded, the event's
 * agent_enter() counted it already.
 */
static inline struct pt_ring_header *ring_begin_ft(uint64_t n, uint64_t *at);

static inline struct pt_ring_header *ring_begin(uint64_t n, uint64_t *at)
{
	if (agent_ft())
		return ring_begin_ft(n, at);
	ctx.busy = 1;
	barrier();
	struct pt_ring_header *h = ring();
	if (UNLIKELY(!h || ctx.stop)) {
		ctx.busy = 0;
		return 0;
	}
	uint64_t need = ctx.head + n;
	if (UNLIKELY(need - ctx.tail_seen > h->capacity)) {
		ctx.tail_seen = load_acquire64(&h->tail);
		int w = need - ctx.tail_seen > h->capacity ? ring_wait(h, need) : 0;
		if (w != 0) {
			h->dropped += n;
			ctx.busy = 0;
			if (w < 0)
				agent_uninstall(0);
			return 0;
		}
	}
	*at = ctx.head;
	return h;
}

/* Free-threaded: reserves [*at, *at + n) once there is room for it, so a
 * reservation is never given back. */
static inline struct pt_ring_header *ring_begin_ft(uint64_t n, uint64_t *at)
{
	struct pt_ring_header *h = ring();

	if (UNLIKELY(!h || ctx.stop || ctx.state != PT_AGENT_INSTALLED))
		return 0;
	uint64_t cap = h->capacity;
	uint64_t start = __atomic_load_n(&ctx.head, __ATOMIC_RELAXED);
	for (;;) {
		uint64_t need = start + n;
		if (UNLIKELY(need - __atomic_load_n(&ctx.tail_seen, __ATOMIC_RELAXED) > cap)) {
			uint64_t tail = load_acquire64(&h->tail);
			__atomic_store_n(&ctx.tail_seen, tail, __ATOMIC_RELAXED);
			if (need - tail > cap) {
				int w = ring_wait(h, need);
				if (w != 0) {
					__atomic_add_fetch(&h->dropped, n, __ATOMIC_RELAXED);
					if (w < 0)
						agent_uninstall(1);
					return 0;
				}
			}
			start = __atomic_load_n(&ctx.head, __ATOMIC_RELAXED);
			continue;
		}
		if (__atomic_compare_exchange_n(&ctx.head, &start, need, 1, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED)) {
			*at = start;
			return h;
		}
	}
}

/* Free-threaded: marks [at, at + n) written, then moves head over every
 * group marked from head on, whoever wrote it. No thread waits for
 * another (one preempted between its reservation and its mark only holds
 * head back until it marks). Each step is sequentially consistent: a
 * thread that marks and then finds head short of its group, and the one
 * that moves head up to that group and then looks at its mark, cannot
 * both miss each other. */
static inline void ring_publish_ft(struct pt_ring_header *h, uint64_t at, uint64_t n)
{
	uint32_t *done = (uint32_t *)(uintptr_t)ctx.done_addr;
	uint64_t mask = h->capacity - 1;

	__atomic_store_n(&done[at & mask], (uint32_t)n, __ATOMIC_SEQ_CST);
	for (;;) {
		uint64_t hd = __atomic_load_n(&h->head, __ATOMIC_SEQ_CST);
		uint32_t *d = &done[hd & mask];
		uint32_t len = __atomic_load_n(d, __ATOMIC_SEQ_CST);
		if (!len)
			return;
		if (!__atomic_compare_exchange_n(d, &len, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			continue;   /* another thread took it */
		uint64_t expect = hd;
		if (__atomic_compare_exchange_n(&h->head, &expect, hd + len, 0, __ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			continue;
		/* head had moved on meanwhile: the mark was a later lap's
		 * group, not yet reached; put it back and look again */
		__atomic_store_n(d, len, __ATOMIC_SEQ_CST);
	}
}

/* Publishes [at, at + n). */
static inline void ring_commit(struct pt_ring_header *h, uint64_t at, uint64_t n)
{
	uint64_t before;

	if (agent_ft()) {
		ring_publish_ft(h, at, n);
		before = __atomic_fetch_add(&ctx.events, n, __ATOMIC_RELAXED);
	} else {
		ctx.head += n;
		store_release64(&h->head, ctx.head);
		barrier();
		ctx.busy = 0;
		before = ctx.events;
		ctx.events = before + n;
	}
	/* Every 64k records: is anyone still reading? */
	if (UNLIKELY((before >> 16) != ((before + n) >> 16)) && agent_consumer_gone())
		agent_uninstall(agent_ft());
}

static inline void ring_put(uint64_t object, uint64_t aux, uint32_t kind, uint32_t offset)
{
	uint64_t at;
	struct pt_ring_header *h = ring_begin(1, &at);

	if (UNLIKELY(!h))
		return;
	struct pt_ring_record *r = ring_slot(h, at);
	r->object = object;
	r->aux = aux;
	r->ts = agent_now();
	r->tid = agent_tid();
	r->kind_offset = kind | (offset << 8);
	ring_commit(h, at, 1);
}

#define MAX_PAYLOAD (256u * 1024u)

/* A description record followed by the bytes of parts[0..n). */
static void ring_put_def(uint32_t kind, uint64_t object, int32_t tidfield,
			 const void *const *parts, const uint32_t *lens, int n)
{
	const unsigned rs = sizeof(struct pt_ring_record);
	uint32_t total = 0;

	for (int i = 0; i < n; i++)
		total += lens[i];
	if (total > MAX_PAYLOAD)
		return;
	uint64_t nrec = 1 + (total + rs - 1) / rs;
	uint64_t head;
	struct pt_ring_header *h = ring_begin(nrec, &head);
	if (!h)
		return;
	struct pt_ring_record *r = ring_slot(h, head);
	r->object = object;
	r->aux = total;
	r->ts = 0;
	r->tid = tidfield;
	r->kind_offset = kind | (PT_REC_NO_OFFSET << 8);
	uint64_t at = head + 1;
	uint32_t fill = 0;
	uint8_t *dst = (uint8_t *)ring_slot(h, at);
	for (int i = 0; i < n; i++) {
		const uint8_t *src = parts[i];
		for (uint32_t k = 0; k < lens[i]; k++) {
			dst[fill++] = src[k];
			if (fill == rs) {
				fill = 0;
				dst = (uint8_t *)ring_slot(h, ++at);
			}
		}
	}
	ring_commit(h, head, nrec);
}

/* The UTF-8 bytes of a str (2.7: the bytes of a str). */
static const char *agent_str(PyObject *s, uint32_t *len)
{
	const struct pt_agent_offsets *o = &ctx.off;

	*len = 0;
	if (!s)
		return "";
	if (o->str_is_bytes) {
		*len = (uint32_t)AT(s, o->varobject_size, int64_t);
		return (const char *)s + o->bytes_sval;
	}
	uint32_t state = AT(s, o->unicode_state, uint32_t);
	if ((state & o->unicode_compact_bit) && (state & o->unicode_ascii_bit)) {
		*len = (uint32_t)AT(s, o->unicode_length, int64_t);
		return (const char *)s + o->str_data;
	}
	ssize_t n = 0;
	const char *p = API(PyUnicode_AsUTF8AndSize, const char *, PyObject *, ssize_t *)(s, &n);
	if (!p) {
		API(PyErr_Clear, void, void)();
		return "?";
	}
	*len = (uint32_t)n;
	return p;
}

static uint32_t cstr_len(const char *s)
{
	uint32_t n = 0;

	while (s && s[n] && n < 4096)
		n++;
	return n;
}

static void agent_describe_code(uint64_t code)
{
	const struct pt_agent_offsets *o = &ctx.off;
	PyObject *c = (PyObject *)(uintptr_t)code;
	struct pt_def_code d = { 0 };
	const char *name = agent_str(AT(c, o->code_name, PyObject *), &d.name_len);
	const char *file = agent_str(AT(c, o->code_filename, PyObject *), &d.file_len);
	PyObject *table = AT(c, o->code_table, PyObject *);
	const void *parts[4];
	uint32_t lens[4];

	if (table)
		d.table_len = (uint32_t)AT(table, o->varobject_size, int64_t);
	if (d.name_len > 4096)
		d.name_len = 4096;
	if (d.file_len > 4096)
		d.file_len = 4096;
	if (d.table_len > MAX_PAYLOAD - 8192 - sizeof(d))
		d.table_len = 0;
	d.flags = (uint32_t)AT(c, o->code_flags, int32_t);
	parts[0] = &d, lens[0] = sizeof(d);
	parts[1] = name, lens[1] = d.name_len;
	parts[2] = file, lens[2] = d.file_len;
	parts[3] = table ? (const char *)table + o->bytes_sval : "", lens[3] = d.table_len;
	ring_put_def(PT_EV_DEF_CODE, code, AT(c, o->code_firstlineno, int32_t), parts, lens, 4);
}

static void agent_describe_name(uint64_t object, const char *name)
{
	const void *parts[1] = { name };
	uint32_t lens[1] = { cstr_len(name) };

	ring_put_def(PT_EV_DEF_NAME, object, 0, parts, lens, 1);
}

/* ------------------------------------------------------------------ */
/* Predicates: --within, --file, --function evaluated at the probe      */

/*
 * What pytrace's filters (src/flow/events.c) would do with an event,
 * decided here so that an event no line can show is never recorded.
 * The rules are pytrace's, on the same bytes a description carries;
 * pytrace applies them again to what it reads, so the agent leaves out
 * only events whose absence changes no line: a frame neither passed by
 * --file/--function nor matched by --within (with its exit: the verdict
 * is per code object, so an entry is left out exactly when its exit is),
 * a frame outside every --within extent of its thread, and with --file
 * a C call made by a frame left out. The verdict is computed once per
 * code object and kept in the tag bits of its key in the pin set.
 */
enum { V_PASS = 2, V_WITHIN = 4 };      /* SET_TAG_MASK bits */

static inline int filter_on(void)
{
	return (ctx.flags & PT_AGENT_F_FILTER) != 0;
}

static inline int filter_within(void)
{
	return (ctx.filter.flags & PT_FILTER_WITHIN) != 0;
}

/* pytrace's copy of a description's string ends at its first NUL. */
static uint32_t bytes_len(const char *s, uint32_t len)
{
	uint32_t n = 0;

	while (n < len && s[n])
		n++;
	return n;
}

static int bytes_equal(const char *a, uint32_t an, const char *b)
{
	uint32_t bn = cstr_len(b);

	if (an != bn)
		return 0;
	for (uint32_t i = 0; i < an; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

/* strstr(h, needle) on h[0, hn) */
static int bytes_contain(const char *h, uint32_t hn, const char *needle)
{
	uint32_t nn = cstr_len(needle);

	for (uint32_t i = 0; i + nn <= hn; i++) {
		uint32_t k = 0;
		while (k < nn && h[i + k] == needle[k])
			k++;
		if (k == nn)
			return 1;
	}
	return 0;
}

/* events.c name_matches(): the qualified name, or its last dotted part. */
static int name_is(const char *name, uint32_t n, const char *want)
{
	if (bytes_equal(name, n, want))
		return 1;
	for (uint32_t i = n; i-- > 0;)
		if (name[i] == '.')
			return bytes_equal(name + i + 1, n - i - 1, want);
	return 0;
}

/* events.c code_judge() on code: V_* bits; *named when a --function or
 * --within name matches (pytrace warns about names that never ran, so
 * such a code object is described even if none of its events is
 * recorded). */
static uint32_t filter_judge(uint64_t code, int *named)
{
	const struct pt_agent_offsets *o = &ctx.off;
	const struct pt_agent_filter *f = &ctx.filter;
	PyObject *c = (PyObject *)(uintptr_t)code;
	uint32_t nlen, flen, v = 0;
	const char *name = agent_str(AT(c, o->code_name, PyObject *), &nlen);
	const char *file = agent_str(AT(c, o->code_filename, PyObject *), &flen);
	const char *p = f->strings;
	int file_ok = f->n_files == 0, func_ok = f->n_funcs == 0;

	nlen = bytes_len(name, nlen > 4096 ? 4096 : nlen);  /* as described */
	flen = bytes_len(file, flen > 4096 ? 4096 : flen);
	for (uint32_t i = 0; i < f->n_files; i++, p += cstr_len(p) + 1)
		file_ok |= bytes_contain(file, flen, p);
	for (uint32_t i = 0; i < f->n_funcs; i++, p += cstr_len(p) + 1)
		if (name_is(name, nlen, p))
			func_ok = *named = 1;
	if (file_ok && func_ok)
		v |= V_PASS;
	if (f->flags & PT_FILTER_WITHIN) {
		const char *wfile = p + cstr_len(p) + 1;
		if (name_is(name, nlen, p) &&
		    (!(f->flags & PT_FILTER_WITHIN_FILE) || bytes_contain(file, flen, wfile)))
			v |= V_WITHIN, *named = 1;
	}
	return v;
}

/* A code object's verdict (V_PASS when there are no predicates). The
 * first time: judge, pin it, and describe it if a line may name it. */
static void agent_set_threading_hook(void);

static inline uint32_t agent_code(uint64_t code)
{
	uint32_t tag;
	int named = 0;

	if (LIKELY(!agent_pin(code, &tag)))
		return filter_on() ? tag : V_PASS;
	tag = filter_on() ? filter_judge(code, &named) : V_PASS;
	if (tag || named)
		agent_describe_code(code);
	agent_pin_done(code, tag);
	/* the profile function: until `threading` is there, look for it at
	 * each new code object */
	if (!ctx.threading_done && !(ctx.flags & (PT_AGENT_F_MONITORING | PT_AGENT_F_EVALHOOK)))
		agent_set_threading_hook();
	return tag;
}

/* --within, per thread: how many activations of a matching function are
 * on its stack (an extent is open while that is not 0). One word per
 * thread that ever entered an extent: tid << 32 | depth, claimed once
 * (never emptied, so a lookup stops at the first empty slot); when the
 * table is full, a slot at depth 0 changes hands. Only the owner changes
 * its depth, always with a compare-and-swap on the whole word, so a slot
 * taken over meanwhile is noticed. */
#define WITHIN_SLOTS 4096
static uint64_t within_slots[WITHIN_SLOTS];

static uint64_t *within_find(int32_t tid, int claim)
{
	uint64_t want = (uint64_t)(uint32_t)tid << 32;
	uint32_t i = ((uint32_t)tid * 2654435761u) >> 20 & (WITHIN_SLOTS - 1);

	for (uint32_t n = 0; n < WITHIN_SLOTS; n++, i = (i + 1) & (WITHIN_SLOTS - 1)) {
		uint64_t v = __atomic_load_n(&within_slots[i], __ATOMIC_ACQUIRE);
		if ((v >> 32) == (want >> 32))
			return &within_slots[i];
		if (!v) {
			if (!claim)
				return 0;
			if (__atomic_compare_exchange_n(&within_slots[i], &v, want, 0, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE))
				return &within_slots[i];
			if ((v >> 32) == (want >> 32))
				return &within_slots[i];
		}
	}
	for (uint32_t k = 0; claim && k < WITHIN_SLOTS; k++) {
		uint64_t v = __atomic_load_n(&within_slots[k], __ATOMIC_ACQUIRE);
		if (!(uint32_t)v && __atomic_compare_exchange_n(&within_slots[k], &v, want, 0,
								__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return &within_slots[k];
	}
	return 0;
}

/* Inside an extent: only a thread that opened one has a depth. */
static inline int within_inside(void)
{
	if (LIKELY(!__atomic_load_n(&ctx.within_open, __ATOMIC_RELAXED)))
		return 0;
	uint64_t *s = within_find(agent_tid(), 0);
	return s && (uint32_t)__atomic_load_n(s, __ATOMIC_RELAXED) != 0;
}

/* Adds d (+1, -1) to this thread's depth; returns the depth before. */
static uint32_t within_add(int d)
{
	int32_t tid = agent_tid();

	for (;;) {
		uint64_t *s = within_find(tid, d > 0);
		if (!s)
			return d > 0 ? ~0u : 0;  /* no slot left; or not inside */
		uint64_t v = __atomic_load_n(s, __ATOMIC_ACQUIRE);
		if ((v >> 32) != (uint32_t)tid)
			continue;            /* taken over: it was at 0 */
		uint32_t depth = (uint32_t)v;
		if (d < 0 && !depth)
			return 0;            /* entered before the install */
		if (__atomic_compare_exchange_n(s, &v, v + (uint64_t)(int64_t)d, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return depth;
	}
}

static void filter_skip(uint64_t n);
static void mon_restart(void);

/* A call of the --within function starts (or resumes). */
static void within_enter(void)
{
	uint32_t before = within_add(1);

	if (UNLIKELY(before == ~0u)) {
		filter_skip(0);  /* no room to count this thread: counted as a drop */
		return;
	}
	if (!before) {
		__atomic_add_fetch(&ctx.within_open, 1, __ATOMIC_SEQ_CST);
		if (ctx.within_disabled)
			mon_restart();
	}
}

static void within_leave(void)
{
	if (within_add(-1) == 1)
		__atomic_sub_fetch(&ctx.within_open, 1, __ATOMIC_SEQ_CST);
}

/* Counts n events left out in the ring header (n = 0: one dropped).
 * With a GIL, busy guards the ring as in ring_begin(); free-threaded,
 * the event's agent_enter() does. */
static void filter_skip(uint64_t n)
{
	struct pt_ring_header *h;

	if (agent_ft()) {
		if ((h = ring()))
			__atomic_add_fetch(n ? &h->skipped : &h->dropped, n ? n : 1, __ATOMIC_RELAXED);
		return;
	}
	ctx.busy = 1;
	barrier();
	if ((h = ring())) {
		if (n)
			h->skipped += n;
		else
			h->dropped++;
	}
	barrier();
	ctx.busy = 0;
}

/* Whether an event of a Python frame with verdict v is recorded, keeping
 * the --within depth (an entry of the --within function counts before
 * the test, its exit after); one left out counts as n. */
static inline int filter_py_n(uint32_t v, int entry, uint64_t n)
{
	if (LIKELY(!filter_on()))
		return 1;
	if (entry && (v & V_WITHIN))
		within_enter();
	int rec = (v & (V_PASS | V_WITHIN)) && (!filter_within() || within_inside());
	if (!entry && (v & V_WITHIN))
		within_leave();
	if (!rec)
		filter_skip(n);
	return rec;
}

static inline int filter_py(uint32_t v, int entry)
{
	return filter_py_n(v, entry, 1);
}

/* Whether a C event is recorded, the frame calling it having verdict
 * caller_v: pytrace shows a C call under --file only if its caller is
 * shown (--function on C names is left to pytrace). */
static inline int filter_c(uint32_t caller_v)
{
	if (LIKELY(!filter_on()))
		return 1;
	int rec = (!ctx.filter.n_files || (caller_v & (V_PASS | V_WITHIN))) &&
		  (!filter_within() || within_inside());
	if (!rec)
		filter_skip(1);
	return rec;
}

/* ------------------------------------------------------------------ */
/* Install and uninstall                                               */

static void agent_lazy_init(void);
static int agent_profile(PyObject *obj, PyObject *frame, int what, PyObject *arg);

static PyObject *agent_current_tstate(void)
{
	return API(PyThreadState_Get, PyObject *, void)();
}

/* Calls fn(tstate) for every thread state of every interpreter. */
static int for_each_tstate(int (*fn)(PyObject *ts, PyObject *cur), PyObject *cur)
{
	PyObject *interp = API(PyInterpreterState_Head, PyObject *, void)();
	for (; interp; interp = API(PyInterpreterState_Next, PyObject *, PyObject *)(interp)) {
		PyObject *ts = API(PyInterpreterState_ThreadHead, PyObject *, PyObject *)(interp);
		for (; ts; ts = API(PyThreadState_Next, PyObject *, PyObject *)(ts)) {
			int rc = fn(ts, cur);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int tstate_check_free(PyObject *ts, PyObject *cur)
{
	uint64_t f = AT(ts, ctx.off.tstate_c_profilefunc, uint64_t);
	(void)cur;
	return f && f != (uint64_t)(uintptr_t)&agent_profile ? PT_AGENT_E_PROFILER : 0;
}

/* Sets (on) or clears our profile function on one thread state, the way
 * PyEval_SetProfile would; ts is not the current thread, or the version
 * has _PyEval_SetProfile. Runs with the GIL, so ts is not running. */
static void tstate_set_profile(PyObject *ts, PyObject *cur, int on)
{
	const struct pt_agent_offsets *o = &ctx.off;
	void *fn = on ? (void *)&agent_profile : 0;

	if (ctx.api._PyEval_SetProfile) {
		API(_PyEval_SetProfile, int, PyObject *, void *, PyObject *)(ts, fn, 0);
		return;
	}
	if (ts == cur) {
		API(PyEval_SetProfile, void, void *, PyObject *)(fn, 0);
		return;
	}
	/* <=3.8, another thread: what PyEval_SetProfile does, done for it. */
	AT(ts, o->tstate_c_profilefunc, void *) = fn;
	AT(ts, o->tstate_c_profileobj, PyObject *) = 0;
	AT(ts, o->tstate_use_tracing, int32_t) =
		on || AT(ts, o->tstate_c_tracefunc, void *) != 0;
}

static int tstate_install(PyObject *ts, PyObject *cur)
{
	tstate_set_profile(ts, cur, 1);
	return 0;
}

static void *agent_eval_hook(void);

/* What an interpreter's PEP 523 slot holds when nobody hooks it: the
 * default function up to 3.10; NULL in 3.11, which inlines Python calls
 * only then (so NULL is what must be put back). */
static void *eval_default(void)
{
	return ctx.off.frame_frame >= 0 ? 0 : (void *)(uintptr_t)ctx.api._PyEval_EvalFrameDefault;
}

/* The PEP 523 hook slot of every interpreter: set ours (on), or put the
 * default back where it is ours. Setting fails if someone else's is
 * there. */
static int interps_set_eval(int on)
{
	void *ours = agent_eval_hook(), *dflt = eval_default();
	PyObject *interp = API(PyInterpreterState_Head, PyObject *, void)();

	for (PyObject *i = interp; on && i; i = API(PyInterpreterState_Next, PyObject *, PyObject *)(i)) {
		void *cur = AT(i, ctx.off.interp_eval_frame, void *);
		if (cur && cur != ours && cur != (void *)(uintptr_t)ctx.api._PyEval_EvalFrameDefault)
			return PT_AGENT_E_PROFILER;
	}
	for (; interp; interp = API(PyInterpreterState_Next, PyObject *, PyObject *)(interp)) {
		void **slot = &AT(interp, ctx.off.interp_eval_frame, void *);
		if (on)
			*slot = ours;
		else if (*slot == ours)
			*slot = dflt;
	}
	return 0;
}

static int tstate_uninstall(PyObject *ts, PyObject *cur)
{
	if (AT(ts, ctx.off.tstate_c_profilefunc, uint64_t) == (uint64_t)(uintptr_t)&agent_profile)
		tstate_set_profile(ts, cur, 0);
	return 0;
}

static PyObject *agent_monitoring(void)
{
	return API(PySys_GetObject, PyObject *, const char *)("monitoring");
}

/* The events each callback is registered for, as offsets into ctx.off. */
static int32_t mon_event(int cb)
{
	const struct pt_agent_offsets *o = &ctx.off;

	switch (cb) {
	case CB_START: return o->mon_py_start;
	case CB_RESUME: return o->mon_py_resume;
	case CB_RETURN: return o->mon_py_return;
	case CB_YIELD: return o->mon_py_yield;
	case CB_UNWIND: return o->mon_py_unwind;
	case CB_THROW: return o->mon_py_throw;
	case CB_CALL: return o->mon_call;
	case CB_C_RETURN: return o->mon_c_return;
	case CB_C_RAISE: return o->mon_c_raise;
	}
	return -1;
}

static void agent_methods_init(void);

/* 3.12+: registers our callbacks as a sys.monitoring tool. */
static int install_monitoring(void)
{
	static const int ids[] = { 4, 3, 5, 1, 0, 2 };
	PyObject *mon = agent_monitoring();
	PyObject *args[3];
	int ncb = (ctx.flags & PT_AGENT_F_CCALLS) ? CB_COUNT : CB_CALL;
	long mask = 0;

	if (!mon) {
		ctx.error_step = 1;
		return PT_AGENT_E_PYTHON;
	}
	ctx.tool_id = -1;
	for (unsigned i = 0; i < sizeof(ids) / sizeof(ids[0]) && ctx.tool_id < 0; i++) {
		args[0] = py_long(ids[i]);
		args[1] = API(PyUnicode_FromString, PyObject *, const char *)("pytrace");
		if (args[0] && args[1] && py_call_method(mon, "use_tool_id", 2, args) == 0)
			ctx.tool_id = ids[i];
		if (args[0])
			py_decref(args[0]);
		if (args[1])
			py_decref(args[1]);
	}
	if (ctx.tool_id < 0)
		return PT_AGENT_E_NOTOOL;
	if (ctx.flags & PT_AGENT_F_FILTER) {
		PyObject *d = API(PyObject_GetAttrString, PyObject *, PyObject *, const char *)(mon, "DISABLE");
		if (!d)
			API(PyErr_Clear, void, void)();
		ctx.mon_disable = (uint64_t)(uintptr_t)d;   /* kept: events may return it */
	}
	for (int cb = 0; cb < ncb; cb++) {
		PyObject *fn = API(PyCFunction_NewEx, PyObject *, struct PyMethodDef *, PyObject *, PyObject *)(
			&agent_methods[cb], 0, 0);
		if (!fn) {
			API(PyErr_Clear, void, void)();
			ctx.error_step = 10 + cb;
			return PT_AGENT_E_PYTHON;
		}
		ctx.callbacks[cb] = (uint64_t)(uintptr_t)fn;
		args[0] = py_long(ctx.tool_id);
		args[1] = py_long(1l << mon_event(cb));  /* the API takes event flags */
		args[2] = fn;
		int rc = py_call_method(mon, "register_callback", 3, args);
		py_decref(args[0]);
		py_decref(args[1]);
		if (rc < 0) {
			ctx.error_step = 20 + cb;
			return PT_AGENT_E_PYTHON;
		}
		/* C_RETURN and C_RAISE come with CALL; they cannot be set alone. */
		if (cb != CB_C_RETURN && cb != CB_C_RAISE)
			mask |= 1l << mon_event(cb);
	}
	args[0] = py_long(ctx.tool_id);
	args[1] = py_long(mask);
	int rc = py_call_method(mon, "set_events", 2, args);
	py_decref(args[0]);
	py_decref(args[1]);
	if (rc < 0) {
		ctx.error_step = 30;
		return PT_AGENT_E_PYTHON;
	}
	return 0;
}

static void uninstall_monitoring(void)
{
	PyObject *mon = agent_monitoring();
	PyObject *args[3];

	if (!mon || ctx.tool_id < 0)
		return;
	args[0] = py_long(ctx.tool_id);
	args[1] = py_long(0);
	py_call_method(mon, "set_events", 2, args);
	py_decref(args[1]);
	for (int cb = 0; cb < CB_COUNT; cb++) {
		if (!ctx.callbacks[cb])
			continue;
		args[1] = py_long(1l << mon_event(cb));
		args[2] = py_none();
		py_call_method(mon, "register_callback", 3, args);
		py_decref(args[1]);
		/* Our reference is kept: this may run from that very callback. */
		ctx.callbacks[cb] = 0;
	}
	py_call_method(mon, "free_tool_id", 1, args);
	py_decref(args[0]);
	ctx.tool_id = -1;
}

/* <=3.11: new `threading` threads call sys.setprofile(threading._profile_hook)
 * before run(); ours swaps itself for the C hook on its first event. */
static void agent_set_threading_hook(void)
{
	PyObject *modules, *threading, *cur;

	if (ctx.threading_done || (ctx.flags & PT_AGENT_F_MONITORING))
		return;
	modules = API(PyImport_GetModuleDict, PyObject *, void)();
	threading = modules ? API(PyDict_GetItemString, PyObject *, PyObject *, const char *)(
				      modules, "threading")
			    : 0;
	if (!threading)
		return;
	cur = API(PyObject_GetAttrString, PyObject *, PyObject *, const char *)(threading, "_profile_hook");
	if (!cur) {
		/* the module is still executing its first lines */
		API(PyErr_Clear, void, void)();
		return;
	}
	ctx.threading_done = 1;
	/* Someone else's hook (threading.setprofile) is left alone. */
	if (cur == py_none()) {
		PyObject *hook = (PyObject *)(uintptr_t)ctx.thread_hook;
		if (!hook)
			hook = API(PyCFunction_NewEx, PyObject *, struct PyMethodDef *, PyObject *, PyObject *)(
				&agent_methods[M_THREAD_HOOK], 0, 0);
		if (hook) {
			ctx.thread_hook = (uint64_t)(uintptr_t)hook;
			if (API(PyObject_SetAttrString, int, PyObject *, const char *, PyObject *)(
				    threading, "_profile_hook", hook) < 0)
				API(PyErr_Clear, void, void)();
		} else {
			API(PyErr_Clear, void, void)();
		}
	}
	py_decref(cur);
}

static void agent_clear_threading_hook(void)
{
	PyObject *modules, *threading, *cur;
	PyObject *hook = (PyObject *)(uintptr_t)ctx.thread_hook;

	if (!hook)
		return;
	modules = API(PyImport_GetModuleDict, PyObject *, void)();
	threading = modules ? API(PyDict_GetItemString, PyObject *, PyObject *, const char *)(
				      modules, "threading")
			    : 0;
	if (threading) {
		cur = API(PyObject_GetAttrString, PyObject *, PyObject *, const char *)(threading, "_profile_hook");
		if (!cur)
			API(PyErr_Clear, void, void)();
		if (cur == hook &&
		    API(PyObject_SetAttrString, int, PyObject *, const char *, PyObject *)(
			    threading, "_profile_hook", py_none()) < 0)
			API(PyErr_Clear, void, void)();
		if (cur)
			py_decref(cur);
	}
	/* Our reference to the hook is kept: a thread may be inside it right
	 * now (this may be running from it), and it is one small object. */
	ctx.thread_hook = 0;
}

/* Installs the hooks; the pending-call entry point (GIL held). Safe to
 * call again: does nothing unless the agent is freshly loaded. */
HIDDEN int agent_install(void *unused)
{
	PyObject *et, *ev, *etb;
	int err = 0;

	(void)unused;
	if (ctx.state != PT_AGENT_LOADED || ctx.stop || agent_forked() ||
	    __atomic_exchange_n(&ctx.install_claimed, 1, __ATOMIC_ACQ_REL))
		return 0;   /* free-threaded, the pending and the injected call
		               may both run: the first one installs */
	__atomic_add_fetch(&ctx.busy, 1, __ATOMIC_SEQ_CST);
	API(PyErr_Fetch, void, PyObject **, PyObject **, PyObject **)(&et, &ev, &etb);
	agent_methods_init();
	agent_lazy_init();
	if (agent_ft() && !ctx.done_addr) {
		uint64_t cap = ring()->capacity;
		long p = sys6(SYS_mmap, 0, (long)(cap * 4), 3 /* RW */, 0x22 /* PRIVATE|ANON */, -1, 0);
		if (p < 0 && p > -4096)
			err = PT_AGENT_E_NOMEM;
		else
			ctx.done_size = cap * 4, ctx.done_addr = (uint64_t)p;
	}
	if (err) {
		/* nothing installed */
	} else if (ctx.flags & PT_AGENT_F_MONITORING) {
		err = install_monitoring();
		if (err)
			uninstall_monitoring();
	} else if (ctx.flags & PT_AGENT_F_EVALHOOK) {
		err = interps_set_eval(1);
	} else {
		PyObject *cur = agent_current_tstate();
		err = for_each_tstate(tstate_check_free, cur);
		if (!err) {
			for_each_tstate(tstate_install, cur);
			agent_set_threading_hook();
		}
	}
	if (err) {
		ctx.error = err;
		ctx.state = PT_AGENT_FAILED;
		ring()->state = PT_AGENT_FAILED;
	} else {
		ctx.state = PT_AGENT_INSTALLED;
		ring()->state = PT_AGENT_INSTALLED;
	}
	API(PyErr_Restore, void, PyObject *, PyObject *, PyObject *)(et, ev, etb);
	__atomic_sub_fetch(&ctx.busy, 1, __ATOMIC_SEQ_CST);
	return 0;
}

/* Removes every hook, lets pytrace drain the ring, drops the code
 * references and unmaps the ring (in a fork child: its copy, unwritten).
 * GIL held; free-threaded, the first caller does it, once the other
 * threads inside the agent are out (inside: 1 if the caller's own event
 * is counted in busy). */
static void agent_uninstall(int inside)
{
	PyObject *et, *ev, *etb;
	struct pt_ring_header *h;
	uint32_t installed = PT_AGENT_INSTALLED;

	if (!__atomic_compare_exchange_n(&ctx.state, &installed, PT_AGENT_DRAINING, 0,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return;
	/* Only now, not before the state changed: until then pytrace may
	 * take the ring back (every thread stopped, this one maybe between
	 * the two), clear ctx.ring and unmap it; from DRAINING on it leaves
	 * the ring to us. */
	h = (struct pt_ring_header *)(uintptr_t)__atomic_load_n(&ctx.ring, __ATOMIC_SEQ_CST);
	API(PyErr_Fetch, void, PyObject **, PyObject **, PyObject **)(&et, &ev, &etb);
	if (ctx.flags & PT_AGENT_F_MONITORING) {
		uninstall_monitoring();
	} else if (ctx.flags & PT_AGENT_F_EVALHOOK) {
		interps_set_eval(0);
	} else {
		for_each_tstate(tstate_uninstall, agent_current_tstate());
		agent_clear_threading_hook();
	}
	/* Free-threaded: an event that began before the state changed may
	 * still be writing; one that begins now sees it and leaves. */
	if (agent_ft()) {
		unsigned spin = 0;
		while (__atomic_load_n(&ctx.busy, __ATOMIC_SEQ_CST) > (uint32_t)inside)
			spin_wait(&spin);
	}
	/* Records describe their code objects themselves (PT_EV_DEF_CODE),
	 * so pytrace needs none of them alive any more. */
	agent_unpin_all();
	if (h) {
		if (!agent_forked())
			h->state = PT_AGENT_DETACHED;
		else  /* its events are not traced: pytrace says so */
			__atomic_add_fetch(&h->untraced_children, 1, __ATOMIC_RELAXED);
		ctx.ring = 0;
		sys2(SYS_munmap, h, ctx.ring_size);
	}
	if (ctx.done_addr) {  /* also when pytrace took the ring back itself */
		sys2(SYS_munmap, ctx.done_addr, ctx.done_size);
		ctx.done_addr = 0;
	}
	if (ctx.lifeline >= 0) {
		sys1(SYS_close, ctx.lifeline);
		ctx.lifeline = -1;
	}
	API(PyErr_Restore, void, PyObject *, PyObject *, PyObject *)(et, ev, etb);
	ctx.state = PT_AGENT_DETACHED;
}

/* Whether this process is a fork child of the one pytrace loaded the
 * agent into: the guard word reads 0 there from the first instruction
 * after fork (MADV_WIPEONFORK), whether or not any fork handler ran
 * (the atfork handler is only registered at the first event, and a raw
 * clone runs none). One load per check. */
static inline int agent_forked(void)
{
	if (UNLIKELY(ctx.forked))
		return 1;
	if (LIKELY(ctx.fork_guard) &&
	    UNLIKELY(*(volatile uint64_t *)(uintptr_t)ctx.fork_guard != PT_FORK_GUARD_MAGIC)) {
		ctx.forked = 1;
		return 1;
	}
	return 0;
}

static inline int agent_ft(void)
{
	return (ctx.flags & PT_AGENT_F_FREETHREADED) != 0;
}

/* Every event starts here: true if the hook should run. */
static inline int agent_active(void)
{
	if (LIKELY(!(ctx.stop | ctx.forked) && ctx.state == PT_AGENT_INSTALLED) && !agent_forked())
		return 1;
	agent_uninstall(0);
	return 0;
}

/* sys.monitoring events (the only hook on free-threaded builds) start
 * here and end at agent_leave(): free-threaded, busy counts the threads
 * in between, so that an uninstall in another thread waits for them
 * before it drops what they use. The increment comes before the state
 * is looked at, and the uninstall changes the state before it looks at
 * busy (both sequentially consistent): one of the two sees the other. */
static inline int agent_enter(void)
{
	if (!agent_ft())
		return agent_active();
	__atomic_add_fetch(&ctx.busy, 1, __ATOMIC_SEQ_CST);
	if (LIKELY(!(ctx.stop | ctx.forked) && ctx.state == PT_AGENT_INSTALLED) && !agent_forked())
		return 1;
	__atomic_sub_fetch(&ctx.busy, 1, __ATOMIC_SEQ_CST);
	agent_uninstall(0);
	return 0;
}

static inline void agent_leave(void)
{
	if (agent_ft())
		__atomic_sub_fetch(&ctx.busy, 1, __ATOMIC_SEQ_CST);
}

static void agent_atfork_child(void)
{
	ctx.forked = 1;
}

/* Once, from the first event or the install (GIL held, in an ordinary
 * call: safe to let libc allocate). */
static void agent_lazy_init(void)
{
	if (ctx.lazy_done || __atomic_exchange_n(&ctx.lazy_done, 1, __ATOMIC_ACQ_REL))
		return;
	agent_methods_init();
	/* A fork child must not write into its parent's ring: the handler
	 * marks it, and its first event removes the hooks there. */
	if (ctx.api.register_atfork)
		API(register_atfork, int, void *, void *, void *, void *)(0, 0, (void *)&agent_atfork_child, 0);
	/* pytrace found the thread id's place in the thread control block by
	 * looking for the ids of the stopped threads; check it here. */
	if (ctx.tid_offset >= 0 && agent_tid() != (int32_t)sys1(SYS_gettid, 0))
		ctx.tid_offset = -1;
}

/* ------------------------------------------------------------------ */
/* <=3.11: the profile function                                        */

static inline uint64_t code_of(PyObject *frame)
{
	const struct pt_agent_offsets *o = &ctx.off;

	if (o->frame_frame >= 0)
		return AT(AT(frame, o->frame_frame, char *), o->iframe_code, uint64_t);
	return AT(frame, o->frame_code, uint64_t);
}

static inline int code_is_generator(uint64_t code)
{
	return AT(code, ctx.off.code_flags, int32_t) & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR);
}

/* The frame's bytecode offset in bytes, or -1 before its first
 * instruction. */
static inline int64_t frame_offset(PyObject *frame, uint64_t code)
{
	const struct pt_agent_offsets *o = &ctx.off;

	if (o->frame_frame >= 0) {
		char *iframe = AT(frame, o->frame_frame, char *);
		return AT(iframe, o->iframe_instr, char *) - ((char *)(uintptr_t)code + o->code_code_adaptive);
	}
	int32_t lasti = AT(frame, o->frame_lasti, int32_t);
	return lasti < 0 ? -1 : (int64_t)lasti * o->lasti_scale;
}

static inline uint32_t offset_field(int64_t off)
{
	return off < 0 || off >= PT_REC_NO_OFFSET ? PT_REC_NO_OFFSET : (uint32_t)off;
}

/* A generator frame that is being resumed rather than started. */
static inline int frame_resumes(uint64_t code, int64_t off)
{
	if (ctx.off.frame_frame >= 0)  /* 3.11: RESUME past the prologue */
		return off / 2 > AT(code, ctx.off.code_firsttraceable, int32_t);
	return off >= 0;
}

/* At a RETURN event: is the generator frame suspending, not finishing? */
static inline int frame_suspends(PyObject *frame)
{
	const struct pt_agent_offsets *o = &ctx.off;

	if (o->frame_stacktop >= 0)
		return AT(frame, o->frame_stacktop, void *) != 0;
	if (o->frame_state >= 0)
		return AT(frame, o->frame_state, int8_t) == o->frame_state_suspended;
	if (o->frame_frame >= 0) {
		char *iframe = AT(frame, o->frame_frame, char *);
		if (AT(iframe, o->iframe_owner, int8_t) != o->owner_generator)
			return 0;
		char *gen = iframe - o->gen_iframe;
		return AT(gen, o->gen_frame_state, int8_t) == o->gen_state_suspended;
	}
	return 0;
}

/* A C event for method definition ml with a self of type type. */
static void c_event_def(uint32_t kind, uint64_t ml, PyObject *type)
{
	uint32_t tag;

	if (agent_pin(ml | 1, &tag)) {
		agent_describe_name(ml, *(const char **)(uintptr_t)ml);
		agent_pin_done(ml | 1, 0);
	}
	if (type && agent_pin((uint64_t)(uintptr_t)type, &tag)) {
		agent_describe_name((uint64_t)(uintptr_t)type, AT(type, ctx.off.type_name, const char *));
		agent_pin_done((uint64_t)(uintptr_t)type, 0);
	}
	ring_put(ml, (uint64_t)(uintptr_t)type, kind, PT_REC_NO_OFFSET);
}

/* A module's function (time.sleep) is named by its module, whose name is
 * the function's __module__ (m_module, a str); a method (list.append) by
 * the type of the object it is bound to. */
static void c_event_module(uint32_t kind, uint64_t ml, PyObject *module)
{
	uint32_t tag;

	if (agent_pin(ml | 1, &tag)) {
		agent_describe_name(ml, *(const char **)(uintptr_t)ml);
		agent_pin_done(ml | 1, 0);
	}
	uint64_t m = (uint64_t)(uintptr_t)module;
	if (agent_pin(m, &tag)) {
		uint32_t len;
		const char *name = agent_str(module, &len);
		const void *parts[2] = { PT_DEF_NAME_MODULE, name };
		uint32_t lens[2] = { 1, len > 4096 ? 4096 : len };
		ring_put_def(PT_EV_DEF_NAME, m, 0, parts, lens, 2);
		agent_pin_done(m, 0);
	}
	ring_put(ml, m, kind, PT_REC_NO_OFFSET);
}

static inline void c_event(uint32_t kind, PyObject *func)
{
	const struct pt_agent_offsets *o = &ctx.off;
	PyObject *self = AT(func, o->cfunc_self, PyObject *);
	PyObject *module = o->cfunc_module >= 0 ? AT(func, o->cfunc_module, PyObject *) : 0;
	unsigned long str_flag = o->str_is_bytes ? 1ul << 27 : 1ul << 28;

	if (module && (AT(py_type(module), o->type_flags, unsigned long) & str_flag))
		c_event_module(kind, AT(func, o->cfunc_ml, uint64_t), module);
	else
		c_event_def(kind, AT(func, o->cfunc_ml, uint64_t), self ? py_type(self) : 0);
}

/*
 * Threads that start after the install, however they are made
 * (_thread.start_new_thread, threading, C): the profile function is per
 * thread state. A new thread state is made by its creator, which holds
 * the GIL and makes events (the C return of start_new_thread at least)
 * before the new thread can run Python, and goes at the head of its
 * interpreter's list. So a changed list head (folded over the
 * interpreters) at an event means thread states to cover: each one with
 * no profile function gets ours, as PyEval_SetProfile would do for it.
 */
static uint64_t profile_seen_heads;

static int tstate_cover(PyObject *ts, PyObject *cur)
{
	if (!AT(ts, ctx.off.tstate_c_profilefunc, uint64_t))
		tstate_set_profile(ts, cur, 1);
	return 0;
}

static inline void profile_cover_new_threads(void)
{
	uint64_t heads = 0;
	PyObject *interp = API(PyInterpreterState_Head, PyObject *, void)();

	for (; interp; interp = API(PyInterpreterState_Next, PyObject *, PyObject *)(interp))
		heads = heads * 31 +
			(uint64_t)(uintptr_t)API(PyInterpreterState_ThreadHead, PyObject *, PyObject *)(interp);
	if (LIKELY(heads == profile_seen_heads))
		return;
	profile_seen_heads = heads;
	for_each_tstate(tstate_cover, agent_current_tstate());
}

static int agent_profile(PyObject *obj, PyObject *frame, int what, PyObject *arg)
{
	uint64_t code;
	int64_t off;

	(void)obj;
	if (UNLIKELY(!agent_active()))
		return 0;
	if (UNLIKELY(!ctx.lazy_done))
		agent_lazy_init();
	profile_cover_new_threads();
	switch (what) {
	case PyTrace_CALL:
		code = code_of(frame);
		if (!filter_py(agent_code(code), 1))
			break;
		if (UNLIKELY(code_is_generator(code))) {
			off = frame_offset(frame, code);
			if (frame_resumes(code, off)) {
				ring_put(code, 0, PT_EV_RESUME, offset_field(off));
				break;
			}
		}
		ring_put(code, 0, PT_EV_CALL, PT_REC_NO_OFFSET);
		break;
	case PyTrace_RETURN:
		code = code_of(frame);
		if (!filter_py(agent_code(code), 0))
			break;
		off = frame_offset(frame, code);
		if (!arg)
			ring_put(code, 0, PT_EV_UNWIND, offset_field(off));
		else if (UNLIKELY(code_is_generator(code)) && frame_suspends(frame))
			ring_put(code, 0, PT_EV_YIELD, offset_field(off));
		else
			ring_put(code, 0, PT_EV_RETURN, offset_field(off));
		break;
	case PyTrace_C_CALL:
		if ((ctx.flags & PT_AGENT_F_CCALLS) && filter_c(agent_code(code_of(frame))))
			c_event(PT_EV_C_CALL, arg);
		break;
	case PyTrace_C_RETURN:
		if ((ctx.flags & PT_AGENT_F_CCALLS) && filter_c(agent_code(code_of(frame))))
			c_event(PT_EV_C_RETURN, arg);
		break;
	case PyTrace_C_EXCEPTION:
		if ((ctx.flags & PT_AGENT_F_CCALLS) && filter_c(agent_code(code_of(frame))))
			c_event(PT_EV_C_RAISE, arg);
		break;
	}
	return 0;
}

/* threading._profile_hook(frame, event, arg): the first event of a new
 * thread. Replaces itself by the C hook, then records that event. */
static PyObject *agent_thread_hook(PyObject *self, PyObject *args)
{
	PyObject **items = &AT(args, ctx.off.tuple_items, PyObject *);
	const char *event = (const char *)items[1] + ctx.off.str_data;
	int what = -1;

	(void)self;
	py_incref(py_none());
	if (ctx.stop || agent_forked() || ctx.state != PT_AGENT_INSTALLED) {
		agent_uninstall(0);
		API(PyEval_SetProfile, void, void *, PyObject *)(0, 0);
		return py_none();
	}
	API(PyEval_SetProfile, void, void *, PyObject *)((void *)&agent_profile, 0);
	if (event[0] == 'c' && event[1] == 'a')
		what = PyTrace_CALL;
	else if (event[0] == 'r')
		what = PyTrace_RETURN;
	else if (event[0] == 'c' && event[2] == 'c')
		what = PyTrace_C_CALL;
	else if (event[0] == 'c' && event[2] == 'r')
		what = PyTrace_C_RETURN;
	else if (event[0] == 'c' && event[2] == 'e')
		what = PyTrace_C_EXCEPTION;
	if (what >= 0)
		agent_profile(0, items[0], what, items[2]);
	return py_none();
}

/* ------------------------------------------------------------------ */
/* 3.6-3.11: the PEP 523 frame-evaluation hook                          */

/*
 * Every frame the interpreter evaluates passes through here: a call, or
 * a generator/coroutine resumed (or thrown into), and it comes back when
 * the frame returns, yields or unwinds. The frame is a PyFrameObject up
 * to 3.10 and a _PyInterpreterFrame in 3.11; either is alive (its caller
 * holds it) until this returns, so its last instruction is still there
 * to tell the line it left from. Compared with the profile function, no
 * frame object is made (3.11) and no exception state is saved per event.
 */

static inline int eval_is_iframe(void)
{
	return ctx.off.frame_frame >= 0;   /* 3.11: hooks get interpreter frames */
}

static inline uint64_t eval_code(void *f)
{
	return AT(f, eval_is_iframe() ? ctx.off.iframe_code : ctx.off.frame_code, uint64_t);
}

static inline int64_t eval_offset(void *f, uint64_t code)
{
	const struct pt_agent_offsets *o = &ctx.off;

	if (eval_is_iframe())
		return AT(f, o->iframe_instr, char *) - ((char *)(uintptr_t)code + o->code_code_adaptive);
	int32_t lasti = AT(f, o->frame_lasti, int32_t);
	return lasti < 0 ? -1 : (int64_t)lasti * o->lasti_scale;
}

static inline int eval_suspended(void *f)
{
	const struct pt_agent_offsets *o = &ctx.off;

	if (eval_is_iframe()) {
		if (AT(f, o->iframe_owner, int8_t) != o->owner_generator)
			return 0;
		return AT((char *)f - o->gen_iframe, o->gen_frame_state, int8_t) == o->gen_state_suspended;
	}
	return frame_suspends(f);
}

/* What eval_enter() returns: the code object, with in its low bits */
#define EVAL_RECORD 1ull   /* the frame's end is recorded */
#define EVAL_WITHIN 2ull   /* it is a --within activation */

/* Records the frame's start; returns its code object (| EVAL_*), or 0
 * when nothing is to be done at its end. */
static inline uint64_t eval_enter(void *f, int throwflag)
{
	if (UNLIKELY(!agent_active()))
		return 0;
	if (UNLIKELY(!ctx.lazy_done))
		agent_lazy_init();
	uint64_t code = eval_code(f);
	uint32_t kind = PT_EV_CALL, off = PT_REC_NO_OFFSET;
	if (UNLIKELY(code_is_generator(code))) {
		if (eval_is_iframe() &&
		    AT(f, ctx.off.iframe_owner, int8_t) != ctx.off.owner_generator)
			return 0;  /* 3.11 runs a generator function's prologue to
			              make the generator: not a call to report */
		int64_t o = eval_offset(f, code);
		int started = eval_is_iframe() ? o / 2 > AT(code, ctx.off.code_firsttraceable, int32_t)
					       : o >= 0;
		if (throwflag)
			kind = PT_EV_THROW, off = offset_field(o);
		else if (started)
			kind = PT_EV_RESUME, off = offset_field(o);
	}
	uint32_t v = agent_code(code);
	uint64_t within = UNLIKELY(filter_on()) && (v & V_WITHIN) ? EVAL_WITHIN : 0;
	/* the frame's end gets the same verdict (frames nest): counted now */
	if (!filter_py_n(v, 1, 2))
		return within ? code | within : 0;
	ring_put(code, 0, kind, off);
	return code | within | EVAL_RECORD;
}

static inline void eval_leave(void *f, uint64_t tagged, PyObject *result)
{
	uint64_t code = tagged & ~(EVAL_RECORD | EVAL_WITHIN);

	if (tagged & EVAL_WITHIN)
		within_leave();
	if (!(tagged & EVAL_RECORD) || UNLIKELY(!agent_active()))
		return;
	uint32_t off = offset_field(eval_offset(f, code));
	uint32_t kind = !result ? PT_EV_UNWIND
		: UNLIKELY(code_is_generator(code)) && eval_suspended(f) ? PT_EV_YIELD
		: PT_EV_RETURN;
	ring_put(code, 0, kind, off);
}

/* 3.9-3.11: _PyFrameEvalFunction(tstate, frame, throwflag) */
static PyObject *agent_eval3(void *tstate, void *f, int throwflag)
{
	uint64_t code = eval_enter(f, throwflag);
	PyObject *r = API(_PyEval_EvalFrameDefault, PyObject *, void *, void *, int)(tstate, f, throwflag);
	if (code)
		eval_leave(f, code, r);
	return r;
}

/* 3.6-3.8: _PyFrameEvalFunction(frame, throwflag) */
static PyObject *agent_eval2(void *f, int throwflag)
{
	uint64_t code = eval_enter(f, throwflag);
	PyObject *r = API(_PyEval_EvalFrameDefault, PyObject *, void *, int)(f, throwflag);
	if (code)
		eval_leave(f, code, r);
	return r;
}

static void *agent_eval_hook(void)
{
	return ctx.off.eval_frame_has_tstate ? (void *)&agent_eval3 : (void *)&agent_eval2;
}

/* ------------------------------------------------------------------ */
/* 3.12+: sys.monitoring callbacks (METH_FASTCALL)                     */

static inline PyObject *mon_result(void)
{
	return py_none();  /* immortal from 3.12 on: no reference needed */
}

/*
 * The event's bytecode offset, as the legacy profiler (sys.setprofile)
 * sees it: from the executing frame's instruction pointer, not from the
 * callback's offset argument. They differ when an exception leaves a
 * generator: the argument is the RERAISE in the generator's wrapper, the
 * frame points back at the yield the exception came in through.
 */
static inline uint32_t mon_offset(uint64_t code, PyObject *arg)
{
	const struct pt_agent_offsets *o = &ctx.off;
	char *ts = (char *)agent_current_tstate(), *iframe = 0;

	if (ts && o->tstate_current_frame >= 0)
		iframe = AT(ts, o->tstate_current_frame, char *);
	else if (ts && o->tstate_cframe >= 0)
		iframe = AT(AT(ts, o->tstate_cframe, char *), o->cframe_current_frame, char *);
	/* 3.14+: f_executable is a _PyStackRef, tagged in its low bits */
	if (LIKELY(iframe && (AT(iframe, o->iframe_code, uint64_t) & ~(uint64_t)o->stackref_tag_bits) == code))
		return offset_field(AT(iframe, o->iframe_instr, char *) -
				    ((char *)(uintptr_t)code + o->code_code_adaptive));
	return offset_field(API(PyLong_AsLong, long, PyObject *)(arg));
}

/*
 * An event left out: where it can be, turned off at its code location
 * (sys.monitoring.DISABLE) so that the code runs at full speed. Always
 * when no event of the frame (v) can ever be recorded; with a GIL, also
 * when none is recorded because no thread is inside a --within extent
 * (not the --within function's own events: they open extents); the
 * next extent then turns every event back on (restart_events), after
 * which the location is turned off again at its next use outside. After
 * MON_RESTARTS_MAX restarts (a --within function called often), only
 * the first rule. Only local events can be turned off (disable is
 * 1 for them).
 */
#define MON_RESTARTS_MAX 64

static inline PyObject *mon_skipped(uint32_t v, int disable)
{
	if (!disable || !ctx.mon_disable)
		return mon_result();
	if (!(v & (V_PASS | V_WITHIN)) ||
	    (!agent_ft() && !(v & V_WITHIN) && filter_within() && !ctx.within_open &&
	     ctx.within_restarts < MON_RESTARTS_MAX)) {
		if (v & (V_PASS | V_WITHIN))
			ctx.within_disabled = 1;
		PyObject *d = (PyObject *)(uintptr_t)ctx.mon_disable;
		py_incref(d);
		return d;
	}
	return mon_result();
}

/* sys.monitoring.restart_events(), when an extent opens after events
 * were turned off outside every extent (GIL held). */
static void mon_restart(void)
{
	PyObject *et, *ev, *etb, *mon;

	ctx.within_disabled = 0;
	ctx.within_restarts++;
	API(PyErr_Fetch, void, PyObject **, PyObject **, PyObject **)(&et, &ev, &etb);
	if ((mon = agent_monitoring()))
		py_call_method(mon, "restart_events", 0, 0);
	API(PyErr_Restore, void, PyObject *, PyObject *, PyObject *)(et, ev, etb);
}

static inline PyObject *mon_py_event(PyObject *const *args, uint32_t kind, int with_offset,
				     int entry, int disable)
{
	if (UNLIKELY(!agent_enter()))
		return mon_result();
	if (UNLIKELY(!ctx.lazy_done))
		agent_lazy_init();
	uint64_t code = (uint64_t)(uintptr_t)args[0];
	uint32_t v = agent_code(code);
	PyObject *r = mon_result();
	if (LIKELY(filter_py(v, entry)))
		ring_put(code, 0, kind, with_offset ? mon_offset(code, args[1]) : PT_REC_NO_OFFSET);
	else
		r = mon_skipped(v, disable);
	agent_leave();
	return r;
}

static PyObject *cb_start(PyObject *s, PyObject *const *a, ssize_t n)
{
	(void)s, (void)n;
	return mon_py_event(a, PT_EV_CALL, 0, 1, 1);
}

static PyObject *cb_resume(PyObject *s, PyObject *const *a, ssize_t n)
{
	(void)s, (void)n;
	return mon_py_event(a, PT_EV_RESUME, 1, 1, 1);
}

static PyObject *cb_return(PyObject *s, PyObject *const *a, ssize_t n)
{
	(void)s, (void)n;
	return mon_py_event(a, PT_EV_RETURN, 1, 0, 1);
}

static PyObject *cb_yield(PyObject *s, PyObject *const *a, ssize_t n)
{
	(void)s, (void)n;
	return mon_py_event(a, PT_EV_YIELD, 1, 0, 1);
}

static PyObject *cb_unwind(PyObject *s, PyObject *const *a, ssize_t n)
{
	(void)s, (void)n;
	return mon_py_event(a, PT_EV_UNWIND, 1, 0, 0);
}

static PyObject *cb_throw(PyObject *s, PyObject *const *a, ssize_t n)
{
	(void)s, (void)n;
	return mon_py_event(a, PT_EV_THROW, 1, 1, 0);
}

/* CALL / C_RETURN / C_RAISE (code, offset, callable, arg0): like the
 * legacy profiler, report only builtins and method descriptors. */
static inline PyObject *mon_c_event(PyObject *const *args, ssize_t n, uint32_t kind)
{
	if (n < 3 || UNLIKELY(!agent_enter()))
		return mon_result();
	PyObject *fn = args[2], *type = py_type(fn), *r = mon_result();
	uint64_t t = (uint64_t)(uintptr_t)type;
	if (UNLIKELY(filter_on())) {
		uint32_t v = agent_code((uint64_t)(uintptr_t)args[0]);  /* the caller */
		if (!filter_c(v)) {
			/* CALL only: C_RETURN and C_RAISE go with it */
			r = mon_skipped(ctx.filter.n_files ? v : V_PASS, kind == PT_EV_C_CALL);
			agent_leave();
			return r;
		}
	}
	if (t == ctx.api.PyCFunction_Type || (t && t == ctx.api.PyCMethod_Type)) {
		c_event(kind, fn);
	} else if (t && t == ctx.api.PyMethodDescr_Type) {
		PyObject *self = n > 3 ? args[3] : 0;
		if (self && (uint64_t)(uintptr_t)self != ctx.api.missing)
			c_event_def(kind, AT(fn, ctx.off.methoddescr_method, uint64_t), py_type(self));
	}
	agent_leave();
	return r;
}

static PyObject *cb_call(PyObject *s, PyObject *const *a, ssize_t n)
{
	(void)s;
	return mon_c_event(a, n, PT_EV_C_CALL);
}

static PyObject *cb_c_return(PyObject *s, PyObject *const *a, ssize_t n)
{
	(void)s;
	return mon_c_event(a, n, PT_EV_C_RETURN);
}

static PyObject *cb_c_raise(PyObject *s, PyObject *const *a, ssize_t n)
{
	(void)s;
	return mon_c_event(a, n, PT_EV_C_RAISE);
}

/* The method table holds absolute pointers, so it is filled at run time
 * (a static initializer would need relocations). */
static void agent_methods_init(void)
{
	if (agent_methods[0].ml_meth)
		return;
	void *meth[CB_COUNT] = {
		(void *)&cb_start, (void *)&cb_resume, (void *)&cb_return, (void *)&cb_yield,
		(void *)&cb_unwind, (void *)&cb_throw, (void *)&cb_call, (void *)&cb_c_return,
		(void *)&cb_c_raise,
	};
	for (int i = 0; i < CB_COUNT; i++) {
		agent_methods[i].ml_name = "pytrace_flow";
		agent_methods[i].ml_meth = meth[i];
		agent_methods[i].ml_flags = METH_FASTCALL;
	}
	agent_methods[M_THREAD_HOOK].ml_name = "pytrace_flow_thread";
	agent_methods[M_THREAD_HOOK].ml_meth = (void *)&agent_thread_hook;
	agent_methods[M_THREAD_HOOK].ml_flags = METH_VARARGS;
}

/* ------------------------------------------------------------------ */
/* Injected calls                                                      */

/* Called from agent_call_entry on the thread's own stack. */
HIDDEN void agent_injected_main(void)
{
	uint8_t *area = agent_xsave_area;
	uint32_t lo = (uint32_t)ctx.xsave_mask, hi = (uint32_t)(ctx.xsave_mask >> 32);

	if (ctx.flags & PT_AGENT_F_XSAVE)
		__asm__ volatile("xsave64 (%0)" ::"r"(area), "a"(lo), "d"(hi) : "memory");
	else
		__asm__ volatile("fxsave64 (%0)" ::"r"(area) : "memory");

	if (ctx.state == PT_AGENT_LOADED && !ctx.stop) {
		int g = API(PyGILState_Ensure, int, void)();
		agent_install(0);
		API(PyGILState_Release, void, int)(g);
	}
	agent_call_frame.done = 1;

	if (ctx.flags & PT_AGENT_F_XSAVE)
		__asm__ volatile("xrstor64 (%0)" ::"r"(area), "a"(lo), "d"(hi) : "memory");
	else
		__asm__ volatile("fxrstor64 (%0)" ::"r"(area) : "memory");
}

_Static_assert(__builtin_offsetof(struct pt_agent_call_frame, rax) == 80, "call frame layout");
_Static_assert(__builtin_offsetof(struct pt_agent_call_frame, rsp) == 136, "call frame layout");
_Static_assert(__builtin_offsetof(struct pt_agent_call_frame, busy) == 144, "call frame layout");

/* Entry of an injected call: rsp is 16-byte aligned on the thread's
 * stack, below its red zone. Restores every register and flag from the
 * call frame, then jumps to where the thread is to continue. */
__asm__(
	".text\n"
	".globl agent_call_entry\n"
	".hidden agent_call_entry\n"
	".type agent_call_entry, @function\n"
	"agent_call_entry:\n"
	"	call agent_injected_main\n"
	"	pushq agent_call_frame+128(%rip)\n"
	"	popfq\n"
	"	movq agent_call_frame+0(%rip), %r15\n"
	"	movq agent_call_frame+8(%rip), %r14\n"
	"	movq agent_call_frame+16(%rip), %r13\n"
	"	movq agent_call_frame+24(%rip), %r12\n"
	"	movq agent_call_frame+32(%rip), %rbp\n"
	"	movq agent_call_frame+40(%rip), %rbx\n"
	"	movq agent_call_frame+48(%rip), %r11\n"
	"	movq agent_call_frame+56(%rip), %r10\n"
	"	movq agent_call_frame+64(%rip), %r9\n"
	"	movq agent_call_frame+72(%rip), %r8\n"
	"	movq agent_call_frame+80(%rip), %rax\n"
	"	movq agent_call_frame+88(%rip), %rcx\n"
	"	movq agent_call_frame+96(%rip), %rdx\n"
	"	movq agent_call_frame+104(%rip), %rsi\n"
	"	movq agent_call_frame+112(%rip), %rdi\n"
	"	movq agent_call_frame+136(%rip), %rsp\n"
	"	movl $0, agent_call_frame+144(%rip)\n"
	"	jmp *agent_call_frame+120(%rip)\n"
	".size agent_call_entry, .-agent_call_entry\n");

void agent_call_entry(void);

/* ------------------------------------------------------------------ */
/* The header pytrace reads                                            */

extern char __agent_text_end[], __agent_image_end[], __agent_mem_end[];

__attribute__((section(".agent_header"), used))
const struct pt_agent_header agent_header = {
	.magic = PT_AGENT_MAGIC,
	.abi = PT_AGENT_ABI,
	.header_size = sizeof(struct pt_agent_header),
	.image_size = (uint64_t)__agent_image_end,
	.text_size = (uint64_t)__agent_text_end,
	.mem_size = (uint64_t)__agent_mem_end,
	.off_ctx = (uint64_t)&agent_ctx,
	.off_install = (uint64_t)&agent_install,
	.off_profile = (uint64_t)&agent_profile,
	.off_call_entry = (uint64_t)&agent_call_entry,
	.off_call_frame = (uint64_t)&agent_call_frame,
	.off_eval3 = (uint64_t)&agent_eval3,
	.off_eval2 = (uint64_t)&agent_eval2,
};
