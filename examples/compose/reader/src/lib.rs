//! The `reader` component: serves a few built-in entries through `wafer:example/read`.

wit_bindgen::generate!({
    path: "../wit",
    world: "reader",
});

struct Reader;

impl exports::wafer::example::read::Guest for Reader {
    fn read(name: String) -> Result<Vec<u8>, String> {
        match name.as_str() {
            "greeting" => Ok(b"hello from the reader component".to_vec()),
            // Every byte value once: lists cross whole, whatever they hold.
            "bytes" => Ok((0..=255u8).collect()),
            "empty" => Ok(Vec::new()),
            // Non-ASCII text must cross as the same UTF-8.
            "unicode" => Ok("grüße, 世界 🦀".as_bytes().to_vec()),
            _ => Err(format!("no entry named {name:?}")),
        }
    }
}

export!(Reader);
