//! Replays every committed fuzz corpus (`fuzz/corpus/<target>`) through its target, decoded
//! exactly as libFuzzer decodes it (`arbitrary_take_rest`). A corpus entry that once found
//! a bug stays a regression test here, on every run of the suite.

use std::path::PathBuf;

use arbitrary::{Arbitrary, Unstructured};

/// Every file of `target`'s corpus.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{target}: the corpus is empty");
    files
        .into_iter()
        .map(|path| {
            let data = std::fs::read(&path).expect("corpus file");
            (path, data)
        })
        .collect()
}

macro_rules! replay {
    ($($target:ident: $ty:ty),* $(,)?) => {$(
        #[test]
        fn $target() {
            for (path, data) in corpus(stringify!($target)) {
                let Ok(input) = <$ty>::arbitrary_take_rest(Unstructured::new(&data)) else {
                    continue; // libFuzzer skips what does not decode, too
                };
                let run = std::panic::catch_unwind(|| cus_fuzz::$target::fuzz(input));
                assert!(run.is_ok(), "{} fails on {}", stringify!($target), path.display());
            }
        }
    )*};
}

replay!(
    authorize: (bool, &[u8]),
    client_assertion: (u8, &[u8]),
    client_metadata: &[u8],
    id_token_hint: (u8, u16, u8, &[u8]),
    protocol_forms: (u8, &[u8]),
    rut: &str,
    web_forms: (u8, &[u8]),
);
