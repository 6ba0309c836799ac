//! Typed payloads for serde types.

use hookr_abi::codec::{Decode, DecodeError, Decoder, Encode, EncodeError, Encoder, MAX_DEPTH};

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
    /// Reads the value with `rmp-serde`, following at most [`MAX_DEPTH`] nested arrays
    /// and maps, as hookr's own decoder does. That is all it bounds: the stack and
    /// memory of serde's visitors are the type's own, so a type that holds itself
    /// beside large inline fields is safer with the codec's derives
    /// ([`Limits::max_decode_stack`](crate::Limits::max_decode_stack)).
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let raw = d.raw()?;
        let mut de = rmp_serde::Deserializer::from_read_ref(raw);
        de.set_max_depth(MAX_DEPTH);
        T::deserialize(&mut de).map(Serde).map_err(|err| DecodeError::Custom(alloc::format!("{err}").into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_bounded_as_the_codec_bounds_it() {
        #[derive(serde::Deserialize)]
        struct Tree {
            #[allow(dead_code)]
            kids: alloc::vec::Vec<Tree>,
        }
        let nest = |levels: usize| {
            let mut bytes = b"\x81\xa4kids\x91".repeat(levels);
            bytes.extend_from_slice(b"\x81\xa4kids\x90");
            bytes
        };
        // Each level is a map and an array: two nestings.
        assert!(hookr_abi::codec::from_slice::<Serde<Tree>>(&nest(MAX_DEPTH / 2 - 2)).is_ok());
        // One level more is past serde's bound (it was 1 024 levels).
        let err = hookr_abi::codec::from_slice::<Serde<Tree>>(&nest(MAX_DEPTH / 2 - 1)).err().unwrap();
        assert!(matches!(&err, DecodeError::Custom(why) if why.contains("depth")), "{err:?}");
        // Far past it, the raw value is not even taken.
        let err = hookr_abi::codec::from_slice::<Serde<Tree>>(&nest(MAX_DEPTH)).err().unwrap();
        assert_eq!(err, DecodeError::TooDeep);
    }
}
