/*
 * _dirty.c -- which pages of guest RAM were written since the last arm,
 * at a cost that follows the writes (machine/history.py's snapshots).
 *
 * dirty_arm() write-protects a region of host memory (guest RAM, mapped
 * into unicorn by pointer) and clears its page bitmap.  The first write to
 * a page after that, by the emulated CPU or by the host, faults; the
 * SIGSEGV handler below sets the page's byte in the bitmap, makes the page
 * writable again and returns, and the write is retried.  Later writes to
 * the page cost nothing.  A fault outside every region goes to the handler
 * that was installed before (Python's faulthandler, or the default).
 *
 * If making a page writable fails (e.g. the kernel's limit on mappings:
 * each isolated writable page splits the mapping), the whole region is made
 * writable and `overflow` is set: the host then treats every page as dirty.
 * Writes that do not fault are not seen: madvise(MADV_DONTNEED) zeroing
 * the region (the host marks everything dirty after it), and writes by the
 * kernel on behalf of a system call (none go to guest RAM).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define MAX_REGIONS 32
#define PAGE 4096u

struct region {
    uintptr_t base;
    size_t len;
    volatile uint8_t *bits;     /* one byte per page, set on the first write */
    volatile int overflow;
    int active;
};

static struct region regions[MAX_REGIONS];
static struct sigaction previous;

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
    uintptr_t a = (uintptr_t)si->si_addr;
    int ours = 0;
    for (int i = 0; i < MAX_REGIONS; i++) {     /* a region may be tracked twice */
        struct region *r = &regions[i];
        if (!r->active || a - r->base >= r->len)
            continue;
        size_t page = (a - r->base) / PAGE;
        r->bits[page] = 1;
        if (mprotect((void *)(r->base + page * PAGE), PAGE,
                     PROT_READ | PROT_WRITE) != 0) {
            r->overflow = 1;
            mprotect((void *)r->base, r->len, PROT_READ | PROT_WRITE);
        }
        ours = 1;
    }
    if (ours)
        return;
    /* not ours: what was there before */
    if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction) {
            previous.sa_sigaction(sig, si, ctx);
            return;
        }
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL);       /* the fault happens again, now fatal */
}

/* Ours on top, keeping whatever was installed in the meantime. */
static int ensure_handler(void)
{
    struct sigaction cur;
    if (sigaction(SIGSEGV, NULL, &cur) != 0)
        return -1;
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_segv)
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    previous = cur;
    return sigaction(SIGSEGV, &sa, NULL);
}

/* Register a page-aligned region; its id, or -1. */
int dirty_track(void *base, size_t len, uint8_t *bits)
{
    for (int i = 0; i < MAX_REGIONS; i++) {
        if (!regions[i].active) {
            regions[i].base = (uintptr_t)base;
            regions[i].len = len;
            regions[i].bits = bits;
            regions[i].overflow = 0;
            regions[i].active = 1;
            return i;
        }
    }
    return -1;
}

/* Stop tracking: the region is writable again. */
void dirty_untrack(int id)
{
    struct region *r = &regions[id];
    if (!r->active)
        return;
    mprotect((void *)r->base, r->len, PROT_READ | PROT_WRITE);
    r->active = 0;
}

/* Clear the bitmap and write-protect the region: 0, or -1 (nothing is
 * protected then, and overflow is set). */
int dirty_arm(int id)
{
    struct region *r = &regions[id];
    memset((void *)r->bits, 0, r->len / PAGE);
    r->overflow = 0;
    if (ensure_handler() != 0
        || mprotect((void *)r->base, r->len, PROT_READ) != 0) {
        r->overflow = 1;
        mprotect((void *)r->base, r->len, PROT_READ | PROT_WRITE);
        return -1;
    }
    return 0;
}

int dirty_overflow(int id)
{
    return regions[id].overflow;
}
