//! A minimal Stylus-shaped program compiled by rustc 1.95 for wasm32-unknown-unknown: its dynamic
//! dispatch makes rustc emit `call_indirect`, which rustc 1.95 encodes with an LEB table index
//! that Nitro's parser rejects ("zero byte expected"). Built by `build.sh` into `raw.wasm`.
#![no_std]

#[link(wasm_import_module = "vm_hooks")]
extern "C" {
    fn read_args(dest: *mut u8);
    fn write_result(data: *const u8, len: usize);
    fn pay_for_memory_grow(pages: u16);
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

#[inline(never)]
fn double(x: u8) -> u8 {
    x.wrapping_mul(2)
}

#[inline(never)]
fn square(x: u8) -> u8 {
    x.wrapping_mul(x)
}

static OPS: [fn(u8) -> u8; 2] = [double, square];
static mut BUF: [u8; 64] = [0; 64];

/// Returns `OPS[args[0] % 2](args[1])`.
#[no_mangle]
pub extern "C" fn user_entrypoint(len: usize) -> i32 {
    unsafe {
        pay_for_memory_grow(0);
        let buf = &raw mut BUF;
        read_args(buf.cast());
        let op = core::hint::black_box(OPS[((*buf)[0] % 2) as usize]);
        let out = [op((*buf)[1]), len as u8];
        write_result(out.as_ptr(), 2);
    }
    0
}
