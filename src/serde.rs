//! Typed payloads for serde types.

use hookr_abi::codec::{Decode, DecodeError, Decoder, Encode, EncodeError, Encoder};

/// Makes any serde type a typed payload, written the msgp way (structs as maps keyed by
/// field name) and read from either the map or the array form.
///
/// Byte fields should use `serde_bytes` so they travel as MessagePack `bin`, as Go's
/// `[]byte` does.
///
/// ```
/// use hookr::{codec, Serde};
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Echo { data: String }
///
/// let bytes = codec::to_vec(&Serde(Echo { data: "Steve".into() })).unwrap();
/// assert_eq!(bytes, b"\x81\xa4data\xa5Steve");
/// let Serde(back): Serde<Echo> = codec::from_slice(&bytes).unwrap();
/// assert_eq!(back, Echo { data: "Steve".into() });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Serde<T>(pub T);

impl<T: serde::Serialize> Encode for Serde<T> {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        let mut ser = rmp_serde::Serializer::new(e.buffer()).with_struct_map();
        self.0.serialize(&mut ser).map_err(|err| EncodeError::Custom(alloc::format!("{err}").into()))
    }
}

impl<T: serde::de::DeserializeOwned> Decode for Serde<T> {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let raw = d.raw()?;
        rmp_serde::from_slice(raw).map(Serde).map_err(|err| DecodeError::Custom(alloc::format!("{err}").into()))
    }
}
