//! Arguments, environment and exit status through WASI 0.2 (`wasi:cli`): prints what it was
//! given and exits with the status its last argument names.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("argc {}", args.len());
    for (i, a) in args.iter().enumerate().skip(1) {
        println!("arg {i}: {a:?}");
    }
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    for (k, v) in &vars {
        println!("env {k}={v:?}");
    }
    println!("K is {:?}", std::env::var("K").ok());
    println!("MISSING is {:?}", std::env::var("MISSING").ok());
    eprintln!("to stderr: {} args", args.len());
    let status = args.last().and_then(|a| a.parse().ok()).unwrap_or(0);
    std::process::exit(status);
}
