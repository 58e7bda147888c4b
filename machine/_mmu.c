/*
 * _mmu.c -- the guest's i386 page walk as a native TLB fill hook, so that
 * pages holding no code are mapped without EXEC (machine/mmu.py).
 *
 * Why: unicorn 2.1 keeps TLB_NOTDIRTY on every TLB write entry that is
 * executable, so every guest store to such a page takes notdirty_write()
 * (a memory region lookup and a TB invalidation check); on i386 without
 * NX every page is executable.  In unicorn's virtual TLB mode this hook
 * fills the TLB instead of unicorn's own walker, and gives EXEC only to
 * physical pages that hold code: stores to the others run at full speed
 * (bench/bench_unicorn_stores.py).
 *
 * Contract of mmu_fill (UC_HOOK_TLB_FILL: vaddr is page aligned, type is
 * UC_MEM_READ/WRITE/FETCH; the mmu index is not given):
 *   - It grants only what unicorn's walker (target/i386/excp_helper.c,
 *     handle_mmu_fault) would grant, with the same protection, and sets
 *     the same accessed/dirty bits in the guest's page tables.  A read
 *     fill of a clean page (D clear) gets no WRITE, so that the first
 *     write fills again and sets D, as unicorn does.
 *   - Anything else it refuses: not present, a protection violation, and
 *     every case it does not model (PAE, SMEP, SMAP, PKE, page tables
 *     outside RAM).  A refused fill stops emu_start with UC_ERR_EXCEPTION,
 *     EIP on the instruction, which has not changed anything; the host
 *     then runs that instruction again with unicorn's own walker (CPU TLB
 *     mode), which raises the #PF exactly as without this hook (CR2, error
 *     code) or grants what this hook does not model, and flushes the TLB.
 *   - EXEC: a fetch fill marks the physical page as code.  When a page
 *     becomes code, the whole TLB is flushed: a write entry of that page
 *     made earlier without EXEC (through any virtual alias) has lost
 *     TLB_NOTDIRTY, and a store through it would not invalidate the new
 *     translated code.  Later fills of a code page get EXEC, and keep
 *     TLB_NOTDIRTY.  A page stays code until the engine is dropped.
 *   - Watched pages (data watchpoints, machine.py set_memory_hooks): while
 *     watch_on, a page whose byte in watch[] has bit 0 (writes watched)
 *     gets no WRITE and a write fill of it is refused; bit 1 (reads) the
 *     same for READ and read fills.  The refusal is the one above (the host
 *     reruns the instruction), with refused_watch set: the host then puts
 *     unicorn's memory hooks on, which see the access exactly.  So a
 *     watchpoint costs nothing until its page is touched.
 *   - The privilege level is CS.RPL (the kernel has no ring 3; an implicit
 *     supervisor access from ring 3, e.g. a descriptor read, is refused and
 *     so handled by unicorn's walker).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef int (*reg_read_fn)(void *uc, int regid, void *value);
typedef int (*ctl_fn)(void *uc, int control, ...);

/* unicorn constants (unicorn.h, x86.h) */
#define UC_X86_REG_CR0 50
#define UC_X86_REG_CR3 53
#define UC_X86_REG_CR4 54
#define UC_X86_REG_CS 11
#define UC_MEM_READ 16
#define UC_MEM_WRITE 17
#define UC_MEM_FETCH 18
#define UC_PROT_READ 1
#define UC_PROT_WRITE 2
#define UC_PROT_EXEC 4

#define CR0_WP (1u << 16)
#define CR0_PG (1u << 31)
#define CR4_PSE (1u << 4)
#define CR4_UNMODELLED ((1u << 5) | (1u << 20) | (1u << 21) | (1u << 22))
                                    /* PAE, SMEP, SMAP, PKE */
#define PG_P 0x001u
#define PG_RW 0x002u
#define PG_US 0x004u
#define PG_A 0x020u
#define PG_D 0x040u
#define PG_PS 0x080u

struct uc_tlb_entry {
    uint64_t paddr;
    uint32_t perms;
};

struct vmmu {
    uint8_t *ram;           /* guest RAM, host pointer                      */
    uint64_t ram_size;
    reg_read_fn reg_read;
    ctl_fn ctl;             /* uc_ctl                                       */
    uint64_t ctl_flush;     /* its UC_CTL_TLB_FLUSH (write) control word    */
    uint8_t *code;          /* a byte per 4 KiB page of RAM: 1 = code       */
    uint64_t fills;         /* statistics for tests and bench/              */
    uint64_t refused;
    uint64_t code_pages;
    uint64_t refused_type;  /* UC_MEM_* of the last refused fill            */
    uint8_t *watch;         /* a byte per page: 1 writes, 2 reads watched   */
    uint64_t watch_on;      /* refuse watched accesses (else: grant them)   */
    uint64_t refused_watch; /* the last refused fill was a watched access   */
};

static uint32_t reg(struct vmmu *m, void *uc, int id)
{
    uint64_t v = 0;
    m->reg_read(uc, id, &v);
    return (uint32_t)v;
}

/* The word at guest physical `pa`, or NULL when it is not all in RAM. */
static uint32_t *ram_word(struct vmmu *m, uint32_t pa)
{
    if ((uint64_t)pa + 4 > m->ram_size)
        return NULL;
    return (uint32_t *)(m->ram + pa);
}

static void set_bits(uint32_t *entry, uint32_t bits)
{
    if ((*entry & bits) != bits)
        *entry |= bits;     /* written only when it changes (dirty pages) */
}

bool mmu_fill(void *uc, uint64_t vaddr, int type, struct uc_tlb_entry *e,
              void *user_data)
{
    struct vmmu *m = (struct vmmu *)user_data;
    int write = type == UC_MEM_WRITE, fetch = type == UC_MEM_FETCH;
    uint32_t va = (uint32_t)vaddr, pa, perms;
    uint32_t cr0 = reg(m, uc, UC_X86_REG_CR0);
    m->fills++;
    if (!(cr0 & CR0_PG)) {
        pa = va;
        perms = UC_PROT_READ | UC_PROT_WRITE;
    } else {
        uint32_t cr4 = reg(m, uc, UC_X86_REG_CR4);
        if (cr4 & CR4_UNMODELLED)
            goto refuse;
        uint32_t cr3 = reg(m, uc, UC_X86_REG_CR3);
        uint32_t *pde = ram_word(m, (cr3 & ~0xfffu) + ((va >> 20) & 0xffc));
        if (!pde || !(*pde & PG_P))
            goto refuse;
        uint32_t *pte, prot;
        if ((*pde & PG_PS) && (cr4 & CR4_PSE)) {
            if (*pde & 0x200000u)               /* reserved bit 21 */
                goto refuse;
            pte = pde;
            prot = *pde;
            pa = (*pde & 0xffc00000u) | (va & 0x3ff000u);
            if (*pde & 0x1fe000u)               /* PSE-36: above 4 GiB */
                goto refuse;
        } else {
            pte = ram_word(m, (*pde & ~0xfffu) + ((va >> 10) & 0xffc));
            if (!pte || !(*pte & PG_P))
                goto refuse;
            prot = *pde & *pte;
            pa = *pte & ~0xfffu;
        }
        int user = (reg(m, uc, UC_X86_REG_CS) & 3) == 3;
        if (user && !(prot & PG_US))
            goto refuse;
        perms = UC_PROT_READ;
        if ((prot & PG_RW) || (!user && !(cr0 & CR0_WP)))
            perms |= UC_PROT_WRITE;
        if (write && !(perms & UC_PROT_WRITE))
            goto refuse;
        /* the order of unicorn's walker: the PDE's A (4 KiB pages), then
         * the PTE's A, and D on a write; without D, no WRITE yet */
        if (pte != pde)
            set_bits(pde, PG_A);
        set_bits(pte, write ? PG_A | PG_D : PG_A);
        if (!(*pte & PG_D))
            perms &= ~UC_PROT_WRITE;
    }
    if (m->watch_on && (uint64_t)pa < m->ram_size) {
        uint8_t w = m->watch[pa >> 12];
        if ((write && (w & 1)) || (type == UC_MEM_READ && (w & 2))) {
            m->refused_watch = 1;
            goto refuse_watched;
        }
        if (w & 1)
            perms &= ~UC_PROT_WRITE;
        if (w & 2)
            perms &= ~UC_PROT_READ;
    }
    if ((uint64_t)pa < m->ram_size) {
        uint8_t *code = &m->code[pa >> 12];
        if (fetch && !*code) {
            *code = 1;
            m->code_pages++;
            m->ctl(uc, (int)m->ctl_flush);
        }
        if (*code)
            perms |= UC_PROT_EXEC;
    } else if (fetch) {
        perms |= UC_PROT_EXEC;                  /* not RAM: no TB tracking */
    }
    e->paddr = pa;
    e->perms = perms;
    return true;
refuse:
    m->refused_watch = 0;
refuse_watched:
    m->refused++;
    m->refused_type = (uint64_t)type;
    return false;
}
