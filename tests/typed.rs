//! Typed calls: MessagePack laid out the msgp way, both struct forms, serde and derived
//! types writing the same bytes, and typed plugin-function handles.

mod common;

use hookr::codec::{self, Decode, DecodeError, Decoder, Encode, EncodeError, Encoder};
use hookr::{Error, Runtime, Serde};

/// Go: `type Reading struct { Sensor string `msg:"sensor"`; Celsius float64 `msg:"celsius"`;
/// Raw []byte `msg:"raw"`; Count uint32 `msg:"count"` }`
#[derive(Debug, PartialEq, Clone)]
struct Reading {
    sensor: String,
    celsius: f64,
    raw: Vec<u8>,
    count: u32,
}

impl Encode for Reading {
    fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
        e.map_len(4)?;
        e.str("sensor")?;
        e.str(&self.sensor)?;
        e.str("celsius")?;
        e.f64(self.celsius)?;
        e.str("raw")?;
        e.bin(&self.raw)?;
        e.str("count")?;
        e.uint(self.count.into())
    }
}

impl Decode for Reading {
    fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
        let mut r = Reading { sensor: String::new(), celsius: 0.0, raw: Vec::new(), count: 0 };
        d.fields(&["sensor", "celsius", "raw", "count"], |d, f| {
            match f {
                Some(0) => r.sensor = d.string()?,
                Some(1) => r.celsius = d.f64()?,
                Some(2) => r.raw = d.bin()?.to_vec(),
                Some(3) => r.count = d.value()?,
                _ => d.skip()?,
            }
            Ok(())
        })?;
        Ok(r)
    }
}

fn reading() -> Reading {
    Reading { sensor: "t1".into(), celsius: 21.5, raw: vec![1, 2], count: 300 }
}

/// What tinylib/msgp writes for `reading()`: fixmap(4), then each key as fixstr and
/// each value in its smallest form, `[]byte` as bin 8.
const MSGP: &[u8] =
    b"\x84\xa6sensor\xa2t1\xa7celsius\xcb\x40\x35\x80\x00\x00\x00\x00\x00\xa3raw\xc4\x02\x01\x02\xa5count\xcd\x01\x2c";

#[test]
fn structs_encode_as_msgp_maps() {
    assert_eq!(codec::to_vec(&reading()).unwrap(), MSGP);
    assert_eq!(codec::from_slice::<Reading>(MSGP).unwrap(), reading());
}

#[test]
fn the_array_form_decodes_too() {
    let array = b"\x94\xa2t1\xcb\x40\x35\x80\x00\x00\x00\x00\x00\xc4\x02\x01\x02\xcd\x01\x2c";
    assert_eq!(codec::from_slice::<Reading>(array).unwrap(), reading());
}

#[test]
fn serde_types_write_the_same_bytes() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct SerdeReading {
        sensor: String,
        celsius: f64,
        #[serde(with = "serde_bytes")]
        raw: Vec<u8>,
        count: u32,
    }
    let r = SerdeReading { sensor: "t1".into(), celsius: 21.5, raw: vec![1, 2], count: 300 };
    assert_eq!(codec::to_vec(&Serde(&r)).unwrap(), MSGP);
    let Serde(back): Serde<SerdeReading> = codec::from_slice(MSGP).unwrap();
    assert_eq!(back, r);
}

#[test]
fn typed_calls_round_trip_through_a_plugin() {
    let mut rt = Runtime::builder(()).bytes(&common::kitchen()).build().unwrap();
    // The kitchen plugin echoes, so what goes in comes back.
    let echo = rt.plugin_fn::<Reading, Reading>("echo");
    assert_eq!(echo.call(&mut rt, &reading()).unwrap(), reading());
    assert_eq!(rt.call::<_, Reading>("echo", &reading()).unwrap(), reading());
    let serde_echo = rt.plugin_fn::<Serde<Vec<u32>>, Serde<Vec<u32>>>("echo");
    assert_eq!(serde_echo.call(&mut rt, &Serde(vec![1, 2, 3])).unwrap().0, [1, 2, 3]);
}

#[test]
fn a_response_that_does_not_decode_is_a_decode_error() {
    let mut rt = Runtime::builder(()).bytes(&common::kitchen()).build().unwrap();
    let err = rt.call::<str, Reading>("echo", "not a map").unwrap_err();
    assert!(matches!(err, Error::Decode(DecodeError::TypeMismatch { expected: "map", .. })), "{err:?}");
    assert!(err.to_string().starts_with("cannot decode response: expected map"), "{err}");
    let err = rt.call::<str, u8>("echo", "x").unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err:?}");
}

#[test]
fn derived_types_write_what_serde_types_write() {
    use hookr::codec::{Decode, Encode};

    /// The same struct derived both ways: the hand-written `Reading`'s bytes (`MSGP`).
    #[derive(Debug, PartialEq, Encode, Decode)]
    struct Derived {
        sensor: String,
        celsius: f64,
        raw: Vec<u8>,
        count: u32,
    }
    let d = Derived { sensor: "t1".into(), celsius: 21.5, raw: vec![1, 2], count: 300 };
    assert_eq!(codec::to_vec(&d).unwrap(), MSGP);
    assert_eq!(codec::from_slice::<Derived>(MSGP).unwrap(), d);

    /// Enums: every kind of variant, derived and through serde (externally tagged).
    #[derive(Debug, Clone, PartialEq, Encode, Decode, serde::Serialize, serde::Deserialize)]
    enum Command {
        Stop,
        Go(u32),
        Move(i8, i8),
        Set { key: String, value: Option<u8> },
    }
    for c in [Command::Stop, Command::Go(7), Command::Move(-1, 2), Command::Set { key: "k".into(), value: Some(3) }] {
        let derived = codec::to_vec(&c).unwrap();
        assert_eq!(derived, codec::to_vec(&Serde(&c)).unwrap(), "{c:?}");
        assert_eq!(codec::from_slice::<Serde<Command>>(&derived).unwrap().0, c);
        assert_eq!(codec::from_slice::<Command>(&derived).unwrap(), c);
    }
}

#[test]
fn left_out_fields_read_as_their_type_or_default_says() {
    use hookr::codec::{Decode, Decoder, Encode};

    /// An `Option` under another name is as optional as `Option` itself.
    type Opt<T> = Option<T>;

    #[derive(Debug, PartialEq, Encode, Decode, serde::Serialize, serde::Deserialize)]
    struct Aliased {
        a: Opt<u8>,
        b: core::option::Option<u8>,
        c: u8,
    }
    let sparse = b"\x81\xa1c\x07";
    let want = Aliased { a: None, b: None, c: 7 };
    assert_eq!(codec::from_slice::<Aliased>(sparse).unwrap(), want);
    assert_eq!(codec::from_slice::<Serde<Aliased>>(sparse).unwrap().0, want);
    assert_eq!(codec::from_slice::<Aliased>(b"\x81\xa1a\x01"), Err(DecodeError::MissingField("c")));
    // The array form too: the fields after the end of a shorter array.
    assert_eq!(codec::from_slice::<Aliased>(b"\x91\x01"), Err(DecodeError::MissingField("c")));

    /// A generic field is optional when its type is.
    #[derive(Debug, PartialEq, Encode, Decode)]
    struct Generic<T> {
        a: T,
    }
    assert_eq!(codec::from_slice::<Generic<Option<u8>>>(b"\x80").unwrap(), Generic { a: None });
    assert_eq!(codec::from_slice::<Generic<u8>>(b"\x80"), Err(DecodeError::MissingField("a")));

    /// A type that says what a left-out field of it is; `default` still comes first.
    #[derive(Debug, PartialEq)]
    struct Level(u8);
    impl Default for Level {
        fn default() -> Self {
            Level(2)
        }
    }
    impl Decode for Level {
        fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
            u8::decode(d).map(Level)
        }
        fn missing() -> Option<Self> {
            Some(Level(1))
        }
    }
    #[derive(Debug, PartialEq, Decode)]
    struct Levels {
        by_type: Level,
        #[codec(default)]
        by_attribute: Level,
    }
    assert_eq!(codec::from_slice::<Levels>(b"\x80").unwrap(), Levels { by_type: Level(1), by_attribute: Level(2) });

    /// A tuple struct or variant: an array may stop before the fields marked `default`,
    /// as serde's `default` lets a sequence stop (rmp-serde itself wants every element).
    #[derive(Debug, PartialEq, Encode, Decode)]
    struct TupDefault(u8, #[codec(default)] u8);
    let cases: [(&[u8], Result<TupDefault, DecodeError>); 4] = [
        (b"\x90", Err(DecodeError::MissingField("0"))),
        (b"\x91\x01", Ok(TupDefault(1, 0))),
        (b"\x92\x01\x02", Ok(TupDefault(1, 2))),
        (b"\x93\x01\x02\x03", Ok(TupDefault(1, 2))),
    ];
    for (bytes, want) in cases {
        assert_eq!(codec::from_slice::<TupDefault>(bytes), want, "{bytes:02x?}");
    }
    assert_eq!(codec::to_vec(&TupDefault(1, 0)).unwrap(), b"\x92\x01\x00");

    /// Every field marked, one skipped (it takes no position), one without `Default` in
    /// front: the fields from the first marked one on may all be left out.
    #[derive(Debug, PartialEq, Decode)]
    struct Trailing(Level, #[codec(default)] u8, #[codec(skip)] u16, #[codec(default)] String);
    assert_eq!(codec::from_slice::<Trailing>(b"\x91\x09").unwrap(), Trailing(Level(9), 0, 0, String::new()));
    assert_eq!(codec::from_slice::<Trailing>(b"\x92\x09\x03").unwrap(), Trailing(Level(9), 3, 0, String::new()));
    assert_eq!(codec::from_slice::<Trailing>(b"\x93\x09\x03\xa1x").unwrap(), Trailing(Level(9), 3, 0, "x".into()));
    // A required field is required even when the type would say what a missing one is.
    assert_eq!(codec::from_slice::<Trailing>(b"\x90"), Err(DecodeError::MissingField("0")));

    #[derive(Debug, PartialEq, Encode, Decode)]
    struct AllDefault(#[codec(default)] u8, #[codec(default)] Option<u8>);
    assert_eq!(codec::from_slice::<AllDefault>(b"\x90").unwrap(), AllDefault(0, None));
    assert_eq!(codec::from_slice::<AllDefault>(b"\x91\x05").unwrap(), AllDefault(5, None));

    #[derive(Debug, PartialEq, Encode, Decode)]
    enum Command {
        Move(i8, #[codec(default)] i8),
    }
    for (bytes, want) in
        [(&b"\x81\xa4Move\x91\x01"[..], Command::Move(1, 0)), (b"\x81\xa4Move\x92\x01\xff", Command::Move(1, -1))]
    {
        assert_eq!(codec::from_slice::<Command>(bytes).unwrap(), want);
    }
    assert_eq!(codec::from_slice::<Command>(b"\x81\xa4Move\x90"), Err(DecodeError::MissingField("0")));
    assert_eq!(codec::to_vec(&Command::Move(1, 0)).unwrap(), b"\x81\xa4Move\x92\x01\x00");
}
