//! `transcript`: arbitrary bytes as a transcript of the `simple` plugin. Reading and
//! replaying it may fail but must not panic, hang or allocate without bound; every
//! record that decodes must decode the same after it is encoded again.

use std::sync::OnceLock;

use hookr::transcript::{encode, replay, Reader, Verdict};
use hookr::{EngineConfig, Error, Hasher, Module, Sha256Hasher};

const SIMPLE: &[u8] = include_bytes!("../../targets/plugins/simple/simple.wasm");

/// `simple.wasm`, compiled once per process with its SHA-256 checked.
fn simple() -> &'static Module {
    static MODULE: OnceLock<Module> = OnceLock::new();
    MODULE.get_or_init(|| {
        Module::new(SIMPLE, &Sha256Hasher.hash(SIMPLE), &Sha256Hasher, EngineConfig::default()).expect("simple.wasm")
    })
}

pub fn run(data: &[u8]) {
    let Ok(mut reader) = Reader::new(data) else {
        return;
    };
    while let Ok(Some(record)) = reader.next_record() {
        let bytes = encode(&record);
        let mut again = Reader::new(data).expect("the header read before");
        // Re-read the same record from its own encoding, behind the same header.
        let header_len = again.position();
        let mut alone = data[..header_len].to_vec();
        alone.extend_from_slice(&bytes);
        let mut alone = Reader::new(&alone).expect("the same header");
        assert_eq!(alone.next_record().expect("a record that decoded re-encodes"), Some(record));
        let _ = again.next_record();
    }
    // The header's limits bound the replay's work; a hostile header (huge fuel) is
    // still bounded by the requests it carries, which the input's size bounds.
    match replay(simple(), data.to_vec()) {
        Ok(Verdict::Identical { .. } | Verdict::Diverged(_)) => {}
        Err(Error::Transcript(_) | Error::Config(_) | Error::MemoryLimit(_) | Error::Init { .. }) => {}
        Err(e) => panic!("a replay failed with an unexpected error: {e:?}"),
    }
}
