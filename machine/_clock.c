/*
 * _clock.c -- the machine's deterministic virtual clock and breakpoints.
 *
 * Virtual time is `icount`, the number of guest instructions begun.  Two
 * ways to count it here; the host (machine.py, clock.py) picks one per
 * engine, or a third: the patched engine counts inline (icount mode,
 * clock.Icount), and the host applies the contract below at the
 * boundaries where the engine stops (vclock_bp_stops; only vclock_addr's
 * breakpoints and stop requests, and the port hooks, run here then):
 *
 * Block mode (the default).  vclock_block is a UC_HOOK_BLOCK callback: it
 * runs at the start of every translation block (TB) and charges the block's
 * instruction count `n` (looked up in blk[] by pc and byte size; the host
 * decodes unknown blocks from inside the hook, decode_cb, or after a stop,
 * STOP_DECODE, when the block needs hooks first).  Instructions inside a block
 * cost nothing.  Exactness comes from three rules:
 *   - A block is charged lazily: at the next block start (or by the host
 *     when emu_start returns) icount += blk_n - blk_done.  A host hook that
 *     runs in the middle of a block (port I/O, a fault, a probe) first
 *     syncs icount to the instructions begun so far (blk_done).
 *   - A stop that falls inside a block (a deadline, the end of the IRQ
 *     shadow) is made by vclock_addr, a per-address UC_HOOK_CODE callback on
 *     the instruction where it falls: the block hook finds the index k,
 *     stops before the block with STOP_ARM, the host hooks the k-th
 *     instruction (arm_*) and resumes; the block is charged, the hook at
 *     that instruction stops with icount = arm_icount + arm_k.
 *   - IF only becomes 1 through instructions that end a TB (sti, popf,
 *     iret) or the host, so the IRQ window is checked at block starts; the
 *     `sti` shadow is then one instruction: an armed stop at index 1.  The
 *     host marks the blocks whose last instruction may set IF (BLK_SETS_IF)
 *     and sets if_maybe whenever it may have set IF itself (each emu_start,
 *     arming the window from a hook): EFLAGS is read only after those, not
 *     at every block while an IRQ waits with IF=0.
 * Breakpoints, probes and the instruction after each OUT are per-address
 * hooks too (vclock_addr): they cost nothing at other addresses.
 *
 * Port I/O (both modes): vclock_in/vclock_out are the engine's IN and OUT
 * hooks.  The console's two ports are served here: reading the UART's LSR
 * gives 0x60 (THR empty: machine/uart.py's contract), a byte to its THR
 * (while DLAB is 0; the host keeps uart_thr at 0 otherwise) goes to con[]
 * and the host takes con[] at each newline or when it is full (con_cb,
 * which may request a stop: it comes right after that OUT), and after each
 * emu_start.  Every other port, and another access size, is the host's
 * (in_cb/out_cb).  Neither path reads or changes the clock, so a byte
 * costs no call into the host: the kernel's printk polls LSR and writes
 * THR for every character.
 *
 * Per-instruction mode (the fallback when a block cannot be decoded, and
 * the reference the tests compare block mode with): vclock_hook is a
 * UC_HOOK_CODE callback over the whole address space and does everything
 * itself; the block and address hooks do nothing.
 *
 * Contract, checked in this order before each instruction (in block mode:
 * at each block start and at hooked addresses, with the same result):
 *   1. stop_reason != 0: a stop was already requested; do nothing.
 *   2. the address is a breakpoint (and not the one we are resuming over):
 *      request a stop (reason 2); the instruction is NOT executed and NOT
 *      counted, EIP stays on it.  Breakpoints come before the deadline so
 *      that a run cut into slices reports the same breakpoint hits as one
 *      long run.
 *   3. icount >= deadline: request a stop (reason 1), not counted.
 *   4. irq_armed (an IRQ waits at the PIC while IF was 0): once IF is seen
 *      set before an instruction, irq_at = that instruction's count + 1; at
 *      irq_at request a stop (reason 3) so the host delivers the IRQ.  This
 *      gives one instruction of shadow after IF becomes 1, like `sti`, so
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
typedef uint64_t (*decode_fn)(uint64_t pc, uint64_t size);
typedef uint32_t (*port_in_fn)(uint32_t port, int32_t size);
typedef void (*port_out_fn)(uint32_t port, int32_t size, uint32_t value);
typedef void (*con_fn)(void);

#define UC_X86_REG_EFLAGS 25
#define X86_IF 0x200u
#define BP_SLOTS 256   /* open addressing, power of two; host keeps <= 128 */
#define BLK_SLOTS 16384 /* block table; host clears it when half full     */
#define CON_SIZE 4096   /* console bytes held before the host takes them  */
#define UART_LSR_IDLE 0x60  /* THR empty, transmitter empty              */

enum {
    STOP_NONE, STOP_DEADLINE, STOP_BREAKPOINT, STOP_IRQ_WINDOW,
    STOP_REQUESTED,     /* request_stop(): at the next block start         */
    STOP_DECODE,        /* unknown block at stop_addr: host decodes it     */
    STOP_ARM,           /* a stop falls at index need_k of this block      */
    STOP_PROBE,         /* icount mode: a probe at stop_addr, not begun    */
};

struct vclock {
    uint64_t icount;
    uint64_t deadline;
    emu_stop_fn emu_stop;
    reg_read_fn reg_read;
    uint64_t stop_reason;
    uint64_t stop_addr;     /* address where the stop was requested          */
    uint64_t irq_armed;
    uint64_t irq_at;        /* icount of the IRQ window stop, 0: IF not seen */
    uint64_t skip_pending;  /* resuming over a breakpoint at skip_addr       */
    uint64_t skip_addr;
    uint64_t nbp;           /* number of breakpoints in bp[]                 */
    uint64_t bp[BP_SLOTS];  /* address+1, 0 = empty                          */
    probe_fn probe_cb;      /* called at probe addresses (host callback)      */
    uint64_t npr;           /* number of probes in pr[]                      */
    uint64_t pr[BP_SLOTS];  /* same hashing as bp[]                          */
    /* block mode */
    uint64_t per_insn;      /* 1: vclock_hook counts, the others are idle    */
    uint64_t stop_req;      /* request_stop(): stop at the next block start  */
    uint64_t blk_pc;        /* the block being run, its size in bytes,       */
    uint64_t blk_size;      /* its instruction count and how many of them    */
    uint64_t blk_n;         /* are already in icount                         */
    uint64_t blk_done;
    uint64_t arm_pc;        /* an armed in-block stop: in the block at       */
    uint64_t arm_icount;    /* arm_pc entered at arm_icount, before the      */
    uint64_t arm_k;         /* instruction arm_k, at arm_addr                */
    uint64_t arm_addr;
    uint64_t need_k;        /* STOP_ARM: the index to arm                    */
    decode_fn decode_cb;    /* the host learns a block from inside the hook:
                               its count, or 0 (then STOP_DECODE)            */
    uint64_t if_maybe;      /* IF may have become 1 since EFLAGS was read    */
    uint64_t nblk;          /* entries in blk[]                              */
    uint64_t blk[BLK_SLOTS * 2];  /* (pc+1, size << 32 | flags | n)          */
    /* port I/O */
    uint64_t uart_lsr;      /* the console UART's LSR port, 0: none          */
    uint64_t uart_thr;      /* its THR port while DLAB is 0, else 0          */
    port_in_fn in_cb;       /* the host's other ports                        */
    port_out_fn out_cb;
    con_fn con_cb;          /* the host takes con[0..ncon)                   */
    uint64_t ncon;
    uint8_t con[CON_SIZE];
    /* icount mode (the engine counts: a hook in mid-block cannot know the
     * count), probes stop the engine before their instruction; the host
     * calls them and sets probe_done to run that instruction. */
    uint64_t probe_stop;
    uint64_t probe_done;    /* address+1 of the probe the host just called  */
};

#define BLK_SETS_IF (1u << 31)  /* its last instruction may set IF           */
#define BLK_N_MASK (BLK_SETS_IF - 1)

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

static inline int bp_stops(struct vclock *c, uint64_t address)
{
    return c->nbp && bp_contains(c, address)
        && !(c->skip_pending && c->skip_addr == address);
}

static inline uint32_t blk_hash(uint64_t pc)
{
    return (uint32_t)((pc * 0x9E3779B97F4A7C15ull) >> 40) & (BLK_SLOTS - 1);
}

/* Instruction count | flags of the block (pc, size), 0 if unknown. */
static inline uint64_t blk_lookup(const struct vclock *c, uint64_t pc, uint32_t size)
{
    uint32_t i = blk_hash(pc);
    for (;;) {
        uint64_t k = c->blk[2 * i];
        if (k == 0)
            return 0;
        if (k == pc + 1 && (c->blk[2 * i + 1] >> 32) == size)
            return c->blk[2 * i + 1] & 0xffffffffu;
        i = (i + 1) & (BLK_SLOTS - 1);
    }
}

/* An IRQ waits (irq_armed): 1 when the IRQ window is due at this
 * instruction; else note the first instruction that sees IF set (irq_at). */
static inline int irq_window_due(struct vclock *c, void *uc)
{
    if (c->irq_at && c->icount >= c->irq_at)
        return 1;
    if (!c->irq_at) {
        uint32_t fl = 0;
        c->reg_read(uc, UC_X86_REG_EFLAGS, &fl);
        if (fl & X86_IF)
            c->irq_at = c->icount + 1;
    }
    return 0;
}

/* The per-instruction hook (per-instruction mode). */
void vclock_hook(void *uc, uint64_t address, uint32_t size, void *user_data)
{
    struct vclock *c = (struct vclock *)user_data;
    (void)size;
    if (c->stop_reason)
        return;
    if (c->stop_req) {
        c->stop_reason = STOP_REQUESTED;
        goto stop;
    }
    if (bp_stops(c, address)) {
        c->stop_reason = STOP_BREAKPOINT;
        goto stop;
    }
    if (__builtin_expect(c->icount >= c->deadline, 0)) {
        c->stop_reason = STOP_DEADLINE;
        goto stop;
    }
    if (__builtin_expect(c->irq_armed != 0, 0) && irq_window_due(c, uc)) {
        c->stop_reason = STOP_IRQ_WINDOW;
        goto stop;
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

/* Block mode: the start of every translation block. */
void vclock_block(void *uc, uint64_t address, uint32_t size, void *user_data)
{
    struct vclock *c = (struct vclock *)user_data;
    if (c->per_insn)
        return;
    uint64_t icount = c->icount + c->blk_n - c->blk_done;
    c->icount = icount;
    c->blk_done = 0;
    c->blk_pc = address;
    c->blk_size = size;
    uint64_t e = blk_lookup(c, address, size);
    uint64_t n = e & BLK_N_MASK;
    /* The common case, one test per unusual state: a known block that
     * ends before the deadline, with nothing else to look at. */
    if (__builtin_expect(n != 0 && icount + n <= c->deadline
                         && (c->stop_reason | c->stop_req | c->skip_pending
                             | c->irq_armed | c->nbp) == 0, 1)) {
        c->blk_n = n;
        return;
    }
    c->blk_n = 0;
    if (c->stop_reason)
        return;                 /* stopping: this block does not run */
    if (__builtin_expect(n == 0, 0)) {
        if (c->decode_cb)
            n = c->decode_cb(address, size);
        if (n == 0) {
            c->stop_reason = STOP_DECODE;
            goto stop;
        }
        e = blk_lookup(c, address, size);
        if (e == 0)
            e = n | BLK_SETS_IF;
    }
    if (c->skip_pending && c->skip_addr != address)
        c->skip_pending = 0;
    if (c->stop_req) {
        c->stop_reason = STOP_REQUESTED;
        goto stop;
    }
    if (bp_stops(c, address)) {
        c->blk_n = n;           /* vclock_addr stops before the first insn */
        return;
    }
    if (__builtin_expect(c->icount >= c->deadline, 0)) {
        c->stop_reason = STOP_DEADLINE;
        goto stop;
    }
    uint64_t k = c->deadline - c->icount;
    if (__builtin_expect(c->irq_armed != 0, 0)) {
        if ((c->irq_at || c->if_maybe) && irq_window_due(c, uc)) {
            c->stop_reason = STOP_IRQ_WINDOW;
            goto stop;
        }
        if (c->irq_at && c->irq_at - c->icount < k)
            k = c->irq_at - c->icount;
    }
    if (k < n && !(c->arm_pc == address && c->arm_icount == c->icount
                   && c->arm_k == k)) {
        c->need_k = k;
        c->stop_reason = STOP_ARM;
        goto stop;
    }
    c->blk_n = n;
    c->if_maybe = (e & BLK_SETS_IF) != 0;   /* for the next block start */
    return;
stop:
    c->stop_addr = address;
    c->emu_stop(uc);
}

/* Block mode: hooked addresses (breakpoints, probes, armed stops, the
 * instruction after each OUT). */
void vclock_addr(void *uc, uint64_t address, uint32_t size, void *user_data)
{
    struct vclock *c = (struct vclock *)user_data;
    (void)size;
    if (c->per_insn || c->stop_reason)
        return;
    if (c->stop_req) {                      /* the host syncs icount */
        c->stop_reason = STOP_REQUESTED;
        goto stop;
    }
    if (bp_stops(c, address)) {
        c->stop_reason = STOP_BREAKPOINT;
        goto stop;
    }
    if (c->probe_stop && c->npr && table_contains(c->pr, address)) {
        if (c->probe_done != address + 1) {
            c->stop_reason = STOP_PROBE;
            goto stop;
        }
        c->probe_done = 0;
    }
    if (c->skip_pending && c->skip_addr == address)
        c->skip_pending = 0;
    if (address == c->arm_addr && c->blk_pc == c->arm_pc
        && c->icount - c->blk_done == c->arm_icount) {
        c->icount = c->arm_icount + c->arm_k;
        c->blk_done = c->blk_n;
        c->arm_pc = c->arm_addr = ~0ull;
        if (c->irq_armed && c->irq_at && c->icount >= c->irq_at
                 && c->icount < c->deadline)
            c->stop_reason = STOP_IRQ_WINDOW;
        else
            c->stop_reason = STOP_DEADLINE;     /* or a transparent recheck */
        goto stop;
    }
    if (__builtin_expect(c->npr != 0, 0) && !c->probe_stop
        && table_contains(c->pr, address) && c->probe_cb)
        c->probe_cb(address, ~0ull);            /* the host syncs icount */
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

/* Would a breakpoint stop before the instruction at address?  (The host
 * checks instruction boundaries itself when the engine counts, clock.py.) */
int vclock_bp_stops(struct vclock *c, uint64_t address)
{
    return bp_stops(c, address);
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

/* Block table: -1 when full (the host clears it and adds again).  `n` is
 * the instruction count, with BLK_SETS_IF or'ed in. */
int vclock_blk_add(struct vclock *c, uint64_t pc, uint32_t size, uint32_t n)
{
    if (blk_lookup(c, pc, size))
        return 0;
    if (c->nblk >= BLK_SLOTS / 2)
        return -1;
    uint32_t i = blk_hash(pc);
    while (c->blk[2 * i])
        i = (i + 1) & (BLK_SLOTS - 1);
    c->blk[2 * i] = pc + 1;
    c->blk[2 * i + 1] = ((uint64_t)size << 32) | n;
    c->nblk++;
    return 0;
}

void vclock_blk_clear(struct vclock *c)
{
    for (int i = 0; i < BLK_SLOTS * 2; i++)
        c->blk[i] = 0;
    c->nblk = 0;
}

/* The engine's IN hook (UC_HOOK_INSN, UC_X86_INS_IN). */
uint32_t vclock_in(void *uc, uint32_t port, int size, void *user_data)
{
    struct vclock *c = (struct vclock *)user_data;
    (void)uc;
    if (port == c->uart_lsr && size == 1 && c->uart_lsr)
        return UART_LSR_IDLE;
    return c->in_cb(port, size);
}

/* The engine's OUT hook (UC_HOOK_INSN, UC_X86_INS_OUT). */
void vclock_out(void *uc, uint32_t port, int size, uint32_t value, void *user_data)
{
    struct vclock *c = (struct vclock *)user_data;
    (void)uc;
    if (port == c->uart_thr && size == 1 && c->uart_thr) {
        if (c->ncon < CON_SIZE)     /* the host empties it in con_cb */
            c->con[c->ncon++] = (uint8_t)value;
        if ((uint8_t)value == '\n' || c->ncon >= CON_SIZE)
            c->con_cb();
        return;
    }
    c->out_cb(port, size, value);
}
