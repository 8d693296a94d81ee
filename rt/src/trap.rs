//! Traps: catching them (through the C helpers in `catch.c`), raising them from libcalls, and
//! turning hardware faults in compiled wasm code into traps with a signal handler.
//!
//! A trap unwinds by `siglongjmp`, which skips Rust frames without running destructors. Every
//! frame between [`catch_traps`] and the raise must therefore own nothing that needs dropping:
//! the closures given to `catch_traps` capture only references and plain values, and libcalls
//! release everything before they raise.

use std::cell::Cell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Mutex, Once};

use wafer_abi::{ModuleDescriptor, TrapKind};

extern "C" {
    fn wafer_catch_traps(body: unsafe extern "C" fn(*mut c_void), data: *mut c_void) -> i32;
    fn wafer_raise_trap(kind: i32) -> !;
    fn wafer_raise_trap_from_signal(kind: i32, signo: i32) -> !;
    fn wafer_trap_catch_active() -> i32;
}

/// A trap that stopped wasm code.
#[derive(Clone, Copy)]
pub struct Trap {
    pub kind: TrapKind,
    /// The wasm function that trapped, when the trap came from a trap site in compiled code
    /// (traps raised inside libcalls do not know their caller).
    pub func_index: Option<u32>,
    pub module: Option<&'static ModuleDescriptor>,
}

impl std::fmt::Debug for Trap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trap")
            .field("kind", &self.kind)
            .field("func_index", &self.func_index)
            .finish()
    }
}

impl Trap {
    /// The trapping function's name from the name section, or `func[<index>]`; `None` when the
    /// function is not known.
    pub fn function_name(&self) -> Option<String> {
        let index = self.func_index?;
        let name = self.module.and_then(|m| {
            // SAFETY: descriptors are static data emitted by the compiler.
            let funcs = unsafe { m.functions.as_slice() };
            let f = funcs.get(index as usize)?;
            let bytes = unsafe { f.name.as_slice() };
            (!bytes.is_empty()).then(|| String::from_utf8_lossy(bytes).into_owned())
        });
        Some(name.unwrap_or_else(|| format!("func[{index}]")))
    }
}

/// What the raiser recorded for the catcher; thread-local because every thread runs its own
/// wasm calls. `const` initialisation keeps access free of lazy setup, so the signal handler
/// may touch it.
#[derive(Clone, Copy)]
struct Pending {
    kind: u8,
    func_index: u32,
    module: *const ModuleDescriptor,
}

const NO_FUNC: u32 = u32::MAX;

thread_local! {
    static PENDING: Cell<Pending> = const {
        Cell::new(Pending { kind: 0, func_index: NO_FUNC, module: std::ptr::null() })
    };
    static ALT_STACK_READY: Cell<bool> = const { Cell::new(false) };
}

/// Runs `body`, returning the trap if wasm code (or a libcall) raised one. Nested calls are
/// fine: an inner catch restores the outer one. `body` must not own values with destructors
/// that matter, because a trap skips them (see the module documentation).
pub fn catch_traps<F: FnOnce()>(body: F) -> Result<(), Trap> {
    install_handlers();
    ensure_alt_stack();

    unsafe extern "C" fn call_once<F: FnOnce()>(data: *mut c_void) {
        // SAFETY: `data` is the `Option<F>` below, alive for the whole C call.
        let slot = unsafe { &mut *(data as *mut Option<F>) };
        if let Some(f) = slot.take() {
            f();
        }
    }

    let mut slot = Some(body);
    set_pending(0, NO_FUNC, std::ptr::null());
    // SAFETY: the C helper calls `call_once::<F>` with our pointer exactly once, or not at
    // all when it returns through a trap.
    let code =
        unsafe { wafer_catch_traps(call_once::<F>, &mut slot as *mut Option<F> as *mut c_void) };
    if code == 0 {
        return Ok(());
    }
    let pending = PENDING.with(|p| p.get());
    let kind = TrapKind::from_u8(pending.kind)
        .or_else(|| u8::try_from(code).ok().and_then(TrapKind::from_u8))
        .unwrap_or(TrapKind::Unreachable);
    Err(Trap {
        kind,
        func_index: (pending.func_index != NO_FUNC).then_some(pending.func_index),
        // SAFETY: only registered (static) descriptors are recorded.
        module: unsafe { pending.module.as_ref() },
    })
}

/// Raises `kind` to the innermost [`catch_traps`] of this thread; aborts if there is none.
///
/// # Safety
/// No frame between the catch and this call may own anything that needs dropping.
pub unsafe fn raise(kind: TrapKind) -> ! {
    let (func_index, module) = match wasm_caller() {
        Some((func, desc)) => (func, desc as *const ModuleDescriptor),
        None => (NO_FUNC, std::ptr::null()),
    };
    set_pending(kind as u8, func_index, module);
    unsafe { wafer_raise_trap(kind as i32) }
}

/// The wasm function that (directly or through runtime frames) called the code raising a
/// trap: the first return address up the frame-pointer chain that lies in compiled wasm code.
///
/// The runtime is built with frame pointers (see the CLI's runtime build) and only runtime
/// frames are walked: the walk stops at the first wasm return address. The chain is followed
/// only while it moves up the stack and stays below [`limits::stack_top`], so a broken chain
/// (a runtime built without frame pointers) ends the walk instead of reading outside the stack.
#[inline(never)]
fn wasm_caller() -> Option<(u32, &'static ModuleDescriptor)> {
    let top = crate::limits::stack_top();
    let mut fp = frame::current();
    for _ in 0..32 {
        if fp < frame::MIN_FP || !fp.is_multiple_of(8) || fp.checked_add(16)? > top {
            return None;
        }
        // SAFETY: `fp` is aligned and lies between this frame and the entry frame, inside
        // the thread's mapped stack.
        let (return_address, caller_fp) = unsafe { frame::read(fp) };
        if let Some(found) = lookup_function(return_address) {
            return Some(found);
        }
        if caller_fp <= fp {
            return None;
        }
        fp = caller_fp;
    }
    None
}

/// Frame-pointer conventions of the runtime's own (LLVM-compiled) frames.
mod frame {
    /// Below this a frame pointer is surely not one (it also keeps `fp - 16` from wrapping).
    pub const MIN_FP: usize = 4096;

    #[inline(always)]
    pub fn current() -> usize {
        let fp: usize;
        // SAFETY: reads the frame-pointer register.
        unsafe {
            #[cfg(target_arch = "x86_64")]
            core::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags));
            #[cfg(target_arch = "aarch64")]
            core::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack, preserves_flags));
            #[cfg(target_arch = "riscv64")]
            core::arch::asm!("mv {}, s0", out(reg) fp, options(nomem, nostack, preserves_flags));
        }
        fp
    }

    /// (return address, caller's frame pointer) of the frame at `fp`.
    ///
    /// # Safety
    /// `fp` must be readable stack memory (16 bytes at or just below it).
    pub unsafe fn read(fp: usize) -> (usize, usize) {
        let p = fp as *const usize;
        // x86_64 and aarch64 keep {caller fp, return address} at fp; RISC-V keeps them just
        // below the frame pointer, which points at the frame's top.
        unsafe {
            if cfg!(target_arch = "riscv64") {
                (*p.sub(1), *p.sub(2))
            } else {
                (*p.add(1), *p)
            }
        }
    }
}

/// The wasm function whose code contains `pc`, among registered modules.
fn lookup_function(pc: usize) -> Option<(u32, &'static ModuleDescriptor)> {
    let mut node = HEAD.load(Ordering::Acquire) as *const Node;
    while let Some(n) = unsafe { node.as_ref() } {
        if let Some(func) = function_at(n.desc, pc) {
            return Some((func.func_index, n.desc));
        }
        node = n.next;
    }
    None
}

fn function_at(desc: &ModuleDescriptor, pc: usize) -> Option<&wafer_abi::TrapFunctionDesc> {
    // SAFETY: descriptor slices are static data emitted by the compiler.
    let funcs = unsafe { desc.trap_functions.as_slice() };
    // Sorted by start: the last function starting at or before `pc` is the only candidate.
    let after = funcs.partition_point(|f| f.start as usize <= pc);
    let func = funcs.get(after.checked_sub(1)?)?;
    (pc - (func.start as usize) < func.len as usize).then_some(func)
}

fn set_pending(kind: u8, func_index: u32, module: *const ModuleDescriptor) {
    PENDING.with(|p| {
        p.set(Pending {
            kind,
            func_index,
            module,
        })
    });
}

// ---------------------------------------------------------------------------------------------
// Registry of modules whose code may fault
// ---------------------------------------------------------------------------------------------

/// A singly linked list that only grows: the signal handler walks it without locks, while
/// registration (rare, at instantiation) is serialised by `REGISTER_LOCK`.
struct Node {
    desc: &'static ModuleDescriptor,
    next: *const Node,
}

static HEAD: AtomicPtr<Node> = AtomicPtr::new(std::ptr::null_mut());
static REGISTER_LOCK: Mutex<()> = Mutex::new(());

/// Makes the trap sites of `desc` known to the signal handler (idempotent).
pub fn register_module(desc: &'static ModuleDescriptor) {
    let _guard = REGISTER_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut node = HEAD.load(Ordering::Acquire) as *const Node;
    while let Some(n) = unsafe { node.as_ref() } {
        if std::ptr::eq(n.desc, desc) {
            return;
        }
        node = n.next;
    }
    let new = Box::into_raw(Box::new(Node {
        desc,
        next: HEAD.load(Ordering::Acquire),
    }));
    HEAD.store(new, Ordering::Release);
}

/// Finds the trap site at `pc` among registered modules: (kind, function index, module).
/// Allocation-free and lock-free, for use in the signal handler.
pub fn lookup_trap_site(pc: usize) -> Option<(TrapKind, u32, &'static ModuleDescriptor)> {
    let mut node = HEAD.load(Ordering::Acquire) as *const Node;
    while let Some(n) = unsafe { node.as_ref() } {
        if let Some((kind, func)) = lookup_in_module(n.desc, pc) {
            return Some((kind, func, n.desc));
        }
        node = n.next;
    }
    None
}

/// Whether `pc` is in the code of a wasm function of a registered module.
fn in_wasm_code(pc: usize) -> bool {
    let mut node = HEAD.load(Ordering::Acquire) as *const Node;
    while let Some(n) = unsafe { node.as_ref() } {
        if function_at(n.desc, pc).is_some() {
            return true;
        }
        node = n.next;
    }
    false
}

fn lookup_in_module(desc: &ModuleDescriptor, pc: usize) -> Option<(TrapKind, u32)> {
    let func = function_at(desc, pc)?;
    let offset = pc - func.start as usize;
    let sites = unsafe { func.sites.as_slice() };
    let site = sites.iter().find(|s| s.offset as usize == offset)?;
    Some((TrapKind::from_u8(site.kind)?, func.func_index))
}

// ---------------------------------------------------------------------------------------------
// Signal handling
// ---------------------------------------------------------------------------------------------

const TRAP_SIGNALS: [i32; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];
/// Big enough for the handler and the fatal-path message, with room to spare.
const ALT_STACK_SIZE: usize = 64 * 1024;

/// Installs the fault handlers once per process.
pub fn install_handlers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| unsafe {
        for sig in TRAP_SIGNALS {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handle_fault as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(sig, &action, std::ptr::null_mut()) != 0 {
                fatal_message(b"wafer: cannot install signal handler\n");
                libc::abort();
            }
        }
    });
}

/// Gives the current thread an alternate signal stack of at least [`ALT_STACK_SIZE`], so that
/// faults are handled even when the thread's own stack is exhausted. The stack is never freed:
/// a thread keeps it until it exits.
pub fn ensure_alt_stack() {
    if ALT_STACK_READY.with(|r| r.get()) {
        return;
    }
    unsafe {
        let mut current: libc::stack_t = std::mem::zeroed();
        if libc::sigaltstack(std::ptr::null(), &mut current) == 0
            && current.ss_flags & libc::SS_DISABLE == 0
            && current.ss_size >= ALT_STACK_SIZE
        {
            ALT_STACK_READY.with(|r| r.set(true));
            return;
        }
        let page = page_size();
        // One guard page below the stack turns a handler overflow into a clean crash.
        let total = ALT_STACK_SIZE + page;
        let mem = libc::mmap(
            std::ptr::null_mut(),
            total,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if mem == libc::MAP_FAILED {
            fatal_message(b"wafer: cannot allocate the signal stack\n");
            libc::abort();
        }
        libc::mprotect(mem, page, libc::PROT_NONE);
        let stack = libc::stack_t {
            ss_sp: (mem as *mut u8).add(page) as *mut c_void,
            ss_flags: 0,
            ss_size: ALT_STACK_SIZE,
        };
        if libc::sigaltstack(&stack, std::ptr::null_mut()) != 0 {
            fatal_message(b"wafer: cannot install the signal stack\n");
            libc::abort();
        }
    }
    ALT_STACK_READY.with(|r| r.set(true));
}

pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as usize
    } else {
        4096
    }
}

/// The faulting instruction's address from the signal context.
unsafe fn fault_pc(context: *mut c_void) -> usize {
    let uc = context as *mut libc::ucontext_t;
    #[cfg(target_arch = "x86_64")]
    let pc = unsafe { (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] as usize };
    #[cfg(target_arch = "aarch64")]
    let pc = unsafe { (*uc).uc_mcontext.pc as usize };
    #[cfg(target_arch = "riscv64")]
    let pc = unsafe { (*uc).uc_mcontext.__gregs[0] as usize };
    pc
}

extern "C" fn handle_fault(signal: i32, _info: *mut libc::siginfo_t, context: *mut c_void) {
    let pc = unsafe { fault_pc(context) };
    if let Some((kind, func, module)) = lookup_trap_site(pc) {
        if unsafe { wafer_trap_catch_active() } != 0 {
            set_pending(kind as u8, func, module);
            // SAFETY: the interrupted frames are compiled wasm code (owning nothing) above a
            // `catch_traps` frame; the signal is unblocked before the jump.
            unsafe { wafer_raise_trap_from_signal(kind as i32, signal) };
        }
    }
    // Not a wasm trap: a bug in the runtime or the compiler, or (an illegal instruction in
    // wasm code) an executable built for CPU features this CPU lacks. Report it, then let the
    // signal kill the process when the faulting instruction runs again.
    let place: &[u8] = if !in_wasm_code(pc) {
        b" outside wasm code\n"
    } else if signal == libc::SIGILL {
        b" in wasm code: an instruction this CPU lacks (the executable was built for other CPU features: wafer build --board, --cpu-features)\n"
    } else {
        b" in wasm code\n"
    };
    let mut buf = [0u8; 256];
    let mut len = 0;
    for part in [
        &b"wafer: fatal signal "[..],
        decimal(signal as u64, &mut [0u8; 20]),
        b" at pc 0x",
        hex(pc as u64, &mut [0u8; 16]),
        place,
    ] {
        buf[len..len + part.len()].copy_from_slice(part);
        len += part.len();
    }
    fatal_message(&buf[..len]);
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
}

fn fatal_message(bytes: &[u8]) {
    // SAFETY: write(2) is async-signal-safe; a failed diagnostic write is not actionable.
    unsafe { libc::write(2, bytes.as_ptr() as *const c_void, bytes.len()) };
}

fn decimal(mut value: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    &buf[start..]
}

fn hex(value: u64, buf: &mut [u8; 16]) -> &[u8] {
    for (i, b) in buf.iter_mut().enumerate() {
        let nibble = (value >> ((15 - i) * 4)) & 0xf;
        *b = b"0123456789abcdef"[nibble as usize];
    }
    &buf[..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_without_trap_is_ok() {
        let mut ran = false;
        assert!(catch_traps(|| ran = true).is_ok());
        assert!(ran);
    }

    #[test]
    fn raise_is_caught_with_kind() {
        let trap = catch_traps(|| unsafe { raise(TrapKind::IntegerOverflow) }).unwrap_err();
        assert_eq!(trap.kind, TrapKind::IntegerOverflow);
        assert!(trap.func_index.is_none());
        assert!(trap.function_name().is_none());
    }

    #[test]
    fn nested_catches_restore_the_outer_one() {
        let outer = catch_traps(|| {
            let inner = catch_traps(|| unsafe { raise(TrapKind::Unreachable) }).unwrap_err();
            assert_eq!(inner.kind, TrapKind::Unreachable);
            // The outer catch must still be active after the inner one trapped.
            unsafe { raise(TrapKind::TableOutOfBounds) };
        })
        .unwrap_err();
        assert_eq!(outer.kind, TrapKind::TableOutOfBounds);
        // And after both, a fresh catch works normally.
        assert!(catch_traps(|| {}).is_ok());
    }

    #[test]
    fn number_formatting() {
        assert_eq!(decimal(0, &mut [0; 20]), b"0");
        assert_eq!(decimal(11, &mut [0; 20]), b"11");
        assert_eq!(hex(0xdead, &mut [0; 16]), b"000000000000dead");
    }
}
