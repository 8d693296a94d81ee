//! The `app` command: reads entries through `wafer:example/read` (provided by another
//! component once the two are composed) and prints what it gets.

wit_bindgen::generate!({
    path: "../wit",
    world: "app",
});

use wafer::example::read::read;

fn main() {
    let mut failures = 0;
    for name in [
        "greeting",
        "bytes",
        "empty",
        "unicode",
        "missing",
        "ünïcode-name",
    ] {
        match read(name) {
            Ok(bytes) => {
                let sum: u32 = bytes.iter().map(|&b| u32::from(b)).sum();
                match std::str::from_utf8(&bytes) {
                    Ok(text) if !text.chars().any(char::is_control) => {
                        println!("{name}: {} bytes: {text}", bytes.len())
                    }
                    _ => println!("{name}: {} bytes, sum {sum}", bytes.len()),
                }
            }
            Err(why) => {
                failures += 1;
                println!("{name}: error: {why}");
            }
        }
    }
    // Many calls in a row: the callee's allocations are freed by its post-return.
    let total: usize = (0..2000)
        .map(|_| read("bytes").map(|b| b.len()).unwrap_or(0))
        .sum();
    println!("2000 reads of bytes: {total} bytes");
    std::process::exit(if failures == 2 { 0 } else { 1 });
}
