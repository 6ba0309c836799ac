//! `#[derive(Encode, Decode)]`: the msgp layout byte for byte (fixtures written from the
//! MessagePack spec for the Go hookr's `testdata/api` types), the same bytes as the
//! hand-written impls the derives replace, and how decoding treats what a peer may send.

use hookr_abi::codec::{self, Decode, DecodeError, Decoder, Encode, EncodeError, Encoder};

// ---------------------------------------------------------------------------------
// The Go hookr's `testdata/api` types, which tinylib/msgp generates code for:
//
//     type EchoRequest struct { Data string `msg:"data"` }
//     type HelloRequest struct { Msg string `msg:"msg"` }

#[derive(Debug, Clone, PartialEq, Encode, Decode)]
struct Echo {
    data: String,
}

#[derive(Debug, Clone, PartialEq, Encode, Decode)]
struct Hello {
    msg: String,
}

/// What msgp writes for a struct of one string field: a fixmap of one entry
/// (`0x81`), the field's tag as a fixstr (`0xa0 | len`, then its bytes), and the
/// string in its smallest form: fixstr up to 31 bytes, str 8 (`0xd9`, one length
/// byte) up to 255, str 16 (`0xda`, two bytes big-endian) up to 65 535.
fn msgp_one_string(tag: &str, value: &str) -> Vec<u8> {
    let mut out = vec![0x81, 0xa0 | tag.len() as u8];
    out.extend_from_slice(tag.as_bytes());
    let n = value.len();
    if n < 32 {
        out.push(0xa0 | n as u8);
    } else if n < 256 {
        out.extend_from_slice(&[0xd9, n as u8]);
    } else {
        out.extend_from_slice(&[0xda, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(value.as_bytes());
    out
}

#[test]
fn echo_and_hello_are_the_bytes_msgp_writes() {
    // Written out by hand for the common case.
    assert_eq!(codec::to_vec(&Echo { data: "Steve".into() }).unwrap(), b"\x81\xa4data\xa5Steve");
    assert_eq!(codec::to_vec(&Hello { msg: "Steve".into() }).unwrap(), b"\x81\xa3msg\xa5Steve");
    assert_eq!(codec::to_vec(&Echo { data: String::new() }).unwrap(), b"\x81\xa4data\xa0");
    // Every string form, at its edges.
    for n in [0, 1, 31, 32, 255, 256, 65_535] {
        let value = "x".repeat(n);
        let want = msgp_one_string("data", &value);
        assert_eq!(codec::to_vec(&Echo { data: value.clone() }).unwrap(), want, "{n} bytes");
        assert_eq!(codec::from_slice::<Echo>(&want).unwrap(), Echo { data: value.clone() });
        let want = msgp_one_string("msg", &value);
        assert_eq!(codec::to_vec(&Hello { msg: value.clone() }).unwrap(), want, "{n} bytes");
        assert_eq!(codec::from_slice::<Hello>(&want).unwrap(), Hello { msg: value });
    }
}

#[test]
fn decoding_reads_what_msgp_accepts() {
    // The array form, fields in declaration order.
    assert_eq!(codec::from_slice::<Echo>(b"\x91\xa5Steve").unwrap(), Echo { data: "Steve".into() });
    // Unknown fields skipped, whatever they hold, before and after the known one.
    let bytes = b"\x83\xa2id\x92\x01\xc4\x01\x00\xa4data\xa5Steve\xa4more\x81\xa1k\xcb\x00\x00\x00\x00\x00\x00\x00\x00";
    assert_eq!(codec::from_slice::<Echo>(bytes).unwrap(), Echo { data: "Steve".into() });
    // A field given twice: the last one counts, as in msgp's generated loop.
    assert_eq!(codec::from_slice::<Echo>(b"\x82\xa4data\xa1a\xa4data\xa1b").unwrap(), Echo { data: "b".into() });
    // Keys as bin, and the map and string headers in longer forms than needed.
    assert_eq!(
        codec::from_slice::<Echo>(b"\xde\x00\x01\xc4\x04data\xd9\x05Steve").unwrap(),
        Echo { data: "Steve".into() }
    );
    // A required field missing is an error naming it; so is the wrong type.
    assert_eq!(codec::from_slice::<Echo>(b"\x80"), Err(DecodeError::MissingField("data")));
    assert_eq!(codec::from_slice::<Echo>(b"\x81\xa3msg\xa1x"), Err(DecodeError::MissingField("data")));
    assert!(matches!(
        codec::from_slice::<Echo>(b"\x81\xa4data\x07"),
        Err(DecodeError::TypeMismatch { expected: "string", marker: 0x07, offset: 6 })
    ));
    assert!(matches!(codec::from_slice::<Echo>(b"\xa5Steve"), Err(DecodeError::TypeMismatch { expected: "map", .. })));
}

// ---------------------------------------------------------------------------------
// Every shape the derives take

/// Go: `type Reading struct { Sensor string; Celsius float64; Raw []byte; Count uint32;
/// Offset *int16; Tags []string }` with tags `msg:"sensor"`, … and `Offset` tagged
/// `msg:"off"`.
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
struct Reading {
    sensor: String,
    celsius: f64,
    raw: Vec<u8>,
    count: u32,
    #[codec(rename = "off")]
    offset: Option<i16>,
    tags: Vec<String>,
}

fn reading() -> Reading {
    Reading {
        sensor: "t1".into(),
        celsius: 21.5,
        raw: vec![1, 2],
        count: 300,
        offset: None,
        tags: vec!["a".into(), "bc".into()],
    }
}

/// `reading()` as msgp writes it: keys in declaration order, `[]byte` as bin 8, a nil
/// pointer as nil, `[]string` as an array.
const READING: &[u8] = b"\x86\xa6sensor\xa2t1\xa7celsius\xcb\x40\x35\x80\x00\x00\x00\x00\x00\xa3raw\xc4\x02\x01\x02\
\xa5count\xcd\x01\x2c\xa3off\xc0\xa4tags\x92\xa1a\xa2bc";

#[test]
fn fields_of_every_kind() {
    assert_eq!(codec::to_vec(&reading()).unwrap(), READING);
    assert_eq!(codec::from_slice::<Reading>(READING).unwrap(), reading());
    let with_offset = Reading { offset: Some(-3), ..reading() };
    let bytes = codec::to_vec(&with_offset).unwrap();
    assert_eq!(&bytes[bytes.len() - 15..bytes.len() - 11], b"off\xfd");
    assert_eq!(codec::from_slice::<Reading>(&bytes).unwrap(), with_offset);
    // An `Option` field may be missing altogether; byte fields read a str too.
    let sparse = b"\x85\xa6sensor\xa2t1\xa7celsius\x15\xa3raw\xa2\x01\x02\xa5count\xcd\x01\x2c\xa4tags\x90";
    let want = Reading { celsius: 21.0, tags: Vec::new(), ..reading() };
    assert_eq!(codec::from_slice::<Reading>(sparse).unwrap(), want);
}

#[derive(Debug, PartialEq, Default, Encode, Decode)]
struct Attrs {
    kept: u8,
    #[codec(skip)]
    cache: Vec<u32>,
    #[codec(default)]
    level: u32,
    r#type: bool,
}

#[test]
fn skip_default_and_raw_identifiers() {
    let a = Attrs { kept: 1, cache: vec![9], level: 0, r#type: true };
    let bytes = codec::to_vec(&a).unwrap();
    assert_eq!(bytes, b"\x83\xa4kept\x01\xa5level\x00\xa4type\xc3");
    assert_eq!(codec::from_slice::<Attrs>(&bytes).unwrap(), Attrs { cache: Vec::new(), ..a });
    assert_eq!(
        codec::from_slice::<Attrs>(b"\x82\xa4kept\x01\xa4type\xc2").unwrap(),
        Attrs { kept: 1, ..Attrs::default() }
    );
    // In the array form, skipped fields take no position.
    assert_eq!(
        codec::from_slice::<Attrs>(b"\x93\x01\x05\xc3").unwrap(),
        Attrs { kept: 1, level: 5, r#type: true, ..Default::default() }
    );
}

#[derive(Debug, PartialEq, Encode, Decode)]
struct Meters(f64);

#[derive(Debug, PartialEq, Encode, Decode)]
struct Pair(u8, String);

#[derive(Debug, PartialEq, Encode, Decode)]
struct Ping;

#[derive(Debug, PartialEq, Encode, Decode)]
struct Empty {}

#[derive(Debug, PartialEq, Encode, Decode)]
struct Wrapper<T> {
    inner: T,
    list: Vec<T>,
}

#[test]
fn newtypes_tuples_units_and_generics() {
    assert_eq!(codec::to_vec(&Meters(1.5)).unwrap(), b"\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00");
    assert_eq!(codec::from_slice::<Meters>(b"\x02").unwrap(), Meters(2.0));
    assert_eq!(codec::to_vec(&Pair(7, "x".into())).unwrap(), b"\x92\x07\xa1x");
    assert_eq!(codec::from_slice::<Pair>(b"\x93\x07\xa1x\xc0").unwrap(), Pair(7, "x".into()));
    assert_eq!(codec::from_slice::<Pair>(b"\x91\x07"), Err(DecodeError::MissingField("1")));
    // A unit struct is an empty struct, as Go's `struct{}` is: an empty map.
    assert_eq!(codec::to_vec(&Ping).unwrap(), b"\x80");
    assert_eq!(codec::to_vec(&Empty {}).unwrap(), b"\x80");
    assert_eq!(codec::from_slice::<Ping>(b"\x81\xa1a\x01").unwrap(), Ping);
    assert_eq!(codec::from_slice::<Empty>(b"\x90").unwrap(), Empty {});
    let w = Wrapper { inner: 1u16, list: vec![2, 3] };
    let bytes = codec::to_vec(&w).unwrap();
    assert_eq!(bytes, b"\x82\xa5inner\x01\xa4list\x92\x02\x03");
    assert_eq!(codec::from_slice::<Wrapper<u16>>(&bytes).unwrap(), w);
    // `Vec<u8>` is bin, whatever `T` is elsewhere.
    let bytes = codec::to_vec(&Wrapper { inner: 1u8, list: vec![2, 3] }).unwrap();
    assert_eq!(bytes, b"\x82\xa5inner\x01\xa4list\xc4\x02\x02\x03");
}

/// Sixteen fields: the map header takes its 16-bit form.
#[derive(Debug, PartialEq, Default, Encode, Decode)]
struct Wide {
    f0: u8,
    f1: u8,
    f2: u8,
    f3: u8,
    f4: u8,
    f5: u8,
    f6: u8,
    f7: u8,
    f8: u8,
    f9: u8,
    f10: u8,
    f11: u8,
    f12: u8,
    f13: u8,
    f14: u8,
    f15: u8,
}

#[test]
fn sixteen_fields_take_a_map_16() {
    let w = Wide { f15: 9, ..Default::default() };
    let bytes = codec::to_vec(&w).unwrap();
    assert_eq!(&bytes[..5], b"\xde\x00\x10\xa2f");
    assert_eq!(&bytes[bytes.len() - 5..], b"\xa3f15\x09");
    assert_eq!(codec::from_slice::<Wide>(&bytes).unwrap(), w);
}

/// Enums, laid out as serde and rmp-serde lay them out (externally tagged).
#[derive(Debug, Clone, PartialEq, Encode, Decode)]
enum Command {
    Stop,
    #[codec(rename = "go")]
    Go(u32),
    Move(i8, i8),
    Set {
        key: String,
        value: Option<u8>,
    },
}

#[test]
fn enums_are_a_name_or_a_map_of_one_entry() {
    let cases: [(Command, &[u8]); 4] = [
        (Command::Stop, b"\xa4Stop"),
        (Command::Go(3), b"\x81\xa2go\x03"),
        (Command::Move(1, -1), b"\x81\xa4Move\x92\x01\xff"),
        (Command::Set { key: "k".into(), value: None }, b"\x81\xa3Set\x82\xa3key\xa1k\xa5value\xc0"),
    ];
    for (value, bytes) in cases {
        assert_eq!(codec::to_vec(&value).unwrap(), bytes, "{value:?}");
        assert_eq!(codec::from_slice::<Command>(bytes).unwrap(), value);
    }
    // A unit variant as a map with a value (`{"Stop": nil}`) reads too.
    assert_eq!(codec::from_slice::<Command>(b"\x81\xa4Stop\xc0").unwrap(), Command::Stop);
    assert_eq!(codec::from_slice::<Command>(b"\xa4Halt"), Err(DecodeError::Invalid("unknown variant of `Command`")));
    assert_eq!(
        codec::from_slice::<Command>(b"\xa2go"),
        Err(DecodeError::Invalid("a variant of `Command` that needs a value came without one"))
    );
    assert!(matches!(
        codec::from_slice::<Command>(b"\x82\xa4Stop\xc0\xa2go\x01"),
        Err(DecodeError::TypeMismatch { .. })
    ));
}

/// Go's exported names, as msgp writes them without tags.
#[derive(Debug, PartialEq, Encode, Decode)]
#[codec(rename_all = "PascalCase")]
struct GoStyle {
    sensor_id: u8,
    #[codec(rename = "TS")]
    timestamp: u8,
}

#[derive(Debug, PartialEq, Encode, Decode)]
#[codec(rename_all = "snake_case")]
enum Kind {
    CelsiusHigh,
    #[codec(rename_all = "camelCase")]
    Stale {
        age_ms: u64,
    },
}

#[test]
fn rename_all_renames_what_rename_does_not() {
    let bytes = codec::to_vec(&GoStyle { sensor_id: 1, timestamp: 2 }).unwrap();
    assert_eq!(bytes, b"\x82\xa8SensorId\x01\xa2TS\x02");
    assert_eq!(codec::from_slice::<GoStyle>(&bytes).unwrap(), GoStyle { sensor_id: 1, timestamp: 2 });
    assert_eq!(codec::to_vec(&Kind::CelsiusHigh).unwrap(), [&b"\xac"[..], b"celsius_high"].concat());
    let bytes = codec::to_vec(&Kind::Stale { age_ms: 5 }).unwrap();
    assert_eq!(bytes, b"\x81\xa5stale\x81\xa5ageMs\x05");
    assert_eq!(codec::from_slice::<Kind>(&bytes).unwrap(), Kind::Stale { age_ms: 5 });
}

/// An enum without variants: nothing encodes, nothing decodes.
#[derive(Debug, Encode, Decode)]
enum Never {}

#[test]
fn an_enum_without_variants_decodes_nothing() {
    assert_eq!(codec::from_slice::<Never>(b"\xa1A").unwrap_err(), DecodeError::Invalid("unknown variant of `Never`"));
}

#[test]
fn hostile_input_is_an_error_not_a_panic() {
    for bytes in [
        &b""[..],
        b"\x81",
        b"\x81\xa4data",
        b"\x81\xa4dat",
        b"\x8f",
        b"\xdf\xff\xff\xff\xff",
        b"\x86\xa6sensor\xa2t1",
        b"\x81\xa4tags\xdd\xff\xff\xff\xff",
        b"\x81\xa4data\xdb\xff\xff\xff\xff",
    ] {
        assert!(codec::from_slice::<Reading>(bytes).is_err(), "{bytes:02x?}");
        assert!(codec::from_slice::<Echo>(bytes).is_err(), "{bytes:02x?}");
    }
}

// ---------------------------------------------------------------------------------
// The same bytes as the hand-written impls the derives replaced

/// The hand-written impls `simple`'s messages had, for comparison.
mod hand {
    use super::*;

    pub struct Echo(pub String);

    impl Encode for Echo {
        fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
            e.map_len(1)?;
            e.str("data")?;
            e.str(&self.0)
        }
    }

    impl Decode for Echo {
        fn decode(d: &mut Decoder<'_>) -> Result<Self, DecodeError> {
            let mut value = None;
            d.fields(&["data"], |d, field| {
                match field {
                    Some(0) => value = Some(d.string()?),
                    _ => d.skip()?,
                }
                Ok(())
            })?;
            value.map(Echo).ok_or(DecodeError::MissingField("data"))
        }
    }

    /// The sensor plugin's `Alert` and `Report` encoders, and the firmware's decoders.
    pub struct Alert {
        pub sensor: String,
        pub kind: String,
        pub value: f64,
        pub limit: Option<f64>,
    }

    impl Encode for Alert {
        fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
            e.map_len(4)?;
            e.str("sensor")?;
            e.str(&self.sensor)?;
            e.str("kind")?;
            e.str(&self.kind)?;
            e.str("value")?;
            e.f64(self.value)?;
            e.str("limit")?;
            e.value(&self.limit)
        }
    }

    pub struct Report {
        pub checked: usize,
        pub alerts: Vec<Alert>,
    }

    impl Encode for Report {
        fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
            e.map_len(3)?;
            e.str("ok")?;
            e.bool(self.alerts.is_empty())?;
            e.str("checked")?;
            e.uint(self.checked as u64)?;
            e.str("alerts")?;
            e.array_len(self.alerts.len())?;
            for alert in &self.alerts {
                alert.encode(e)?;
            }
            Ok(())
        }
    }

    /// The sensor plugin's `Limits` encoder.
    pub struct Limits(pub [f64; 4], pub [u64; 2]);

    impl Encode for Limits {
        fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
            e.map_len(6)?;
            for (name, v) in ["min_celsius", "max_celsius", "min_humidity", "max_humidity"].iter().zip(self.0) {
                e.str(name)?;
                e.f64(v)?;
            }
            for (name, v) in ["max_age_ms", "max_skew_ms"].iter().zip(self.1) {
                e.str(name)?;
                e.uint(v)?;
            }
            Ok(())
        }
    }

    /// The firmware's `Reading` encoder and the sensor plugin's `NowRequest`.
    pub struct Reading {
        pub sensor: &'static str,
        pub celsius: f64,
        pub humidity: f64,
        pub timestamp_ms: u64,
    }

    impl Encode for Reading {
        fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
            e.map_len(4)?;
            e.str("sensor")?;
            e.str(self.sensor)?;
            e.str("celsius")?;
            e.f64(self.celsius)?;
            e.str("humidity")?;
            e.f64(self.humidity)?;
            e.str("timestamp_ms")?;
            e.uint(self.timestamp_ms)
        }
    }

    pub struct NowRequest;

    impl Encode for NowRequest {
        fn encode(&self, e: &mut Encoder<'_>) -> Result<(), EncodeError> {
            e.map_len(0)
        }
    }
}

/// The sensor's types, derived as the plugin and the firmware now derive them.
mod derived {
    use super::*;

    #[derive(Debug, PartialEq, Encode, Decode)]
    pub struct Alert {
        pub sensor: String,
        pub kind: String,
        pub value: f64,
        pub limit: Option<f64>,
    }

    #[derive(Debug, PartialEq, Encode, Decode)]
    pub struct Report {
        pub ok: bool,
        pub checked: u64,
        pub alerts: Vec<Alert>,
    }

    #[derive(Debug, PartialEq, Encode, Decode)]
    pub struct Limits {
        pub min_celsius: f64,
        pub max_celsius: f64,
        pub min_humidity: f64,
        pub max_humidity: f64,
        pub max_age_ms: u64,
        pub max_skew_ms: u64,
    }

    #[derive(Encode)]
    pub struct Reading {
        pub sensor: &'static str,
        pub celsius: f64,
        pub humidity: f64,
        pub timestamp_ms: u64,
    }

    #[derive(Encode, Decode)]
    pub struct NowRequest {}
}

#[test]
fn derived_impls_write_what_the_hand_written_ones_wrote() {
    let strings = ["", "Steve", "é", &"long ".repeat(10), &"longer ".repeat(40)];
    for s in strings {
        let want = codec::to_vec(&hand::Echo(s.to_string())).unwrap();
        assert_eq!(codec::to_vec(&Echo { data: s.to_string() }).unwrap(), want);
        assert_eq!(codec::from_slice::<Echo>(&want).unwrap().data, s);
        assert_eq!(codec::from_slice::<hand::Echo>(&want).unwrap().0, s);
    }
    let floats = [0.0, -40.5, 85.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300];
    for (i, &value) in floats.iter().enumerate() {
        for alerts in [0, 1, 3, 16] {
            let limit = (i % 2 == 0).then_some(value / 2.0);
            let make_hand =
                |n: usize| hand::Alert { sensor: strings[n % 5].into(), kind: "celsius_high".into(), value, limit };
            let make_derived =
                |n: usize| derived::Alert { sensor: strings[n % 5].into(), kind: "celsius_high".into(), value, limit };
            let hand = hand::Report { checked: alerts * 7, alerts: (0..alerts).map(make_hand).collect() };
            let derived = derived::Report {
                ok: alerts == 0,
                checked: (alerts * 7) as u64,
                alerts: (0..alerts).map(make_derived).collect(),
            };
            let want = codec::to_vec(&hand).unwrap();
            assert_eq!(codec::to_vec(&derived).unwrap(), want, "{alerts} alerts of {value}");
            let back = codec::from_slice::<derived::Report>(&want).unwrap();
            assert_eq!(back.alerts.len(), alerts);
            assert_eq!(codec::to_vec(&back).unwrap(), want);
        }
        let hand = hand::Limits([value, -value, 0.5, 99.5], [i as u64, u64::MAX - i as u64]);
        let derived = derived::Limits {
            min_celsius: value,
            max_celsius: -value,
            min_humidity: 0.5,
            max_humidity: 99.5,
            max_age_ms: i as u64,
            max_skew_ms: u64::MAX - i as u64,
        };
        assert_eq!(codec::to_vec(&derived).unwrap(), codec::to_vec(&hand).unwrap());
        let reading = |sensor| (sensor, value, 100.0 - value, 1_700_000_000_000 + i as u64);
        let (sensor, celsius, humidity, timestamp_ms) = reading("greenhouse");
        assert_eq!(
            codec::to_vec(&derived::Reading { sensor, celsius, humidity, timestamp_ms }).unwrap(),
            codec::to_vec(&hand::Reading { sensor, celsius, humidity, timestamp_ms }).unwrap()
        );
    }
    assert_eq!(codec::to_vec(&derived::NowRequest {}).unwrap(), codec::to_vec(&hand::NowRequest).unwrap());
}

/// Types that hold themselves: through a `Vec`, and through an `Option<Box<…>>`.
#[derive(Debug, PartialEq, Encode, Decode)]
struct Tree {
    children: Vec<Tree>,
}

#[derive(Debug, PartialEq, Encode, Decode)]
struct Chain {
    next: Option<Box<Chain>>,
}

#[test]
fn nesting_past_the_depth_limit_is_an_error_not_a_stack_overflow() {
    // Each level of `Tree` in array form is `0x91 0x91`: the struct's one field, then
    // the `Vec` of one child. 200 000 bytes would take far more stack than a thread has.
    let mut hostile = vec![0x91u8; 200_000];
    hostile.push(0x90);
    assert_eq!(codec::from_slice::<Tree>(&hostile), Err(DecodeError::TooDeep));
    // `Chain` in array form: `0x91` per level, ending in nil.
    let mut hostile = vec![0x91u8; 200_000];
    hostile.push(0xc0);
    assert_eq!(codec::from_slice::<Chain>(&hostile), Err(DecodeError::TooDeep));
    // The same shapes within the limit decode, and round-trip.
    let mut tree = Tree { children: Vec::new() };
    for _ in 0..codec::MAX_DEPTH - 1 {
        tree = Tree { children: vec![tree] };
    }
    assert_eq!(codec::from_slice::<Tree>(&codec::to_vec(&tree).unwrap()).unwrap(), tree);
    let deeper = Tree { children: vec![tree] };
    assert_eq!(codec::from_slice::<Tree>(&codec::to_vec(&deeper).unwrap()), Err(DecodeError::TooDeep));
    let mut chain = Chain { next: None };
    for _ in 0..codec::MAX_DEPTH {
        chain = Chain { next: Some(Box::new(chain)) };
    }
    assert_eq!(codec::from_slice::<Chain>(&codec::to_vec(&chain).unwrap()).unwrap(), chain);
    // Wide is not deep: siblings do not add up.
    let wide = Tree { children: (0..1000).map(|_| Tree { children: vec![Tree { children: Vec::new() }] }).collect() };
    assert_eq!(codec::from_slice::<Tree>(&codec::to_vec(&wide).unwrap()).unwrap(), wide);
}
