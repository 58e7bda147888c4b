/*
 * _clock.c -- the machine's deterministic virtual clock and breakpoints.
 *
 * vclock_hook is a native UC_HOOK_CODE callback installed over the whole
 * address space, so it runs before every guest instruction.  The host
 * (machine.py) owns `struct vclock`, changes it only between emu_start calls
 * or from its own hooks, and reads it after emu_start returns.
 *
 * Contract, checked in this order before each instruction:
 *   1. stop_reason != 0: a stop was already requested; do nothing.
 *   2. the address is a breakpoint (and not the one we are resuming over):
 *      request a stop (reason 2); the instruction is NOT executed and NOT
 *      counted, EIP stays on it.  Breakpoints come before the deadline so
 *      that a run cut into slices reports the same breakpoint hits as one
 *      long run.
 *   3. icount >= deadline: request a stop (reason 1), not counted.
 *   4. irq_armed (an IRQ waits at the PIC while IF was 0): if IF was seen
 *      set before the previous instruction, request a stop (reason 3) so the
 *      host delivers the IRQ; else note whether IF is set now.  This gives
 *      one instruction of shadow after IF becomes 1, like `sti`, so
 *      `sti; hlt` cannot lose a wakeup.
 *   5. count the instruction (icount++), which then executes.
 *   6. the address is a probe: call probe_cb(address, icount before step 5)
 *      (the host's callback; it only observes, see Machine.add_probe).
 *      After the count, so a probe fires exactly once per instruction
 *      begun: never for a stop at the address (breakpoint, deadline, IRQ
 *      window: nothing ran), once when the run resumes over it.
 * Hence after emu_start returns, icount is exactly the number of
 * instructions begun; every stop happens at an exact instruction count.
 */
#include <stdint.h>

typedef int (*emu_stop_fn)(void *uc);
typedef int (*reg_read_fn)(void *uc, int regid, void *value);
typedef void (*probe_fn)(uint64_t address, uint64_t icount);

#define UC_X86_REG_EFLAGS 25
#define X86_IF 0x200u
#define BP_SLOTS 256   /* open addressing, power of two; host keeps <= 128 */

struct vclock {
    uint64_t icount;
    uint64_t deadline;
    emu_stop_fn emu_stop;
    reg_read_fn reg_read;
    uint64_t stop_reason;   /* 0 none, 1 deadline, 2 breakpoint, 3 irq window */
    uint64_t stop_addr;     /* address where the stop was requested          */
    uint64_t irq_armed;
    uint64_t if_seen;
    uint64_t skip_pending;  /* resuming over a breakpoint at skip_addr       */
    uint64_t skip_addr;
    uint64_t nbp;           /* number of breakpoints in bp[]                 */
    uint64_t bp[BP_SLOTS];  /* address+1, 0 = empty                          */
    probe_fn probe_cb;      /* called at probe addresses (host callback)      */
    uint64_t npr;           /* number of probes in pr[]                      */
    uint64_t pr[BP_SLOTS];  /* same hashing as bp[]                          */
};

static inline uint32_t bp_hash(uint64_t a)
{
    return (uint32_t)((a * 0x9E3779B97F4A7C15ull) >> 56) & (BP_SLOTS - 1);
}

static int table_contains(const uint64_t *t, uint64_t a)
{
    uint32_t i = bp_hash(a);
    for (uint32_t n = 0; n < BP_SLOTS; n++, i = (i + 1) & (BP_SLOTS - 1)) {
        if (t[i] == 0)
            return 0;
        if (t[i] == a + 1)
            return 1;
    }
    return 0;
}

static int table_add(uint64_t *t, uint64_t *n, uint64_t a)
{
    if (table_contains(t, a))
        return 0;
    if (*n >= BP_SLOTS / 2)
        return -1;
    uint32_t i = bp_hash(a);
    while (t[i])
        i = (i + 1) & (BP_SLOTS - 1);
    t[i] = a + 1;
    (*n)++;
    return 0;
}

#define bp_contains(c, a) table_contains((c)->bp, (a))

void vclock_hook(void *uc, uint64_t address, uint32_t size, void *user_data)
{
    struct vclock *c = (struct vclock *)user_data;
    (void)size;
    if (c->stop_reason)
        return;
    if (c->nbp && bp_contains(c, address)
        && !(c->skip_pending && c->skip_addr == address)) {
        c->stop_reason = 2;
        goto stop;
    }
    if (__builtin_expect(c->icount >= c->deadline, 0)) {
        c->stop_reason = 1;
        goto stop;
    }
    if (__builtin_expect(c->irq_armed != 0, 0)) {
        if (c->if_seen) {
            c->stop_reason = 3;
            goto stop;
        }
        uint32_t fl = 0;
        c->reg_read(uc, UC_X86_REG_EFLAGS, &fl);
        if (fl & X86_IF)
            c->if_seen = 1;
    }
    c->skip_pending = 0;
    c->icount++;
    if (__builtin_expect(c->npr != 0, 0) && table_contains(c->pr, address)
        && c->probe_cb)
        c->probe_cb(address, c->icount - 1);
    return;
stop:
    c->stop_addr = address;
    c->emu_stop(uc);
}

/* Breakpoint table maintenance (the host calls these between runs). */
int vclock_bp_add(struct vclock *c, uint64_t a)
{
    return table_add(c->bp, &c->nbp, a);
}

void vclock_bp_clear(struct vclock *c)
{
    for (int i = 0; i < BP_SLOTS; i++)
        c->bp[i] = 0;
    c->nbp = 0;
}

int vclock_probe_add(struct vclock *c, uint64_t a)
{
    return table_add(c->pr, &c->npr, a);
}

void vclock_probe_clear(struct vclock *c)
{
    for (int i = 0; i < BP_SLOTS; i++)
        c->pr[i] = 0;
    c->npr = 0;
}
